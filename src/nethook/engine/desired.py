"""Where desired state comes from: the configuration and the distro files it imports.

(The pre-event snapshot joins in :func:`nethook.engine.run.desired_for`.)
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from nethook.base.context import RunContext
from nethook.config.load import Config, discover, load
from nethook.config.rt_tables import RouteTables, load_tables

log = logging.getLogger(__name__)


def load_config(ctx: RunContext, *, imports: bool = True) -> Config:
    """Read the configuration under the context's root, and (``imports``) what it imports.

    ConfigError on any invalid configuration file, and on any imported file that exists
    but cannot be read. A distro file nethook cannot understand, and a conflict between
    two sources, are logged as warnings and leave the rest in place.
    """
    tables = load_tables(ctx.root)
    config = load(discover(ctx.root, ctx.config), tables)
    return with_imports(ctx.root, config, tables) if imports else config


def with_imports(root: Path, config: Config, tables: RouteTables) -> Config:
    """``config`` with the objects of every distro source it selects added."""
    from nethook import importers

    names = importers.selected(config.imports, root)
    if not names:
        return config
    found = importers.read(names, root, tables)
    desired, _kept, conflicts = importers.combine(config.desired, found)
    for problem in (*importers.problems(found), *conflicts):
        log.warning("%s", problem)
    files = config.files + tuple(path for source in found for path in source.files)
    return dataclasses.replace(config, desired=desired, files=files)

"""The one assembly of desired state: what should exist, for one interface or for all.

Every verb and entry point calls :func:`assemble` once per run: ``status``, ``plan``,
``apply``, ``replay``, every hook, the watcher, ``doctor``, ``services-check``, ``check``
and ``metrics``. Three parts, each object carrying its origin:

* nethook's configuration (``/etc/nethook``), file and line;
* the distro files it imports (``import:``), file and line;
* the interface's pending snapshot (taken just before a removal, not restored yet),
  ``snapshot REASON TIME``.

Where two parts claim the same kernel object, the configuration wins over the imports,
and both over the snapshot. An invalid configuration or an unreadable ``rt_tables``
(``config_error``) leaves nothing declared; an imported file that cannot be read
(``import_error``) leaves the configuration's own objects and nothing imported. The
command-line verbs refuse either to act on it (exit 2), a hook still
restores the snapshot and removes nothing. A snapshot that cannot be read is left out
and reported in ``snapshot_errors``; the rest stands.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Dict, FrozenSet, Optional, Tuple, Union

from nethook.base.context import RunContext
from nethook.base.errors import ConfigError, StateError
from nethook.config.imports import IMPORT_AUTO
from nethook.config.load import Config, discover, load
from nethook.config.rt_tables import RouteTables, load_tables
from nethook.engine import declared_cache, snapshot_file
from nethook.engine.declared_cache import Parsed, Reading
from nethook.model.objects import Desired

if TYPE_CHECKING:  # the importers load only when a distro source is read
    from nethook.importers.base import Imported, Problem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Assembly:
    """Everything that should exist in a scope, and where each part came from."""

    scope: Optional[str]  # one interface, or None: every interface nethook keeps
    config: Config = field(default_factory=Config)  # Config() when it is invalid
    config_error: Optional[ConfigError] = None  # nethook's own files, or rt_tables
    import_error: Optional[ConfigError] = None  # an imported file that cannot be read
    tables: RouteTables = field(default_factory=RouteTables.builtin)
    imported: Tuple[Imported, ...] = ()
    problems: Tuple[Problem, ...] = ()  # imported lines not taken, and conflicts
    declared: Desired = field(default_factory=Desired)  # configuration and imports
    snapshots: Mapping[str, Desired] = field(
        default_factory=lambda: MappingProxyType({}))
    snapshot_errors: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}))

    @property
    def desired(self) -> Desired:
        """What a run restores: declared state, then every pending snapshot in scope."""
        state = self.declared
        for name in sorted(self.snapshots):
            state = state.merged(self.snapshots[name])
        return state

    @property
    def interfaces(self) -> FrozenSet[str]:
        return frozenset(self.declared.interfaces | set(self.snapshots))

    def snapshot_of(self, ifname: str) -> Optional[Desired]:
        return self.snapshots.get(ifname)

    @property
    def error(self) -> Optional[ConfigError]:
        """Why nothing is declared, if something is wrong: the configuration first."""
        return self.config_error or self.import_error

    def require_valid(self) -> None:
        """What the command-line verbs call: an invalid configuration stops them."""
        if self.error is not None:
            raise self.error

    def scoped(self, ifname: str) -> Assembly:
        """The same assembly narrowed to one interface (nothing is read again)."""
        return dataclasses.replace(
            self, scope=ifname, declared=self.declared.scoped(ifname),
            snapshots=MappingProxyType(
                {n: s for n, s in self.snapshots.items() if n == ifname}),
            snapshot_errors=MappingProxyType(
                {n: e for n, e in self.snapshot_errors.items() if n == ifname}))


def assemble(ctx: RunContext, scope: Optional[str] = None, *,
             base: Optional[Assembly] = None, consumed_too: bool = False,
             imports: bool = True) -> Assembly:
    """What should exist for ``scope`` (an interface name, or None for all).

    ``base``: an assembly already made (the watcher's, read at start and on SIGHUP):
    its configuration and imports are used as they are, and only the snapshots are
    read again. ``consumed_too`` (``nethook replay``): an interface whose snapshot was
    restored already gets that one back. ``imports=False``: the configuration alone, for
    a snapshot, which needs only its settings.
    """
    declared = base if base is not None else _declared(ctx, imports)
    if scope is not None:
        declared = declared.scoped(scope)
    names = ({scope} if scope is not None
             else set(declared.declared.interfaces) | snapshot_file.pending_names(ctx.run_dir))
    taken: Dict[str, Desired] = {}
    errors: Dict[str, str] = {}
    for name in sorted(names):
        if not declared.config.snapshot_enabled(name):
            continue
        try:
            state = snapshot_file.load(ctx.run_dir, name, consumed_too)
        except StateError as exc:
            errors[name] = str(exc)
            log.error("%s: %s; the snapshot is left out, the declared state stands",
                      name, exc)
            continue
        if state is not None and state.objects():
            taken[name] = state
    return dataclasses.replace(declared, scope=scope, snapshots=MappingProxyType(taken),
                               snapshot_errors=MappingProxyType(errors))


def _declared(ctx: RunContext, imports: bool = True) -> Assembly:
    """The configuration and (``imports``) what it imports, for every interface."""
    read = _parsed(ctx)
    if isinstance(read, Assembly):
        return read
    parsed, reading = read
    config, tables = parsed.config, parsed.tables
    auto = config.imports == (IMPORT_AUTO,)
    try:
        if not imports:
            names: Tuple[str, ...] = ()
        elif auto and parsed.present is not None:
            names = parsed.present
        else:
            from nethook import importers

            if auto and reading is None:  # cached by a run that needed no imports
                reading = Reading(ctx)
            names = tuple(importers.selected(config.imports, ctx.root))
            if auto:
                parsed = dataclasses.replace(parsed, present=names)
        if reading is not None:
            reading.save(parsed)
        if not names:
            return Assembly(None, config=config, tables=tables, declared=config.desired)
        from nethook import importers

        found = tuple(importers.read(names, ctx.root, tables))
    except ConfigError as exc:  # an imported file exists but cannot be read
        # the configuration's own objects still count for a hook; the verbs refuse
        return Assembly(None, config=config, import_error=exc, tables=tables,
                        declared=config.desired)
    declared, _kept, conflicts = importers.combine(config.desired, found)
    problems = (*importers.problems(found), *conflicts)
    for problem in problems:
        log.warning("%s", problem)
    return Assembly(None, config=config, tables=tables, imported=found, problems=problems,
                    declared=declared)


def _parsed(ctx: RunContext) -> Union[Assembly, Tuple[Parsed, Optional[Reading]]]:
    """nethook's own files as cached, or as read now (with what :meth:`Reading.save`
    needs to cache them); an Assembly with the error when they are invalid."""
    cached = declared_cache.load(ctx)
    if cached is not None:
        return cached, None
    reading = Reading(ctx)
    try:
        tables = load_tables(ctx.root)
    except ConfigError as exc:
        return Assembly(None, config_error=exc)
    try:
        config = load(discover(ctx.root, ctx.config), tables)
    except ConfigError as exc:
        return Assembly(None, config_error=exc, tables=tables)
    return Parsed(config, tables), reading

"""What the checks share: the run's options, the live port, and the files under the root,
each read once and only when a check asks for it.

Files are read with the importers' own readers (file:line provenance, shell-syntax files
split as data). A file that exists but cannot be read raises ``ConfigError``; the check
that needed it is then reported as one that could not run, never as one that found
nothing. An invalid nethook configuration is not such a failure: it is a finding of its
own, and the other checks go on with what the distro files declare.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import FrozenSet, List, Optional, Tuple

from nethook.base.context import RunContext
from nethook.base.errors import ConfigError
from nethook.base.files import entry_names
from nethook.config.load import Config
from nethook.config.rt_tables import RouteTables, load_tables
from nethook.doctor.live import Live
from nethook.engine.desired import Assembly, assemble
from nethook.importers import shellvars
from nethook.importers.base import (  # the importers' careful readers
    Collector,
    Imported,
    Problem,
    exists,
    is_backup,
    is_file,
    read_text,
)
from nethook.importers.ifcfg import DIRECTORY as NETWORK_SCRIPTS
from nethook.importers.ifupdown_files import INTERFACES, Reader, Stanza
from nethook.model.objects import Desired


@dataclass(frozen=True)
class Owner:
    """Who counts as root for the ownership of hooks and state directories. Always 0:0 on a
    real system; tests that run unprivileged on fixture trees give their own ids."""

    uid: int = 0
    gid: int = 0


ROOT = Owner()


@dataclass(frozen=True)
class ShellFile:
    """One ``KEY=VALUE`` file (an ifcfg file) read as data."""

    path: Path
    variables: shellvars.ShellVars

    @property
    def name(self) -> str:
        return self.path.name


class Inspection:
    """One doctor run's view of the machine; checks read everything through it."""

    def __init__(self, ctx: RunContext, live: Live, now: datetime,
                 owner: Owner = ROOT) -> None:
        self.ctx = ctx
        self.live = live
        self.now = now
        self.owner = owner

    @property
    def root(self) -> Path:
        return self.ctx.root

    def path(self, relative: str) -> Path:
        return self.root / relative

    def text(self, relative: str) -> Optional[str]:
        """A file's text under the root; None when it is not there. A file that is there but
        cannot be read (a loop of links, a directory, an I/O error) raises ConfigError."""
        path = self.path(relative)
        return read_text(path) if exists(path) else None

    # -- routing tables and nethook's own configuration ------------------------------------

    @cached_property
    def _tables(self) -> Tuple[RouteTables, Optional[ConfigError]]:
        try:
            return load_tables(self.root), None
        except ConfigError as exc:
            return RouteTables.builtin(), exc

    @property
    def tables(self) -> RouteTables:
        """The table names ``ip`` knows; only the built-in ones when rt_tables is broken."""
        return self._tables[0]

    @property
    def tables_error(self) -> Optional[ConfigError]:
        return self._tables[1]

    @cached_property
    def assembly(self) -> Assembly:
        """What nethook keeps, exactly as a hook or ``nethook status`` assembles it."""
        return assemble(self.ctx)

    @property
    def config(self) -> Optional[Config]:
        return self.assembly.config if self.assembly.config_error is None else None

    @property
    def config_error(self) -> Optional[ConfigError]:
        """The configuration's error; an unreadable rt_tables is the policy check's."""
        error = self.assembly.config_error
        if error is not None and self.tables_error is not None \
                and error.source == self.tables_error.source:
            return None
        return error

    @property
    def imported(self) -> Tuple[Imported, ...]:
        return self._unless_unreadable().imported

    @property
    def desired(self) -> Desired:
        """What nethook keeps: its configuration, the imports and pending snapshots."""
        return self._unless_unreadable().desired

    @property
    def import_problems(self) -> Tuple[Problem, ...]:
        return self._unless_unreadable().problems

    def _unless_unreadable(self) -> Assembly:
        """An imported file that cannot be read: the checks that need what the files
        declare could not run (never "nothing is declared")."""
        if self.assembly.import_error is not None:
            raise self.assembly.import_error
        return self.assembly

    # -- the distro's own files ------------------------------------------------------------

    @cached_property
    def stanzas(self) -> List[Stanza]:
        """Every stanza of /etc/network/interfaces and what it sources; none without it."""
        if not exists(self.path(INTERFACES)):
            return []
        reader = Reader(self.root, Collector("doctor"))
        reader.read(self.path(INTERFACES))
        return reader.stanzas

    @cached_property
    def ifcfg_files(self) -> List[ShellFile]:
        """Every ``ifcfg-*`` in network-scripts, backups and alias files included."""
        directory = self.path(NETWORK_SCRIPTS)
        found = []
        for name in entry_names(directory):
            path = directory / name
            text = read_text(path) if name.startswith("ifcfg-") and is_file(path) else None
            if text is not None:
                found.append(ShellFile(path, shellvars.parse(text, str(path))[0]))
        return found

    @cached_property
    def dhcp_interfaces(self) -> FrozenSet[str]:
        """Interfaces the distro files configure by DHCP (ifupdown, network-scripts)."""
        names = {s.name.split(":")[0] for s in self.stanzas
                 if s.family == "inet" and s.method in ("dhcp", "bootp")}
        for ifcfg in self.ifcfg_files:
            if is_backup(ifcfg.name) or ".nethook-" in ifcfg.name:
                continue
            if (ifcfg.variables.get("BOOTPROTO") or "").lower() in ("dhcp", "bootp"):
                names.add(ifcfg.variables.get("DEVICE") or ifcfg.name[len("ifcfg-"):])
        return frozenset(names)

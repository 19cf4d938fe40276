"""What the watcher keeps, per interface, held in memory and indexed by kernel identity.

The same state a hook would restore (``engine.desired.assemble``: declared, imported,
and the pending snapshot), for every interface the configuration names or that has a
snapshot. Built at start and on SIGHUP from the assembly then made; an interface's part
is rebuilt whenever its snapshot may have changed (taken, or consumed by a restore).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from nethook.base.context import RunContext
from nethook.engine.desired import Assembly, assemble
from nethook.engine.snapshot_file import pending_names, snapshot_dir
from nethook.model.objects import Address, Desired, KernelObject, Route, Rule

log = logging.getLogger(__name__)


def snapshot_stamp(run_dir: Path) -> int:
    """Changes whenever a snapshot is written or consumed (both rename in the folder)."""
    try:
        return snapshot_dir(run_dir).stat().st_mtime_ns
    except OSError:
        return 0


class Kept:
    def __init__(self, ctx: RunContext, assembly: Assembly) -> None:
        self.ctx = ctx
        self.assembly = assembly
        self.by_interface: Dict[str, Desired] = {}
        self._addresses: Dict[Tuple[object, ...], Tuple[str, Address]] = {}
        self._routes: Dict[Tuple[object, ...], Tuple[str, Route]] = {}
        self._rules: List[Tuple[str, Rule]] = []
        self.stamp = 0
        self.rebuild()

    def rebuild(self) -> None:
        """Every interface afresh (start, reload, or snapshots changed behind our back)."""
        self.stamp = snapshot_stamp(self.ctx.run_dir)
        names = set(self.assembly.declared.interfaces) | pending_names(self.ctx.run_dir)
        self.by_interface = {name: self._load(name) for name in sorted(names)}
        self._index()

    def refresh(self, ifname: str) -> None:
        """One interface afresh: its snapshot was taken or consumed."""
        self.stamp = snapshot_stamp(self.ctx.run_dir)
        state = self._load(ifname)
        if state.objects():
            self.by_interface[ifname] = state
        else:
            self.by_interface.pop(ifname, None)
        self._index()

    def refresh_if_changed(self) -> bool:
        """A hook that found no watcher may have written a snapshot: catch up."""
        if snapshot_stamp(self.ctx.run_dir) == self.stamp:
            return False
        self.rebuild()
        return True

    def _load(self, ifname: str) -> Desired:
        return assemble(self.ctx, ifname, base=self.assembly).desired

    def _index(self) -> None:
        self._addresses = {}
        self._routes = {}
        self._rules = []
        for ifname, state in self.by_interface.items():
            for address in state.addresses:
                self._addresses[address.key] = (ifname, address)
            for route in state.routes:
                self._routes[route.key] = (ifname, route)
            self._rules.extend((ifname, rule) for rule in state.rules)

    def objects(self) -> Iterator[KernelObject]:
        for state in self.by_interface.values():
            yield from state.objects()

    def keeps(self, ifname: str) -> bool:
        return ifname in self.by_interface

    def keeps_routes(self, ifname: str) -> bool:
        state = self.by_interface.get(ifname)
        return bool(state and state.routes)

    def owner_of_address(self, address: Address) -> Optional[Tuple[str, KernelObject]]:
        return self._addresses.get(address.key)

    def owner_of_route(self, route: Route) -> Optional[Tuple[str, KernelObject]]:
        return self._routes.get(route.key)

    def owner_of_rule(self, rule: Rule) -> Optional[Tuple[str, KernelObject]]:
        for ifname, kept in self._rules:
            if kept.satisfied_by(rule):
                return ifname, kept
        return None

    def summary(self) -> Dict[str, int]:
        return {name: len(state.objects()) for name, state in self.by_interface.items()}

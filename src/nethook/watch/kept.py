"""What the watcher keeps, per interface, held in memory and indexed by kernel identity.

The same state a hook would restore (``hook.desired_parts``: declared, imported, and the
fresh snapshot), for every interface the configuration names or that has a snapshot.
Built at start and on SIGHUP from the configuration then loaded; an interface's part is
rebuilt whenever its snapshot may have changed (taken, or consumed by a restore).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, FrozenSet, Iterator, List, Optional, Tuple

from nethook.base.context import RunContext
from nethook.base.errors import StateError
from nethook.config.load import Config
from nethook.engine.run import desired_parts
from nethook.engine.snapshot import snapshot_path
from nethook.model.objects import Address, Desired, KernelObject, Route, Rule

log = logging.getLogger(__name__)


def snapshot_names(run_dir: Path) -> FrozenSet[str]:
    folder = snapshot_path(run_dir, "x").parent
    try:
        return frozenset(p.stem for p in folder.glob("*.json") if p.is_file())
    except OSError:
        return frozenset()


def snapshot_stamp(run_dir: Path) -> int:
    """Changes whenever a snapshot is written or consumed (both rename in the folder)."""
    try:
        return snapshot_path(run_dir, "x").parent.stat().st_mtime_ns
    except OSError:
        return 0


class Kept:
    def __init__(self, ctx: RunContext, config: Config) -> None:
        self.ctx = ctx
        self.config = config
        self.by_interface: Dict[str, Desired] = {}
        self._addresses: Dict[Tuple[object, ...], Tuple[str, Address]] = {}
        self._routes: Dict[Tuple[object, ...], Tuple[str, Route]] = {}
        self._rules: List[Tuple[str, Rule]] = []
        self.stamp = 0
        self.rebuild()

    def rebuild(self) -> None:
        """Every interface afresh (start, reload, or snapshots changed behind our back)."""
        self.stamp = snapshot_stamp(self.ctx.run_dir)
        names = set(self.config.desired.interfaces) | snapshot_names(self.ctx.run_dir)
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
        try:
            declared, taken = desired_parts(self.ctx, ifname, self.config)
        except StateError as exc:  # a corrupt snapshot: what is declared still counts
            log.error("%s: %s; keeping what is declared only", ifname, exc)
            return self.config.desired.scoped(ifname)
        return declared if taken is None else declared.merged(taken)

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

"""Importers: the distro's own network files, read so existing servers need no new config.

Three sources, each a module with ``present(root)`` and ``read(root, tables)``:

* ``ifcfg``: RHEL/CentOS ``/etc/sysconfig/network-scripts`` (:mod:`.ifcfg`);
* ``ifupdown``: Debian ``/etc/network/interfaces`` and what it sources (:mod:`.ifupdown`);
* ``netplan``: ``/etc/netplan/*.yaml``, for interfaces that also use DHCP (:mod:`.netplan`).

The configuration's ``import`` key chooses them (``auto``: every source whose files
exist). Modules load only when chosen; importing this package does nothing.

Imported objects join the declared state by :func:`combine`. Two objects that are equal
are one (the first copy, and its origin, is kept). Two that claim the same kernel object
differently (one address with two prefixes or labels on an interface, one route key with
two gateways) conflict: the conflict is reported with both locations, and the first one
wins: nethook's own configuration over every import, then the sources in the order the
configuration lists them (``auto``: ifcfg, ifupdown, netplan), then the order each
source's own tools apply their files.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib import import_module
from pathlib import Path
from typing import Dict, List, Protocol, Set, Tuple, cast

from nethook.config.imports import IMPORT_AUTO, IMPORT_SOURCES
from nethook.config.imports import PRESENCE as PRESENCE
from nethook.config.rt_tables import RouteTables
from nethook.importers.base import Imported, Problem
from nethook.model.objects import Address, Desired, KernelObject, Route, Rule

MODULES: Dict[str, str] = {name: f"nethook.importers.{name}" for name in IMPORT_SOURCES}


class _Source(Protocol):
    def present(self, root: Path) -> bool: ...

    def read(self, root: Path, tables: RouteTables) -> Imported: ...


def source(name: str) -> _Source:
    return cast(_Source, import_module(MODULES[name]))


def selected(choice: Sequence[str], root: Path) -> List[str]:
    """The sources to read: those named, or (``auto``) every one whose files exist."""
    if tuple(choice) == (IMPORT_AUTO,):
        return [name for name in IMPORT_SOURCES if source(name).present(root)]
    return list(choice)


def read(names: Iterable[str], root: Path, tables: RouteTables) -> List[Imported]:
    """Every chosen source, in order. A file that cannot be read raises ConfigError."""
    return [source(name).read(root, tables) for name in names]


class _Combiner:
    """Adds objects in order; the first claim on a kernel object wins."""

    def __init__(self) -> None:
        self.claims: Dict[Tuple[object, ...], KernelObject] = {}
        self.rules: Dict[Rule, Rule] = {}
        self.declared: Set[Tuple[object, ...]] = set()  # claims nethook's own files made
        self.conflicts: List[Problem] = []

    def add(self, obj: KernelObject, declared: bool = False) -> bool:
        """Whether ``obj`` is in the state now (itself or an equal copy)."""
        if isinstance(obj, Rule):
            self.rules.setdefault(obj, obj)
            return True
        key: Tuple[object, ...] = (("address", obj.ifname, obj.interface.ip)
                                   if isinstance(obj, Address) else ("route", *obj.key))
        first = self.claims.setdefault(key, obj)
        if declared:
            self.declared.add(key)
        if first == obj:
            return True
        winner = ("nethook's configuration wins" if key in self.declared
                  else "the first one wins")
        assert obj.origin is not None
        self.conflicts.append(Problem(obj.origin, f"{_kind(obj)} {obj.describe()} conflicts "
                                                  f"with {first.describe()} from "
                                                  f"{first.origin}; {winner}"))
        return False

    def desired(self) -> Desired:
        claimed = self.claims.values()
        return Desired(frozenset(a for a in claimed if isinstance(a, Address)),
                       frozenset(r for r in claimed if isinstance(r, Route)),
                       frozenset(self.rules))


def _kind(obj: KernelObject) -> str:
    return type(obj).__name__.lower()


def combine(declared: Desired, imported: Sequence[Imported]
            ) -> Tuple[Desired, Tuple[KernelObject, ...], Tuple[Problem, ...]]:
    """The declared state with the imported objects added, and the conflicts met.

    Returns the merged state, the imported objects that made it in (in reading order),
    and one problem per object left out.
    """
    combiner = _Combiner()
    for obj in declared.objects():
        combiner.add(obj, declared=True)
    kept = [obj for found in imported for obj in found.objects if combiner.add(obj)]
    return combiner.desired(), _unique(kept), tuple(combiner.conflicts)


def _unique(objects: Sequence[KernelObject]) -> Tuple[KernelObject, ...]:
    seen: Dict[KernelObject, None] = {}
    for obj in objects:
        seen.setdefault(obj, None)
    return tuple(seen)


def problems(imported: Sequence[Imported]) -> Tuple[Problem, ...]:
    return tuple(p for found in imported for p in found.problems)


__all__ = ["Imported", "Problem", "combine", "problems", "read", "selected", "source"]

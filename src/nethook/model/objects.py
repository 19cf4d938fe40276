"""The one model of network state nethook reasons about: addresses, routes and rules.

Every object is an immutable value normalised in its factory. Each type has a ``key``:
what the kernel considers the same object. Two objects with the same key but other
attributes are the same kernel object in a different shape.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import FrozenSet, Optional, Tuple, Union

IPInterface = Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

MAIN_TABLE = 254
IFNAME_MAX = 15  # IFNAMSIZ - 1; also the limit for IPv4 address labels


@dataclass(frozen=True)
class Origin:
    """Where a desired object comes from: a file and line (nethook's configuration or a
    distro file it imports), or the pre-event snapshot of an interface.

    The difference decides ownership: nethook may later remove what it added from a
    file once no file declares it any more, never what it put back from a snapshot,
    which was the administrator's own state.
    """

    source: str
    line: int = 0
    from_snapshot: bool = False

    @classmethod
    def snapshot(cls, reason: str, taken: str) -> Origin:
        return cls(f"snapshot {reason} {taken}", from_snapshot=True)

    def __str__(self) -> str:
        return f"{self.source}:{self.line}" if self.line else self.source


@dataclass(frozen=True)
class Address:
    """An address on an interface; ``label`` is the IPv4 alias name (``eth0:0``)."""

    ifname: str
    interface: IPInterface
    label: Optional[str] = None
    origin: Optional[Origin] = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> Tuple[str, IPInterface]:
        return (self.ifname, self.interface)

    @property
    def family(self) -> int:
        return self.interface.version

    def describe(self) -> str:
        label = f" label {self.label}" if self.label else ""
        return f"{self.interface.with_prefixlen} dev {self.ifname}{label}"


@dataclass(frozen=True)
class Route:
    """A unicast route in a table. Identity is (family, table, destination, metric)."""

    dst: IPNetwork
    table: int = MAIN_TABLE
    metric: int = 0
    ifname: Optional[str] = None
    gateway: Optional[IPAddress] = None
    src: Optional[IPAddress] = None
    scope: Optional[str] = None
    onlink: bool = False
    origin: Optional[Origin] = field(default=None, compare=False, repr=False)

    @property
    def family(self) -> int:
        return self.dst.version

    @property
    def key(self) -> Tuple[int, int, IPNetwork, int]:
        return (self.family, self.table, self.dst, self.metric)

    def describe(self) -> str:
        dst = "default" if self.dst.prefixlen == 0 else self.dst.with_prefixlen
        parts = [dst]
        if self.gateway is not None:
            parts.append(f"via {self.gateway}")
        if self.ifname:
            parts.append(f"dev {self.ifname}")
        if self.onlink:
            parts.append("onlink")
        if self.src is not None:
            parts.append(f"src {self.src}")
        if self.scope:
            parts.append(f"scope {self.scope}")
        if self.metric:
            parts.append(f"metric {self.metric}")
        parts.append(f"table {self.table}")
        return " ".join(parts)


@dataclass(frozen=True)
class Rule:
    """A policy routing rule. A rule has no identity beyond all of its selectors."""

    table: int
    family: int = 4
    priority: Optional[int] = None
    src: Optional[IPNetwork] = None
    dst: Optional[IPNetwork] = None
    fwmark: Optional[int] = None
    fwmask: Optional[int] = None
    iif: Optional[str] = None
    oif: Optional[str] = None
    # The interface a rule was declared under: it is restored with that interface's state.
    ifname: Optional[str] = field(default=None, compare=False)
    origin: Optional[Origin] = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> Tuple[object, ...]:
        return (self.family, self.priority, self.src, self.dst, self.fwmark,
                self.fwmask, self.iif, self.oif, self.table)

    @property
    def selector(self) -> Tuple[object, ...]:
        """Everything but the priority: what a rule declared without a priority matches."""
        return (self.family, self.src, self.dst, self.fwmark, self.fwmask,
                self.iif, self.oif, self.table)

    def satisfied_by(self, other: Rule) -> bool:
        if self.priority is None:
            return self.selector == other.selector
        return self.key == other.key

    def describe(self) -> str:
        parts = [] if self.family == 4 else ["-6"]
        if self.priority is not None:
            parts.append(f"priority {self.priority}")
        parts.append(f"from {self.src.with_prefixlen if self.src else 'all'}")
        if self.dst is not None:
            parts.append(f"to {self.dst.with_prefixlen}")
        if self.fwmark is not None:
            mask = f"/{self.fwmask:#x}" if self.fwmask is not None else ""
            parts.append(f"fwmark {self.fwmark:#x}{mask}")
        if self.iif:
            parts.append(f"iif {self.iif}")
        if self.oif:
            parts.append(f"oif {self.oif}")
        parts.append(f"table {self.table}")
        return " ".join(parts)


KernelObject = Union[Address, Route, Rule]


@dataclass(frozen=True)
class Desired:
    """What nethook keeps. Objects carry their origin; equal objects from two sources are one."""

    addresses: FrozenSet[Address] = frozenset()
    routes: FrozenSet[Route] = frozenset()
    rules: FrozenSet[Rule] = frozenset()

    @property
    def interfaces(self) -> FrozenSet[str]:
        names = {a.ifname for a in self.addresses}
        names.update(r.ifname for r in self.routes if r.ifname)
        names.update(r.ifname for r in self.rules if r.ifname)
        return frozenset(names)

    @property
    def tables(self) -> FrozenSet[int]:
        return frozenset({r.table for r in self.routes} | {r.table for r in self.rules})

    def objects(self) -> Tuple[KernelObject, ...]:
        return (*self.addresses, *self.routes, *self.rules)

    def scoped(self, ifname: str) -> Desired:
        """The part of this state that belongs to one interface."""
        return Desired(
            addresses=frozenset(a for a in self.addresses if a.ifname == ifname),
            routes=frozenset(r for r in self.routes if r.ifname == ifname),
            rules=frozenset(r for r in self.rules if r.ifname == ifname),
        )

    def merged(self, other: Desired) -> Desired:
        """Union, by kernel identity: where both hold the same kernel object (an address
        or route with the same key, a rule that the other satisfies), this one's copy and
        origin win, even when the other's attributes differ."""
        keys = {a.key for a in self.addresses}
        routes = {r.key for r in self.routes}
        return Desired(
            addresses=self.addresses | {a for a in other.addresses if a.key not in keys},
            routes=self.routes | {r for r in other.routes if r.key not in routes},
            rules=self.rules | {r for r in other.rules
                                if not any(mine.satisfied_by(r) or r.satisfied_by(mine)
                                           for mine in self.rules)},
        )

    def without(self, objects: Iterable[KernelObject]) -> Desired:
        gone = set(objects)
        return Desired(addresses=self.addresses - gone, routes=self.routes - gone,
                       rules=self.rules - gone)

    def of_family(self, version: int) -> Desired:
        """The IPv4 (4) or IPv6 (6) part."""
        return Desired(addresses=frozenset(a for a in self.addresses if a.family == version),
                       routes=frozenset(r for r in self.routes if r.family == version),
                       rules=frozenset(r for r in self.rules if r.family == version))


@dataclass(frozen=True)
class Observed:
    """What the kernel has now, limited to the interfaces and tables nethook looked at."""

    links: FrozenSet[str] = frozenset()
    addresses: FrozenSet[Address] = frozenset()
    routes: FrozenSet[Route] = frozenset()
    rules: FrozenSet[Rule] = frozenset()
    # Keys of addresses with a finite lifetime (a DHCP or SLAAC lease, not a permanent one).
    dynamic: FrozenSet[Tuple[str, IPInterface]] = frozenset()

    def has_link(self, ifname: str) -> bool:
        return ifname in self.links

    def objects(self) -> Tuple[KernelObject, ...]:
        return (*self.addresses, *self.routes, *self.rules)

"""Honest fakes of nethook's ports: same answers as the real thing, kept so by contract tests.

``FakeNetlink`` answers like Linux 6.x answers rtnetlink (errno and extended-ack text as
the kernel gives them), including what the kernel does on its own: connected routes
come and go with addresses, deleting an IPv4 primary deletes its secondaries
(promote_secondaries=0), deleting a link's last IPv4 address flushes the IPv4 routes
through it, IPv6 stores metric 0 as 1024. tests/integration/test_netlink_contract.py
runs the same assertions against it and the kernel.
"""

from __future__ import annotations

import errno
import ipaddress
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from typing import Callable, Dict, List, Optional, Set, Tuple

from nethook.base.errors import NethookError, ObserveError
from nethook.model.objects import MAIN_TABLE, Address, Observed, Route, Rule
from nethook.model.ops import AddressOp, Op, RouteOp, RuleOp, Verb
from nethook.model.ports import Outcome

OK: Outcome = (0, "")
LOCAL_TABLE = 255
IPV6_DEFAULT_METRIC = 1024  # IP6_RT_PRIO_USER: what IPv6 stores for metric 0
IPV6_KERNEL_METRIC = 256  # IP6_RT_PRIO_ADDRCONF: prefix routes of addresses
LINK_LOCAL = ipaddress.ip_network("fe80::/64")
FULL_MASK = 0xFFFFFFFF
ROUTE_UNKNOWN_TABLE = (errno.ESRCH, "FIB table does not exist")
ROUTE_UNREACHABLE = {4: (errno.ENETUNREACH, "Nexthop has invalid gateway"),
                     6: (errno.EHOSTUNREACH, "")}
BAD_PREFSRC = {4: (errno.EINVAL, "Invalid prefsrc address"),
               6: (errno.EINVAL, "Invalid source address")}
ADDRESS_EXISTS = {4: (errno.EEXIST, "ipv4: Address already assigned"),
                  6: (errno.EEXIST, "ipv6: address already assigned")}
ADDRESS_MISSING = {4: (errno.EADDRNOTAVAIL, "ipv4: Address not found"),
                   6: (errno.EADDRNOTAVAIL, "ipv6: address not found")}


def default_rules() -> List[Rule]:
    """The rules a new network namespace starts with."""
    return [Rule(table=LOCAL_TABLE, family=4, priority=0),
            Rule(table=MAIN_TABLE, family=4, priority=32766),
            Rule(table=253, family=4, priority=32767),
            Rule(table=LOCAL_TABLE, family=6, priority=0),
            Rule(table=MAIN_TABLE, family=6, priority=32766)]


def no_such_link(ifname: str) -> Outcome:
    return (errno.ENODEV, f"interface {ifname} does not exist")


class FakeNetlink:
    """Implements ``nethook.model.ports.Netlink`` over in-memory kernel state.

    Links are up; with ``ipv6`` each link but ``lo`` has the fe80::/64 route the kernel
    adds (its link-local address is hidden from observers, as the adapter hides it).
    """

    def __init__(self, links: Iterable[str] = ("lo", "eth0"), ipv6: bool = True) -> None:
        self.links: List[str] = []
        self.ipv6 = ipv6
        self._addresses: List[Tuple[Address, bool]] = []  # kernel order; (address, dynamic)
        self._routes: Dict[Tuple[int, int, object, int], Route] = {}
        self._tables: Set[Tuple[int, int]] = {(f, t) for f in (4, 6) for t in (254, 255)}
        self._rules = default_rules()
        self._unreadable: Optional[str] = None
        self._closed = False
        self.sent: List[Op] = []  # what reached the "kernel" (not refused before sending)
        for name in links:
            self.add_link(name)

    # -- the port ---------------------------------------------------------------------------

    def observe(self, ifnames: Collection[str], tables: Optional[Collection[int]]) -> Observed:
        if self._closed or self._unreadable is not None:
            raise ObserveError(f"cannot read the kernel's network state: "
                               f"{self._unreadable or 'the socket is closed'}")
        wanted = set(ifnames)
        addresses = [(_shown(a), dynamic) for a, dynamic in self._addresses if a.ifname in wanted]
        return Observed(
            links=frozenset(self.links),
            addresses=frozenset(a for a, _ in addresses),
            routes=frozenset(r for r in self._routes.values()
                             if tables is None or r.table in tables),
            rules=frozenset(self._rules),
            dynamic=frozenset(a.key for a, dynamic in addresses if dynamic))

    def execute(self, ops: Sequence[Op]) -> List[Outcome]:
        if self._closed:
            raise NethookError("the rtnetlink socket failed: [Errno 9] Bad file descriptor")
        for op in ops:  # the adapter encodes every request before it sends one
            if isinstance(op, RuleOp) and op.rule.priority is None:
                raise ValueError(f"a rule without a priority reached the kernel adapter: "
                                 f"{op.describe()}")
        return [self._one(op) for op in ops]

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> FakeNetlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what tests do to the "kernel" behind nethook's back --------------------------------

    def add_link(self, ifname: str) -> None:
        self.links.append(ifname)
        if self.ipv6 and ifname != "lo":
            self._put_route(Route(LINK_LOCAL, metric=IPV6_KERNEL_METRIC, ifname=ifname,
                                  scope="global"))

    def remove_link(self, ifname: str) -> None:
        self.links.remove(ifname)
        self._addresses = [(a, d) for a, d in self._addresses if a.ifname != ifname]
        self._routes = {k: r for k, r in self._routes.items() if r.ifname != ifname}

    def lease(self, address: Address) -> Outcome:
        """Add ``address`` with a finite lifetime, as a DHCP client does."""
        return self._add_address(address, dynamic=True)

    def break_reads(self, reason: str = "Connection refused") -> None:
        """From now on ``observe`` fails the way an unreadable kernel makes it fail."""
        self._unreadable = reason

    # -- operations ------------------------------------------------------------------------

    def _one(self, op: Op) -> Outcome:
        handlers: Dict[type, Callable[[Op], Outcome]] = {
            AddressOp: self._address_op, RouteOp: self._route_op, RuleOp: self._rule_op}
        device = op.route.ifname if isinstance(op, RouteOp) else (
            op.address.ifname if isinstance(op, AddressOp) else None)
        if device is not None and device not in self.links:
            return no_such_link(device)
        self.sent.append(op)
        return handlers[type(op)](op)

    def _address_op(self, op: Op) -> Outcome:
        assert isinstance(op, AddressOp)
        if op.verb is Verb.DELETE:
            return self._delete_address(op.address)
        return self._add_address(op.address, dynamic=False)

    def _add_address(self, address: Address, dynamic: bool) -> Outcome:
        if any(_same_address(address, a) for a, _ in self._addresses):
            return ADDRESS_EXISTS[address.family]
        self._addresses.append((address, dynamic))
        if address.family == 4 and not self._is_secondary(address):
            if address.interface.network.prefixlen < 32:
                self._put_route(Route(address.interface.network, ifname=address.ifname,
                                      src=address.interface.ip, scope="link"))
        elif address.family == 6 and address.interface.network.prefixlen < 128:
            self._put_route(Route(address.interface.network, metric=IPV6_KERNEL_METRIC,
                                  ifname=address.ifname, scope="global"))
        return OK

    def _delete_address(self, wanted: Address) -> Outcome:
        found = next((a for a, _ in self._addresses if _deletes(wanted, a)), None)
        if found is None:
            return ADDRESS_MISSING[wanted.family]
        gone = {found}
        if found.family == 4 and not self._is_secondary(found):
            gone |= {a for a, _ in self._addresses if a.ifname == found.ifname
                     and a.interface.network == found.interface.network}
        self._addresses = [(a, d) for a, d in self._addresses if a not in gone]
        self._drop_connected(found)
        return OK

    def _is_secondary(self, address: Address) -> bool:
        same_prefix = [a for a, _ in self._addresses if a.ifname == address.ifname
                       and a.interface.network == address.interface.network]
        return bool(same_prefix) and same_prefix[0] != address  # the first is the primary

    def _drop_connected(self, address: Address) -> None:
        same_prefix = [a for a, _ in self._addresses if a.ifname == address.ifname
                       and a.interface.network == address.interface.network]
        if not same_prefix:
            self._routes = {k: r for k, r in self._routes.items()
                            if not (r.table == MAIN_TABLE and r.ifname == address.ifname
                                    and r.dst == address.interface.network and r.gateway is None)}
        if address.family == 4 and not any(a.family == 4 and a.ifname == address.ifname
                                            for a, _ in self._addresses):
            # The last IPv4 address went: the kernel disables IPv4 routing on the link.
            self._routes = {k: r for k, r in self._routes.items()
                            if not (r.family == 4 and r.ifname == address.ifname)}

    def _route_op(self, op: Op) -> Outcome:
        assert isinstance(op, RouteOp)
        if op.verb is Verb.DELETE:
            return self._delete_route(op.route)
        route = _stored(op.route)
        refusal = self._route_problem(route)  # the kernel checks the nexthop first
        if refusal is not None:
            return refusal
        if op.verb is Verb.ADD and route.key in self._routes:
            return (errno.EEXIST, "")
        self._put_route(route)
        return OK

    def _route_problem(self, route: Route) -> Optional[Outcome]:
        if route.src is not None and not any(a.interface.ip == route.src
                                             for a, _ in self._addresses):
            return BAD_PREFSRC[route.family]
        if route.gateway is not None and not route.onlink and not self._reachable(route):
            return ROUTE_UNREACHABLE[route.family]
        return None

    def _reachable(self, route: Route) -> bool:
        """Whether a connected (link scope) route leads to the gateway, as the kernel asks."""
        gateway = route.gateway
        assert gateway is not None
        if gateway.version == 6 and gateway.is_link_local:
            return route.ifname is not None
        return any(r.gateway is None and gateway in r.dst and r.family == route.family
                   and r.table in (MAIN_TABLE, route.table) and route.ifname in (None, r.ifname)
                   for r in self._routes.values())

    def _delete_route(self, route: Route) -> Outcome:
        if (route.family, route.table) not in self._tables:
            return ROUTE_UNKNOWN_TABLE
        for key, present in self._routes.items():
            if _route_matches(route, present):
                del self._routes[key]
                return OK
        return (errno.ESRCH, "")

    def _put_route(self, route: Route) -> None:
        self._tables.add((route.family, route.table))
        self._routes[route.key] = route

    def _rule_op(self, op: Op) -> Outcome:
        assert isinstance(op, RuleOp)
        rule = op.rule
        if op.verb is Verb.DELETE:
            found = next((r for r in self._rules if _rule_matches(rule, r)), None)
            if found is None:
                return (errno.ENOENT, "")
            self._rules.remove(found)
            return OK
        stored = replace(rule, fwmask=None if rule.fwmask == FULL_MASK else rule.fwmask,
                         ifname=None, origin=None)
        if stored in self._rules:
            return (errno.EEXIST, "")
        self._rules.append(stored)
        self._rules.sort(key=lambda r: r.priority or 0)  # stable: after equal priorities
        return OK


def _shown(address: Address) -> Address:
    """As observed: an IPv4 label equal to the interface name is no label."""
    return address if address.label != address.ifname else replace(address, label=None)


def _same_address(new: Address, old: Address) -> bool:
    """What the kernel refuses with EEXIST: IPv6 by address, IPv4 by address and prefix."""
    if new.ifname != old.ifname or new.family != old.family:
        return False
    if new.family == 6:
        return new.interface.ip == old.interface.ip
    return new.interface == old.interface


def _deletes(wanted: Address, present: Address) -> bool:
    """A delete names address and prefix, and (IPv4) the label when it gives one."""
    if wanted.key != present.key:
        return False
    return not (wanted.family == 4 and wanted.label
                and wanted.label != (present.label or present.ifname))


def _stored(route: Route) -> Route:
    """The route as the kernel keeps it."""
    if route.family == 6 and route.metric == 0:
        route = replace(route, metric=IPV6_DEFAULT_METRIC)
    if route.scope is None:
        scope = "global" if route.gateway is not None or route.family == 6 else "link"
        route = replace(route, scope=scope)
    return replace(route, origin=None)


def _route_matches(wanted: Route, present: Route) -> bool:
    """Delete semantics: what the request states must match; metric 0 and an unstated
    scope, gateway, device or source match anything."""
    if (wanted.family, wanted.table, wanted.dst) != (present.family, present.table, present.dst):
        return False
    stated: List[Tuple[object, object]] = [
        (wanted.gateway, present.gateway), (wanted.ifname, present.ifname),
        (wanted.src, present.src), (wanted.scope, present.scope),
        (wanted.metric or None, present.metric)]
    return all(want is None or want == have for want, have in stated)


def _rule_matches(wanted: Rule, present: Rule) -> bool:
    """``ip rule del`` semantics: an unstated selector matches anything."""
    if (wanted.family, wanted.priority, wanted.table) != (
            present.family, present.priority, present.table):
        return False
    pairs: List[Tuple[object, object]] = [
        (wanted.src, present.src), (wanted.dst, present.dst), (wanted.iif, present.iif),
        (wanted.oif, present.oif), (wanted.fwmark, present.fwmark)]
    if wanted.fwmark is not None:  # a mark without a mask means the full mask
        pairs.append((wanted.fwmask or FULL_MASK, present.fwmask or FULL_MASK))
    return all(want is None or want == have for want, have in pairs)


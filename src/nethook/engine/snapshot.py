"""The pre-event snapshot: what an interface carried before DHCP touched it (pure).

Taken by a call that comes before a removal (Debian's enter hook, RHEL's ``_restore``
before EXPIRE/RELEASE/STOP, ``nethook snapshot``), restored by the next configure event.
It holds the interface's permanent secondary addresses, the routes through it in tables
other than main/local/default, and the rules that lead to those tables or name its
addresses, of the address family the event can destroy. Objects nethook added from its
own configuration are left out: the configuration keeps those. Its file, in the run
directory, is :mod:`nethook.engine.snapshot_file`'s.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
from collections.abc import Collection, Iterable

from nethook.engine.ownership import ObjectIndex
from nethook.model.objects import (
    Desired,
    IPInterface,
    KernelObject,
    Observed,
    Rule,
)

log = logging.getLogger(__name__)
SYSTEM_TABLES = frozenset({0, 253, 254, 255})
BOTH_FAMILIES = (4, 6)


def take(observed: Observed, ifname: str, lease: Iterable[IPInterface] = (),
         families: Collection[int] = BOTH_FAMILIES,
         owned: Collection[KernelObject] = ()) -> Desired:
    """The part of ``observed`` an event on ``ifname`` may destroy (pure).

    ``families``: the address families the event touches; ``owned``: what nethook added
    from its configuration, which is never the administrator's own state.
    """
    lease_ips = {i.ip for i in lease}
    mine = ObjectIndex(owned)
    addresses = frozenset(
        a for a in observed.addresses
        if a.ifname == ifname and a.family in families and a.key not in observed.dynamic
        and a.interface.ip not in lease_ips and not a.interface.ip.is_link_local
        and not mine.holds(a, recorded_side=False))
    routes = frozenset(r for r in observed.routes
                       if r.ifname == ifname and r.family in families
                       and r.table not in SYSTEM_TABLES and not mine.holds(r, recorded_side=False))
    tables = {r.table for r in routes}
    ips = [a.interface.ip for a in addresses]
    rules = frozenset(_owned_by(r, ifname) for r in observed.rules
                      if r.family in families and r.table not in SYSTEM_TABLES
                      and not mine.holds(r, recorded_side=False)
                      and (r.table in tables or ifname in (r.iif, r.oif)
                           or _names_any(r, ips)))
    return Desired(addresses=addresses, routes=routes, rules=rules)


def is_stripped(observed: Observed, ifname: str,
                families: Collection[int] = BOTH_FAMILIES) -> bool:
    """No global address of ``families`` left: the kernel already dropped what a snapshot
    should hold."""
    return not any(a.ifname == ifname and a.family in families
                   and not a.interface.ip.is_link_local for a in observed.addresses)


def _names_any(rule: Rule, ips: Iterable[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> bool:
    return any(net is not None and ip.version == net.version and ip in net
               for ip in ips for net in (rule.src, rule.dst))


def _owned_by(rule: Rule, ifname: str) -> Rule:
    return dataclasses.replace(rule, ifname=ifname)



"""Check 1: several default routes in one table, and what in the files adds them.

Two IPv4 default routes in one table are trouble when they share a metric (which one the
kernel uses follows their order, and the order changes every time one is re-added) or
differ only in ``src`` (the same gateway and device: whichever wins decides the source
address). Default routes through other gateways with their own metrics are a failover
set-up and are left alone. IPv6 is left out: the routes of several routers' advertisements
share metric 1024 by design, and IPv6 chooses source addresses by its own rules.

The usual cause is an alias with a gateway of its own: a Debian alias stanza
(``iface eth0:0 inet static`` with ``gateway``) or a network-scripts alias file
(``ifcfg-eth0:1`` with ``GATEWAY``). Each one found is reported: as the cause of a
duplicate it explains, or on its own, since the next ``ifup`` adds the duplicate.

``--fix`` deletes the extra runtime routes when exactly one route of the set is
clearly the one to keep (no ``src``, or the lease's address, and not through an alias's
gateway). It never edits ``/etc/network/interfaces``: the fix names the line to delete.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Dict, FrozenSet, List, Optional, Set, Tuple

from nethook.config.rt_tables import RouteTables
from nethook.doctor.findings import Evidence, Finding, Severity
from nethook.doctor.fixes import DeleteRoutes
from nethook.doctor.inputs import Inspection
from nethook.importers.base import is_backup
from nethook.model.objects import IPAddress, Observed, Origin, Route

CHECK = "default-routes"


@dataclass(frozen=True)
class Cause:
    """A line that gives an alias a default route of its own."""

    origin: Origin
    ifname: str  # the physical interface
    alias: str  # the stanza or alias file's name: eth0:0
    line: str  # as written: "gateway 198.51.100.1", "GATEWAY=198.51.100.1"
    gateway: Optional[IPAddress]
    ifupdown: bool  # else network-scripts

    def evidence(self) -> Evidence:
        return Evidence.at(self.origin, f"{self.line} (alias {self.alias})")

    def remedy(self) -> str:
        return f"delete line {self.origin.line} of {self.origin.source} (`{self.line}`)"


def check(inspection: Inspection) -> List[Finding]:
    causes = alias_gateways(inspection)
    observed = inspection.live.observed()
    findings = []
    explained: Set[Cause] = set()
    for _table, routes in sorted(_default_routes(observed).items()):
        involved, shared = _troubled(routes)
        if not involved:
            continue
        gateways, devices = {r.gateway for r in involved}, {r.ifname for r in involved}
        mine = [c for c in causes if c.gateway in gateways
                or (c.gateway is None and c.ifname in devices)]
        explained.update(mine)
        findings.append(_duplicate(inspection, observed, involved, shared, mine))
    findings += [_cause_alone(c) for c in causes if c not in explained]
    return findings


def alias_gateways(inspection: Inspection) -> List[Cause]:
    causes = []
    for stanza in inspection.stanzas:
        if ":" in stanza.name and stanza.family == "inet":
            for value, origin in stanza.values("gateway"):
                causes.append(Cause(origin, stanza.name.split(":")[0], stanza.name,
                                    f"gateway {value}", _ip(value), True))
    for ifcfg in inspection.ifcfg_files:
        var = ifcfg.variables.var("GATEWAY")
        if ":" not in ifcfg.name or is_backup(ifcfg.name) or var is None:
            continue
        alias = ifcfg.variables.get("DEVICE") or ifcfg.name[len("ifcfg-"):]
        causes.append(Cause(var.origin, alias.split(":")[0], alias,
                            f"GATEWAY={var.value}", _ip(var.value), False))
    return causes


def _ip(text: str) -> Optional[IPAddress]:
    try:
        return ipaddress.ip_address(text.split()[0]) if text.split() else None
    except ValueError:
        return None


def _default_routes(observed: Observed) -> Dict[Tuple[int, int], List[Route]]:
    tables: Dict[Tuple[int, int], List[Route]] = defaultdict(list)
    for route in observed.routes:
        if route.dst.prefixlen == 0 and route.family == 4:
            tables[(route.family, route.table)].append(route)
    return tables


def _troubled(routes: List[Route]) -> Tuple[List[Route], bool]:
    """The routes of one table that share a metric or differ only in src, and whether
    some share a metric."""
    by_metric: Dict[int, List[Route]] = defaultdict(list)
    by_path: Dict[Tuple[object, ...], List[Route]] = defaultdict(list)
    for route in routes:
        by_metric[route.metric].append(route)
        by_path[(route.gateway, route.ifname, route.onlink)].append(route)
    shared = {r for group in by_metric.values() if len(group) > 1 for r in group}
    src_only = {r for group in by_path.values()
                if len({r.src for r in group}) > 1 for r in group}
    return sorted(shared | src_only, key=_order), bool(shared)


def _order(route: Route) -> Tuple[int, str, str, str]:
    return (route.metric, str(route.gateway or ""), route.ifname or "", str(route.src or ""))


def _duplicate(inspection: Inspection, observed: Observed, routes: List[Route], shared: bool,
               causes: List[Cause]) -> Finding:
    family, table = routes[0].family, routes[0].table
    name = inspection.tables.name_of(table) or str(table)
    how = "share a metric" if shared else "differ only in src"
    extras = [replace(r, scope=None) for r in _extras(observed, routes, causes)]
    evidence = tuple(Evidence(f"ip -{family} route", ip_route(r, inspection.tables))
                     for r in routes)
    action = DeleteRoutes(tuple(extras), ((table, name),)) if extras else None
    if action is not None:
        fix = (f"keep one default route in table {name}: delete the others "
               f"(`{action.describe().replace('; ', '`, `')}`)")
    else:
        fix = (f"keep one default route in table {name}: choose which, and delete the others "
               f"(`ip -{family} route del default via GATEWAY ... table {name}`)")
    if causes:
        fix += ", then stop the files adding them: " + "; ".join(c.remedy() for c in causes)
        fix += "; an alias uses its interface's default route"
    else:
        fix += ", then find what adds them (an `up ip route add default ...` line, a route "
        fix += "file, a second DHCP client); a second uplink belongs in a policy table"
    return Finding(
        CHECK, "shared-metric" if shared else "src-only",
        Severity.ERROR if shared else Severity.WARNING,
        f"table {name} has {len(routes)} IPv{family} default routes that {how}",
        evidence + tuple(c.evidence() for c in causes),
        "the kernel uses whichever comes first, and the order changes each time one of them "
        "is re-added (every lease renewal re-adds the DHCP one), so outbound traffic "
        "changes source address at random",
        fix, action)


def ip_route(route: Route, tables: RouteTables) -> str:
    """A route as `ip route` shows it: no scope global, the table by its name."""
    shown = replace(route, scope=None if route.scope in ("global", "universe") else route.scope)
    return f"{shown.describe().rsplit(' table ', 1)[0]} table " \
           f"{tables.name_of(route.table) or route.table}"


def _extras(observed: Observed, routes: List[Route], causes: List[Cause]) -> List[Route]:
    """The routes to delete when exactly one is clearly the one to keep, else none."""
    gateways = {c.gateway for c in causes if c.gateway is not None}
    leases: FrozenSet[Tuple[str, IPAddress]] = frozenset(
        (ifname, interface.ip) for ifname, interface in observed.dynamic)
    extras = [r for r in routes if r.gateway in gateways
              or (r.src is not None and (r.ifname or "", r.src) not in leases)]
    return extras if len(routes) - len(extras) == 1 else []


def _cause_alone(cause: Cause) -> Finding:
    if cause.ifupdown:
        why = (f"`ifup {cause.alias}` adds it as a default route of its own, beside the "
               f"one {cause.ifname} already has (outbound traffic then changes source "
               "address), or fails with 'RTNETLINK answers: File exists' when that one has "
               "the same metric")
    else:
        why = (f"ifup-aliases adds a default route through {cause.alias} for it, beside "
               f"{cause.ifname}'s own, so outbound traffic changes source address")
    return Finding(
        CHECK, "alias-gateway", Severity.WARNING,
        f"alias {cause.alias} has a gateway of its own", (cause.evidence(),), why,
        f"{cause.remedy()}: an alias uses its interface's default route; a second uplink "
        "belongs in a policy table (`ip rule add from ALIAS table T`)")

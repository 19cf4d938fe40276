"""Check 4: aliases at risk, aliases missing, and an alias that took the lease's place.

* Same-subnet secondaries on an interface whose ``promote_secondaries`` is 0 (read per
  network namespace from /proc/sys): the kernel deletes a subnet's secondaries with its
  primary, and dhclient-script deletes the lease address at every lease change. A
  warning when the interface uses DHCP and an alias is declared nowhere nethook reads.
* Addresses declared (nethook's configuration, the distro files) but not there now.
* An alias that is the primary of its subnet while the DHCP lease sits beside it as a
  secondary: the subnet route's source, and with it the source of outbound traffic, is
  the alias. The primary is read from that route (``proto kernel scope link src``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Dict, FrozenSet, List, Optional, Tuple

from nethook.doctor.findings import Evidence, Finding, Severity
from nethook.doctor.inputs import Inspection
from nethook.model.objects import MAIN_TABLE, Address, IPInterface, IPNetwork, Observed

CHECK = "aliases"
# What promote_secondaries=1 does on a lease change, as measured in a namespace.
PROMOTION_COST = ("when the lease address goes, the kernel promotes the alias to primary, the "
                  "new lease becomes a secondary, and the subnet route's source address "
                  "becomes the alias, so outbound traffic leaves from the alias")
Key = Tuple[str, IPInterface]


def check(inspection: Inspection) -> List[Finding]:
    observed = inspection.live.observed()
    findings = []
    for ifname in sorted(observed.links):
        for network, group in _subnets(observed, ifname):
            primary = _primary(observed, ifname, network, group)
            leases = [a for a in group if a.key in observed.dynamic and a != primary]
            if primary is not None and primary.key not in observed.dynamic and leases:
                findings.append(_hijacked(observed, ifname, network, primary, leases))
            risk = _at_risk(inspection, observed, ifname, network, group, primary)
            if risk is not None:
                findings.append(risk)
    return findings + _absent(inspection, observed)


def _subnets(observed: Observed, ifname: str) -> List[Tuple[IPNetwork, List[Address]]]:
    groups: Dict[IPNetwork, List[Address]] = defaultdict(list)
    for address in observed.addresses:
        if address.ifname == ifname and address.family == 4:
            groups[address.interface.network].append(address)
    return [(net, sorted(g, key=lambda a: a.interface)) for net, g in sorted(groups.items())
            if len(g) > 1]


def _primary(observed: Observed, ifname: str, network: IPNetwork,
             group: List[Address]) -> Optional[Address]:
    """The address the kernel's subnet route names as source: the subnet's primary."""
    by_ip = {a.interface.ip: a for a in group}
    sources = sorted(((r.metric, by_ip[r.src]) for r in observed.routes
                      if r.table == MAIN_TABLE and r.dst == network and r.ifname == ifname
                      and r.gateway is None and r.src in by_ip), key=lambda found: found[0])
    return sources[0][1] if sources else None


def _show(address: Address, observed: Observed, primary: Optional[Address]) -> Evidence:
    flags = []
    if primary is not None:
        flags.append("primary" if address == primary else "secondary")
    if address.key in observed.dynamic:
        flags.append("dynamic: a lease")
    label = f" label {address.label}" if address.label else ""
    shown = f"{address.interface.with_prefixlen} dev {address.ifname}{label}"
    return Evidence("ip -4 address", f"{shown} ({', '.join(flags)})" if flags else shown)


def _subnet_route(ifname: str, network: IPNetwork, primary: Address) -> Evidence:
    return Evidence("ip -4 route", f"{network} dev {ifname} proto kernel scope link src "
                                   f"{primary.interface.ip} table main")


def _hijacked(observed: Observed, ifname: str, network: IPNetwork, alias: Address,
              leases: List[Address]) -> Finding:
    lease = leases[0]
    name = alias.label or ifname
    return Finding(
        CHECK, "alias-primary", Severity.WARNING,
        f"{ifname}: alias {alias.interface.ip} ({name}) is the primary of {network}, and the "
        f"DHCP lease {lease.interface.ip} sits beside it as a secondary",
        (_show(alias, observed, alias), *(_show(a, observed, alias) for a in leases),
         _subnet_route(ifname, network, alias)),
        f"outbound traffic through {ifname} leaves from {alias.interface.ip} instead of the "
        f"lease address, and with promote_secondaries=0 deleting the alias deletes the "
        "lease with it",
        f"make the lease the primary again: `sysctl -w net.ipv4.conf.{ifname}."
        f"promote_secondaries=1; ip addr del {alias.interface.with_prefixlen} dev {ifname}; "
        f"ip addr add {alias.interface.with_prefixlen} dev {ifname}"
        f"{f' label {alias.label}' if alias.label else ''}` (with promotion on, deleting the "
        "alias promotes the lease instead of taking it along), then set "
        "promote_secondaries back; nethook adds a same-subnet alias only once the lease is "
        "up, which keeps this order")


def _at_risk(inspection: Inspection, observed: Observed, ifname: str, network: IPNetwork,
             group: List[Address], primary: Optional[Address]) -> Optional[Finding]:
    if inspection.live.promote_secondaries(ifname) != 0:
        return None
    aliases = [a for a in group if a != primary and a.key not in observed.dynamic]
    if not aliases:
        return None
    declared = {a.key: a for a in inspection.desired.addresses}
    undeclared = [a for a in aliases if a.key not in declared]
    if primary is not None:
        dhcp = primary.key in observed.dynamic  # dhclient-script deletes the lease
    else:
        dhcp = (any(a.key in observed.dynamic for a in group)
                or ifname in inspection.dhcp_interfaces)
    names = ", ".join(_name(a) for a in aliases)
    head = primary.interface.ip if primary is not None else "its primary"
    if dhcp:
        why = (f"when dhclient-script deletes the lease address (every lease change, "
               f"EXPIRE, RELEASE), the kernel deletes every secondary of {network} with it: "
               f"{names}")
    else:
        why = (f"whatever deletes {head} (ifdown, `ip addr flush`, a renumbering) deletes "
               f"{names} with it: the kernel removes a subnet's secondaries with its primary")
    origins = ", ".join(str(declared[a.key].origin) for a in aliases if a.key in declared)
    if undeclared:
        fix = (f"declare {', '.join(_name(a) for a in undeclared)} (`addresses:` in "
               "nethook.yaml, or the distro's files) so that nethook restores them")
        fix += (" after a lease change (Debian's dhclient enter hook also snapshots them, "
                f"until a reboot); net.ipv4.conf.{ifname}.promote_secondaries=1 keeps them "
                f"instead, at a cost, measured: {PROMOTION_COST}" if dhcp else
                f"; or delete them before {head}")
    elif dhcp:
        fix = (f"nothing to do: nethook restores them once the new lease is up (declared at "
               f"{origins}); promote_secondaries=1 would keep them, at a cost, measured: "
               f"{PROMOTION_COST}")
    else:
        fix = f"nothing to do: nethook restores them when it next runs (declared at {origins})"
    evidence = (Evidence(f"/proc/sys/net/ipv4/conf/{ifname}/promote_secondaries", "0"),
                *(_show(a, observed, primary) for a in group))
    return Finding(
        CHECK, "secondaries-at-risk",
        Severity.WARNING if dhcp and undeclared else Severity.INFO,
        f"{ifname}: {len(aliases)} address(es) share {network} with "
        f"{'the DHCP lease' if dhcp else 'the primary'} and promote_secondaries is 0",
        evidence, why, fix)


def _name(address: Address) -> str:
    return f"{address.interface.ip} ({address.label})" if address.label else \
        str(address.interface.ip)


def _absent(inspection: Inspection, observed: Observed) -> List[Finding]:
    present: FrozenSet[Key] = frozenset(a.key for a in observed.addresses)
    missing: Dict[str, List[Address]] = defaultdict(list)
    for address in inspection.desired.addresses:
        if address.key not in present:
            missing[address.ifname].append(address)
    findings = []
    for ifname, addresses in sorted(missing.items()):
        addresses.sort(key=lambda a: (a.family, a.interface))
        evidence = tuple(Evidence(str(a.origin) if a.origin else "nethook", a.describe())
                         for a in addresses)
        if ifname not in observed.links:
            findings.append(Finding(
                CHECK, "declared-no-link", Severity.INFO,
                f"{ifname}: {len(addresses)} address(es) are declared for an interface "
                "that does not exist", evidence,
                f"nothing can restore them until {ifname} exists (a renamed card: see the "
                "mac findings)",
                f"nothing, if {ifname} is gone for good; else bring it back"))
            continue
        findings.append(Finding(
            CHECK, "declared-absent", Severity.WARNING,
            f"{ifname}: {len(addresses)} declared address(es) are not there", evidence,
            "services bound to them cannot answer until they are back; a lease change most "
            "likely removed them and no hook put them back (see the hooks findings)",
            "`nethook apply` puts them back (a same-subnet alias only once the lease is up)"))
    return findings

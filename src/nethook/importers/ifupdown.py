"""Debian's ``/etc/network/interfaces`` and what it sources, read as the installed tool
applies it: ifupdown, ifupdown2 or ifupdown-ng.

The dialect is chosen by what is installed under the root (:data:`DIALECTS`: ifupdown2's
``/etc/network/ifupdown2/ifupdown2.conf``, ifupdown-ng's ``/etc/network/ifupdown-ng.conf``),
else ifupdown. Files that use syntax only ifupdown2 and ifupdown-ng know (``iface NAME``
without family and method, ``use dhcp``) are read as ifupdown-ng reads them when neither
is found. Where the tools differ, nethook follows the one that runs:

* ifupdown configures each stanza in turn; ifupdown2 and ifupdown-ng merge every stanza
  of one interface into one configuration;
* ifupdown lets ``netmask`` replace a prefix written on the address (``address
  1.2.3.4/14`` with ``netmask 255.255.255.128`` is /25, ``netmask 128`` makes an IPv6
  address /128); ifupdown2 and ifupdown-ng keep the written prefix and use ``netmask``
  only for an address written without one;
* ifupdown adds only the first ``address`` of a stanza (one stanza per address works);
  ifupdown2 and ifupdown-ng add each;
* ifupdown2 adds no static address to an interface that gets DHCP; ifupdown and
  ifupdown-ng (``use dhcp`` beside ``address``) add them.

What is kept: an alias stanza's addresses (``iface eth0:0``), on ``eth0`` with the label
``eth0:0``; an interface's static addresses but its own primary (the first address of its
first static stanza, or of its merged configuration, per family), which belongs to the
tool; every static address when the interface also gets DHCP; ``pre-up``, ``up`` and
``post-up`` commands that run ``ip address|route|rule add`` (also ``/sbin/ip``, ``ip -4``,
``ip -6``, ``replace``), with ``$IFACE``, ``$LOGICAL`` and ``$IF_<OPTION>`` substituted as
ifupdown sets them; a route without ``dev`` goes through the stanza's interface, and rules
are restored with that interface. ``iface NAME inherits TEMPLATE`` (and ifupdown-ng's
``inherits`` option) copies the template's family, method and options first (ifupdown-ng
leaves its ``up`` commands out); a stanza
that only serves as a template (ifupdown-ng's ``template``, or one others inherit that no
``auto``/``allow-`` line names) is not an interface.

Ignored on purpose: ``gateway`` (the main table's default route belongs to the tool or the
DHCP client), ``down``/``pre-down``/``post-down``, commands other than ``ip``, deletions,
``loopback`` stanzas, whether ``auto``/``allow-`` lines name the interface, and ``mapping``
stanzas. Reported and skipped: commands that would add something nethook cannot represent,
``ifconfig``/``route`` (net-tools) commands, and command lines that need the shell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

from nethook.config import values
from nethook.config.rt_tables import RouteTables
from nethook.importers import iproute, shellcmd
from nethook.importers.base import Collector, Imported, exists, prefix_of_netmask
from nethook.importers.ifupdown_files import INTERFACES, Reader, Stanza
from nethook.model.objects import Address, IPInterface, KernelObject, Origin

NAME = "ifupdown"
_FAMILIES = {"inet": 4, "inet6": 6}
_DYNAMIC = ("dhcp", "bootp", "auto")  # inet6 auto is SLAAC (with DHCPv6 if told so)
_COMMANDS = ("pre-up", "up", "post-up")
_ALL_COMMANDS = frozenset({*_COMMANDS, "down", "pre-down", "post-down"})
_NET_TOOLS = frozenset({"ifconfig", "route", "/sbin/ifconfig", "/sbin/route",
                        "/usr/sbin/ifconfig", "/usr/sbin/route"})
_ENV_NAME = re.compile(r"[^A-Z0-9_]")


@dataclass(frozen=True)
class Dialect:
    """How one tool reads interfaces(5) where the tools differ."""

    name: str
    marker: str  # a file its package installs, under the root
    merges: bool  # all stanzas of one interface are one configuration
    netmask_wins: bool  # netmask replaces a prefix written on the address
    dhcp_keeps_static: bool  # an interface with DHCP still gets its static addresses
    inherits_commands: bool = True  # `inherits` copies the template's up lines too


IFUPDOWN = Dialect("ifupdown", "", merges=False, netmask_wins=True, dhcp_keeps_static=True)
IFUPDOWN2 = Dialect("ifupdown2", "etc/network/ifupdown2/ifupdown2.conf", merges=True,
                    netmask_wins=False, dhcp_keeps_static=False)
IFUPDOWN_NG = Dialect("ifupdown-ng", "etc/network/ifupdown-ng.conf", merges=True,
                      netmask_wins=False, dhcp_keeps_static=True, inherits_commands=False)
DIALECTS = (IFUPDOWN2, IFUPDOWN_NG)


def present(root: Path) -> bool:
    return exists(root / INTERFACES)


def dialect(root: Path, stanzas: List[Stanza]) -> Dialect:
    """The installed tool's dialect; ifupdown-ng's for files ifupdown cannot read."""
    for candidate in DIALECTS:
        if exists(root / candidate.marker):
            return candidate
    modern = any((not s.family and not s.inherits) or s.values("use") for s in stanzas)
    return IFUPDOWN_NG if modern else IFUPDOWN


def read(root: Path, tables: RouteTables, which: Optional[Dialect] = None) -> Imported:
    out = Collector(NAME)
    reader = Reader(root, out)
    reader.read(root / INTERFACES)
    chosen = which or dialect(root, reader.stanzas)
    stanzas = _inherit(reader.stanzas, chosen, out)
    templates = {s.inherits for s in reader.stanzas if s.inherits} | {
        v.split()[0] for s in reader.stanzas for v, _o in s.values("inherits") if v.split()}
    stanzas = [s for s in stanzas if not s.template
               and (s.name not in templates or s.name in reader.auto)]
    units = _merged(stanzas) if chosen.merges else stanzas
    dynamic = {(_physical(u.name), family) for u in units for family in _dynamic(u)}
    primaries = _primaries(units, chosen)
    for unit in units:
        _unit(unit, chosen, dynamic, primaries, tables, out)
    return out.result()


def _physical(name: str) -> str:
    return name.split(":", 1)[0]


def _dynamic(stanza: Stanza) -> Set[int]:
    """The families a stanza gets a lease (or SLAAC) for."""
    found = {_FAMILIES[stanza.family]} if stanza.family in _FAMILIES and \
        stanza.method in _DYNAMIC else set()
    uses = {word for value, _origin in stanza.values("use") for word in value.split()}
    if uses & {"dhcp", "dhcp4", "dhcp6"}:
        found |= {4, 6} if "dhcp" in uses else {int(u[-1]) for u in uses if u[-1] in "46"}
    return found


def _inherit(stanzas: List[Stanza], chosen: Dialect, out: Collector) -> List[Stanza]:
    """Stanzas with the options of the template each ``inherits``, before its own
    (ifupdown-ng leaves the template's commands out)."""
    seen: Dict[str, List[Stanza]] = {}
    result: List[Stanza] = []
    for stanza in stanzas:
        names = [stanza.inherits] if stanza.inherits else []
        names += [v.split()[0] for v, _o in stanza.values("inherits") if v.split()]
        for name in names:
            templates = [t for t in seen.get(name, ())
                         if not stanza.family or t.family in ("", stanza.family)]
            if not templates:
                out.problem(stanza.origin, f"inherits {name}, which no earlier "
                                           f"{stanza.family or 'iface'} stanza defines; "
                                           "inherits nothing")
                continue
            template = templates[0]
            options = [o for o in template.options
                       if chosen.inherits_commands or o[0] not in _ALL_COMMANDS]
            stanza = replace(stanza, family=stanza.family or template.family,
                             method=stanza.method or template.method, inherits=None,
                             options=options + stanza.options)
        seen.setdefault(stanza.name, []).append(stanza)
        result.append(stanza)
    return result


def _merged(stanzas: List[Stanza]) -> List[Stanza]:
    """One configuration per interface, its stanzas' options in order (ifupdown2, -ng)."""
    merged: Dict[str, Stanza] = {}
    for stanza in stanzas:
        first = merged.get(stanza.name)
        if first is None:
            merged[stanza.name] = replace(stanza, options=list(stanza.options))
            continue
        extra: List[Tuple[str, str, Origin]] = []
        if stanza.method in _DYNAMIC and stanza.family in _FAMILIES:
            extra.append(("use", "dhcp" if stanza.family == "inet" else "dhcp6",
                          stanza.origin))
        merged[stanza.name] = replace(first, family=first.family or stanza.family,
                                      method=first.method or stanza.method,
                                      options=first.options + extra + stanza.options)
    return list(merged.values())


def _primaries(units: List[Stanza], chosen: Dialect) -> Dict[Tuple[str, int], Origin]:
    """Where each interface's own primary address is, per family: the first address of its
    first static (not alias) stanza. Alias stanzas never count, wherever they stand."""
    found: Dict[Tuple[str, int], Origin] = {}
    for unit in units:
        if ":" in unit.name or (unit.method and unit.method != "static"):
            continue
        for value, origin in unit.values("address"):
            family = _family_of(value, unit)
            if family is not None:
                found.setdefault((unit.name, family), origin)
            if not chosen.merges:
                break
    return found


def _family_of(value: str, unit: Stanza) -> Optional[int]:
    if unit.family in _FAMILIES:
        return _FAMILIES[unit.family]
    text = value.split()[0] if value.split() else ""
    return 6 if ":" in text else 4 if text else None


def _unit(unit: Stanza, chosen: Dialect, dynamic: Set[Tuple[str, int]],
          primaries: Dict[Tuple[str, int], Origin], tables: RouteTables,
          out: Collector) -> None:
    if unit.method == "loopback" or (unit.family and unit.family not in _FAMILIES):
        return
    physical = _physical(unit.name)
    problem = values.ifname_problem(physical)
    if problem:
        out.problem(unit.origin, f"{problem}; stanza ignored")
        return
    if unit.method in ("static", "") or chosen.merges:  # -ng: `inet dhcp` and addresses
        _addresses(unit, physical, chosen, dynamic, primaries, out)
    _commands(unit, physical, tables, out)


def _addresses(unit: Stanza, physical: str, chosen: Dialect, dynamic: Set[Tuple[str, int]],
               primaries: Dict[Tuple[str, int], Origin], out: Collector) -> None:
    found = unit.values("address")
    if not chosen.merges:
        for value, origin in found[1:]:
            out.problem(origin, f"address {value}: ifup adds only the first 'address' of a "
                                "stanza; write one stanza per address; not kept")
        found = found[:1]
    netmasks = unit.values("netmask")
    netmask = netmasks[-1][0] if netmasks else None
    alias = ":" in unit.name
    for value, origin in found:
        family = _family_of(value, unit)
        if family is None:
            out.problem(origin, "address: no value; not kept")
            continue
        if primaries.get((unit.name, family)) == origin and (physical, family) not in dynamic:
            continue  # the interface's own primary
        if not chosen.dhcp_keeps_static and (physical, family) in dynamic:
            out.problem(origin, f"address {value}: {chosen.name} adds no static address to "
                                "an interface that gets DHCP; not kept")
            continue
        try:
            interface = _interface(value, netmask, family, chosen, origin, out)
            label = unit.name if alias and family == 4 else None
            problem = values.label_problem(label, physical, 4) if label else None
            if problem:
                raise ValueError(problem)
        except ValueError as exc:
            out.problem(origin, f"address {value}: {exc}; not kept")
            continue
        out.add(Address(physical, interface, label, origin=origin))


def _interface(value: str, netmask: Optional[str], family: int, chosen: Dialect,
               origin: Origin, out: Collector) -> IPInterface:
    words = value.split()
    if len(words) != 1:
        raise ValueError("expected one address")
    text = words[0]
    version = values.address(text.split("/", 1)[0]).version
    if version != family:
        raise ValueError(f"an IPv{version} address in an "
                         f"{'inet' if family == 4 else 'inet6'} stanza")
    if netmask is not None and ("/" not in text or chosen.netmask_wins):
        text = f"{text.split('/', 1)[0]}/{prefix_of_netmask(netmask, family)}"
    elif "/" not in text:
        host = values.address(text).max_prefixlen
        out.problem(origin, f"address {text} has no prefix length or netmask: kept as "
                            f"/{host}, as ip adds it")
        text = f"{text}/{host}"
    return values.interface_address(text)


def _environment(stanza: Stanza, phase: str) -> Dict[str, str]:
    """What ifupdown exports to the commands of a stanza."""
    env = {"IFACE": stanza.name, "LOGICAL": stanza.name, "ADDRFAM": stanza.family,
           "METHOD": stanza.method, "MODE": "start", "PHASE": phase, "VERBOSITY": "0"}
    for key, value, _origin in stanza.options:
        name = "IF_" + _ENV_NAME.sub("", key.upper().replace("-", "_"))
        env.setdefault(name, value)
    return env


def _commands(stanza: Stanza, physical: str, tables: RouteTables, out: Collector) -> None:
    for key in _COMMANDS:
        env = _environment(stanza, key)
        for value, origin in stanza.values(key):
            try:
                argvs = shellcmd.split(value, env)
            except ValueError as exc:
                out.problem(origin, f"'{key} {value}': {exc}; not kept")
                continue
            for argv in argvs:
                # Each command of a line stands alone: one that cannot be kept is reported.
                which = f" (in '{' '.join(argv)}')" if len(argvs) > 1 else ""
                try:
                    found = _command(argv, physical, tables, origin)
                except ValueError as exc:
                    out.problem(origin, f"'{key} {value}'{which}: {exc}; not kept")
                    continue
                if found is not None:
                    out.add(found)


def _command(argv: List[str], physical: str, tables: RouteTables,
             origin: Origin) -> Optional[KernelObject]:
    if argv[0] in _NET_TOOLS:
        raise ValueError(f"{argv[0]} (net-tools) is not read by nethook; "
                         "write it as an ip command")
    if argv[0] not in iproute.IP_PROGRAMS:
        return None
    return iproute.from_command(argv, ifname=physical, tables=tables, origin=origin)

"""Debian ifupdown (``/etc/network/interfaces`` and what it sources), read as ifup applies it.

What is kept:

* an alias stanza ``iface eth0:0 inet static``: every ``address`` line (``ADDR/PREFIX``,
  or ``ADDR`` with ``netmask``), on ``eth0`` with the label ``eth0:0``;
* ``iface eth0 inet static`` (or ``inet6 static``): every address but the first one of the
  interface's first static stanza of that family, which is the interface's own primary
  and ifupdown's business, not a secondary nethook keeps. When the interface also has a
  ``dhcp`` stanza of that family (``inet6``: ``dhcp`` or ``auto``), the lease is the
  primary and every static address is kept;
* ``pre-up``, ``up`` and ``post-up`` commands that run ``ip address|route|rule add``
  (also ``/sbin/ip``, ``ip -4``, ``ip -6``, ``replace``), with ``$IFACE``, ``$LOGICAL``
  and ``$IF_<OPTION>`` substituted as ifupdown sets them; a route without ``dev`` goes
  through the stanza's interface, and rules are restored with that interface.

Ignored on purpose: ``gateway`` (the main table's default route belongs to ifupdown or the
DHCP client; in an alias stanza it is a misconfiguration), ``down``/``pre-down``/
``post-down``, commands other than ``ip`` (``ethtool``, ``sleep``, ``ifup``), deletions,
``loopback`` stanzas, whether ``auto``/``allow-`` lines name the interface, and
``mapping`` stanzas (a stanza's name is taken as the interface's). Reported and skipped:
commands that would add something nethook cannot represent, ``ifconfig``/``route``
(net-tools) commands, and command lines that need the shell to evaluate them.
"""

from __future__ import annotations

import re
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
_DYNAMIC = {"inet": ("dhcp", "bootp"), "inet6": ("dhcp", "auto")}
_COMMANDS = ("pre-up", "up", "post-up")
_NET_TOOLS = frozenset({"ifconfig", "route", "/sbin/ifconfig", "/sbin/route",
                        "/usr/sbin/ifconfig", "/usr/sbin/route"})
_ENV_NAME = re.compile(r"[^A-Z0-9_]")


def present(root: Path) -> bool:
    return exists(root / INTERFACES)


def read(root: Path, tables: RouteTables) -> Imported:
    out = Collector(NAME)
    reader = Reader(root, out)
    reader.read(root / INTERFACES)
    stanzas = _inherit(reader.stanzas, out)
    dynamic = {(_physical(s.name), s.family) for s in stanzas
               if s.method in _DYNAMIC.get(s.family, ())}
    primaries: Set[Tuple[str, str]] = set()
    for stanza in stanzas:
        _stanza(stanza, dynamic, primaries, tables, out)
    return out.result()


def _physical(name: str) -> str:
    return name.split(":", 1)[0]


def _inherit(stanzas: List[Stanza], out: Collector) -> List[Stanza]:
    """Stanzas with the options of the template each ``inherits``, before its own."""
    seen: Dict[Tuple[str, str], Stanza] = {}
    result: List[Stanza] = []
    for stanza in stanzas:
        if stanza.inherits is not None:
            template = seen.get((stanza.inherits, stanza.family))
            if template is None:
                out.problem(stanza.origin, f"inherits {stanza.inherits}, which no earlier "
                                           f"{stanza.family} stanza defines; inherits nothing")
            else:
                stanza = Stanza(stanza.name, stanza.family, stanza.method, stanza.origin,
                                None, template.options + stanza.options)
        seen[(stanza.name, stanza.family)] = stanza
        result.append(stanza)
    return result


def _stanza(stanza: Stanza, dynamic: Set[Tuple[str, str]], primaries: Set[Tuple[str, str]],
            tables: RouteTables, out: Collector) -> None:
    if stanza.family not in _FAMILIES or stanza.method == "loopback":
        return
    physical = _physical(stanza.name)
    problem = values.ifname_problem(physical)
    if problem:
        out.problem(stanza.origin, f"{problem}; stanza ignored")
        return
    if stanza.method == "static":
        key = (physical, stanza.family)
        skip_first = ":" not in stanza.name and key not in dynamic and key not in primaries
        primaries.add(key)
        _addresses(stanza, physical, skip_first, out)
    _commands(stanza, physical, tables, out)


def _addresses(stanza: Stanza, physical: str, skip_first: bool, out: Collector) -> None:
    family = _FAMILIES[stanza.family]
    netmasks = stanza.values("netmask")
    netmask = netmasks[-1][0] if netmasks else None
    alias = ":" in stanza.name
    for index, (value, origin) in enumerate(stanza.values("address")):
        if skip_first and index == 0:
            continue  # the interface's own primary
        try:
            interface = _interface(value, netmask, family, origin, out)
            label = stanza.name if alias and family == 4 else None
            problem = values.label_problem(label, physical, 4) if label else None
            if problem:
                raise ValueError(problem)
        except ValueError as exc:
            out.problem(origin, f"address {value}: {exc}; not kept")
            continue
        out.add(Address(physical, interface, label, origin=origin))


def _interface(value: str, netmask: Optional[str], family: int, origin: Origin,
               out: Collector) -> IPInterface:
    words = value.split()
    if len(words) != 1:
        raise ValueError("expected one address")
    text = words[0]
    if "/" not in text:
        if netmask is not None:
            text = f"{text}/{prefix_of_netmask(netmask, family)}"
        else:
            host = values.address(text).max_prefixlen
            out.problem(origin, f"address {text} has no prefix length or netmask: kept as "
                                f"/{host}, as ip adds it")
            text = f"{text}/{host}"
    interface = values.interface_address(text)
    if interface.version != family:
        raise ValueError(f"an IPv{interface.version} address in an "
                         f"{'inet' if family == 4 else 'inet6'} stanza")
    return interface


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

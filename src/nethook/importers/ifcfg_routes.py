"""``route-IFACE``, ``route6-IFACE``, ``rule-IFACE`` and ``rule6-IFACE`` from network-scripts.

Read as initscripts' ifup-routes reads them:

* a route file with any ``ADDRESSn=`` line is in the key-value format: ``ADDRESS0``,
  ``NETMASK0``, ``GATEWAY0`` (and NetworkManager's ``METRIC0`` and ``OPTIONS0``), then
  ``ADDRESS1`` ..., up to the first missing ``ADDRESSn``; routes go in the main table
  through the interface;
* any other route or rule file holds one ``ip route add`` / ``ip rule add`` argument list
  per line (``-4`` for ``route-``/``rule-``, ``-6`` for ``route6-``/``rule6-``). Blank
  lines and lines starting with ``#`` are skipped. The words are split on whitespace,
  without quote removal, as ``read line`` and ``ip $line`` do; an end-of-line comment is
  therefore an error, as it is for ``ip``.
"""

from __future__ import annotations

import re
from typing import Optional

from nethook.config import values
from nethook.config.rt_tables import RouteTables
from nethook.importers import iproute, shellvars
from nethook.importers.base import Collector, classful_prefix, prefix_of_netmask
from nethook.model.objects import Origin

_KEY_VALUE = re.compile(r"^[ \t]*ADDRESS[0-9]+=", re.MULTILINE)
_SKIPPED = re.compile(r"[ \t]*(#.*)?\Z")
_INDEXED = re.compile(r"ADDRESS([0-9]+)\Z")


def read(text: str, source: str, *, kind: str, family: int, ifname: str,
         tables: RouteTables, out: Collector) -> None:
    """Everything one file declares for ``ifname``; ``kind`` is "route" or "rule"."""
    if kind == "route" and _KEY_VALUE.search(text):
        _key_value(text, source, ifname, tables, out)
        return
    parse = iproute.route_from_args if kind == "route" else iproute.rule_from_args
    for number, line in enumerate(text.splitlines(), start=1):
        if _SKIPPED.match(line):
            continue
        origin = Origin(source, number)
        try:
            out.add(parse(line.split(), family=family, ifname=ifname, tables=tables,
                          origin=origin))
        except ValueError as exc:
            out.problem(origin, f"'{line.strip()}': {exc}; not kept")


def _key_value(text: str, source: str, ifname: str, tables: RouteTables,
               out: Collector) -> None:
    variables, problems = shellvars.parse(text, source)
    out.problems.extend(problems)
    index = 0
    while variables.var(f"ADDRESS{index}") is not None:
        _indexed_route(variables, index, ifname, tables, out)
        index += 1
    for name, var in variables.variables.items():
        match = _INDEXED.match(name)
        if match and int(match.group(1)) > index and var.value:
            out.problem(var.origin, f"{name} is not used: initscripts stops at the first "
                                    f"missing ADDRESSn (ADDRESS{index} is missing)")


def _indexed_route(variables: shellvars.ShellVars, index: int, ifname: str,
                   tables: RouteTables, out: Collector) -> None:
    names = [f"{key}{index}" for key in ("ADDRESS", "NETMASK", "GATEWAY", "METRIC", "OPTIONS")]
    origin = variables.origin(names[0])
    expanding = [n for n in names if (v := variables.var(n)) is not None and v.expands]
    if expanding:
        out.problem(origin, f"{expanding[0]} uses shell expansion, which nethook does not "
                            "evaluate; route not kept")
        return
    address, netmask, gateway, metric, options = (variables.get(n) for n in names)
    assert address is not None
    try:
        prefix = _prefix(address, netmask, names[1], out, origin)
        if prefix is None:
            return
        args = [f"{address}/{prefix}"]
        args += ["via", gateway] if gateway else []
        args += ["metric", metric] if metric else []
        args += options.split() if options else []
        out.add(iproute.route_from_args(args, family=None, ifname=ifname, tables=tables,
                                        origin=origin))
    except ValueError as exc:
        out.problem(origin, f"route {index} ({names[0]}={address}): {exc}; not kept")


def _prefix(address: str, netmask: Optional[str], key: str, out: Collector,
            origin: Origin) -> Optional[int]:
    if netmask:
        return prefix_of_netmask(netmask)
    classful = classful_prefix(values.address(address))
    if classful is None:
        raise ValueError(f"{key} is missing")
    out.problem(origin, f"{key} is missing: kept as /{classful}, the classful prefix "
                        f"initscripts gives {address}")
    return classful


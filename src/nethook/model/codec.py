"""Model objects to and from plain JSON-able dicts (ownership record, snapshots, journal)."""

from __future__ import annotations

import ipaddress
from typing import Any, Callable, Dict, Optional

from nethook.base.errors import StateError
from nethook.model.objects import Address, KernelObject, Origin, Route, Rule

JsonDict = Dict[str, Any]


def to_dict(obj: KernelObject) -> JsonDict:
    if isinstance(obj, Address):
        return _compact({"kind": "address", "ifname": obj.ifname,
                         "address": obj.interface.with_prefixlen, "label": obj.label})
    if isinstance(obj, Route):
        return _compact({"kind": "route", "to": obj.dst.with_prefixlen, "table": obj.table,
                         "metric": obj.metric, "ifname": obj.ifname,
                         "via": _str(obj.gateway), "src": _str(obj.src),
                         "scope": obj.scope, "onlink": obj.onlink or None})
    return _compact({"kind": "rule", "family": obj.family, "priority": obj.priority,
                     "from": _net(obj.src), "to": _net(obj.dst), "fwmark": obj.fwmark,
                     "fwmask": obj.fwmask, "iif": obj.iif, "oif": obj.oif,
                     "table": obj.table, "ifname": obj.ifname})


def from_dict(data: JsonDict, origin: Optional[Origin] = None) -> KernelObject:
    """Rebuild an object (with ``origin``); a record that does not parse raises
    StateError."""
    try:
        return _DECODERS[data["kind"]](data, origin)
    except (KeyError, TypeError, ValueError) as exc:
        raise StateError(f"unreadable state record {data!r}: {exc}") from exc


def _address(d: JsonDict, origin: Optional[Origin]) -> Address:
    return Address(ifname=str(d["ifname"]), interface=ipaddress.ip_interface(d["address"]),
                   label=d.get("label"), origin=origin)


def _route(d: JsonDict, origin: Optional[Origin]) -> Route:
    return Route(dst=ipaddress.ip_network(d["to"]), table=int(d["table"]),
                 metric=int(d.get("metric", 0)), ifname=d.get("ifname"),
                 gateway=_ip(d.get("via")), src=_ip(d.get("src")), scope=d.get("scope"),
                 onlink=bool(d.get("onlink", False)), origin=origin)


def _rule(d: JsonDict, origin: Optional[Origin]) -> Rule:
    return Rule(table=int(d["table"]), family=int(d["family"]), priority=d.get("priority"),
                src=_network(d.get("from")), dst=_network(d.get("to")),
                fwmark=d.get("fwmark"), fwmask=d.get("fwmask"), iif=d.get("iif"),
                oif=d.get("oif"), ifname=d.get("ifname"), origin=origin)


_DECODERS: Dict[str, Callable[[JsonDict, Optional[Origin]], KernelObject]] = {
    "address": _address, "route": _route, "rule": _rule,
}


def _compact(d: JsonDict) -> JsonDict:
    return {k: v for k, v in d.items() if v is not None}


def _str(value: Optional[object]) -> Optional[str]:
    return None if value is None else str(value)


def _net(value: Optional[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> Optional[str]:
    return None if value is None else value.with_prefixlen


def _ip(value: Optional[str]) -> Optional[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    return None if value is None else ipaddress.ip_address(value)


def _network(value: Optional[str]) -> Optional[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return None if value is None else ipaddress.ip_network(value)

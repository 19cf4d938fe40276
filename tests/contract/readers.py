"""Three readers of one namespace's rtnetlink state, as model objects: nethook's decoder,
pyroute2's message classes (the model's rules written once more over pyroute2's parsing:
the bytes are pyroute2's to read), and ``ip -j``. Used by test_codec_oracles.py.

pyroute2 is imported only by the tests: nethook itself never uses it.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Set, Tuple

import pytest

from lab.netns import Namespace
from nethook.adapters import rtnl_codec as codec
from nethook.adapters import rtnl_decode as decode
from nethook.model.objects import Address, IPInterface, Route, Rule

pr_fibmsg = pytest.importorskip("pyroute2.netlink.rtnl.fibmsg").fibmsg
pr_ifaddrmsg = pytest.importorskip("pyroute2.netlink.rtnl.ifaddrmsg").ifaddrmsg
pr_ifinfmsg = pytest.importorskip("pyroute2.netlink.rtnl.ifinfmsg").ifinfmsg
pr_rtmsg = pytest.importorskip("pyroute2.netlink.rtnl.rtmsg").rtmsg

KERNEL_LINK_LOCAL = ipaddress.ip_network("fe80::/64")
PERMANENT = 0x80
Dump = List[Tuple[bytes, codec.Frame]]


@dataclass(frozen=True)
class Reading:
    """What one reader makes of the whole namespace."""

    links: FrozenSet[str]
    addresses: FrozenSet[Address]
    dynamic: FrozenSet[Tuple[str, IPInterface]]
    routes: FrozenSet[Route]
    rules: FrozenSet[Rule]


def raw_dump(request: bytes) -> Dump:
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as sock:
        sock.bind((0, 0))
        sock.settimeout(5)
        sock.send(request)
        found = []
        while True:
            data = sock.recv(1 << 18)
            for frame in codec.frames(data):
                if frame.kind in (codec.NLMSG_DONE, codec.NLMSG_ERROR):
                    assert codec.error_of(data, frame) == (0, "")
                    return found
                found.append((data, frame))


# -- pyroute2's reading ------------------------------------------------------------------


def pr(cls: Any, data: bytes, frame: codec.Frame) -> Any:
    msg = cls(data, offset=frame.offset, length=frame.length)
    msg.decode()
    return msg


def pr_ip(text: Optional[str]) -> Any:
    return ipaddress.ip_address(text) if text else None


def pr_network(text: Optional[str], prefixlen: int, family: int) -> Any:
    zero = "0.0.0.0" if family == socket.AF_INET else "::"
    return ipaddress.ip_network(f"{text or zero}/{prefixlen}", strict=False)


def pr_address(msg: Any, names: Dict[int, str]) -> Optional[Tuple[Address, bool]]:
    family, ifname = msg["family"], names.get(msg["index"])
    if ifname is None or family not in (socket.AF_INET, socket.AF_INET6):
        return None
    local = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
    interface = ipaddress.ip_interface(f"{local}/{msg['prefixlen']}")
    if interface.network == KERNEL_LINK_LOCAL:
        return None
    label = msg.get_attr("IFA_LABEL") if family == socket.AF_INET else None
    flags = msg.get_attr("IFA_FLAGS")
    permanent = bool((msg["flags"] if flags is None else flags) & PERMANENT)
    return Address(ifname, interface, None if label == ifname else label), permanent


def pr_route(msg: Any, names: Dict[int, str]) -> Optional[Route]:
    if (msg["family"] not in (socket.AF_INET, socket.AF_INET6) or msg["type"] != 1
            or msg["tos"] or msg["flags"] & codec.RTM_F_CLONED):
        return None
    oif = msg.get_attr("RTA_OIF")
    return Route(
        dst=pr_network(msg.get_attr("RTA_DST"), msg["dst_len"], msg["family"]),
        table=msg.get_attr("RTA_TABLE") or msg["table"],
        metric=msg.get_attr("RTA_PRIORITY") or 0, ifname=None if oif is None else names[oif],
        gateway=pr_ip(msg.get_attr("RTA_GATEWAY")), src=pr_ip(msg.get_attr("RTA_PREFSRC")),
        scope=codec.SCOPE_NAMES.get(msg["scope"], str(msg["scope"])),
        onlink=bool(msg["flags"] & codec.RTNH_F_ONLINK))


PR_RULE_ATTRS = {"FRA_DST", "FRA_SRC", "FRA_IIFNAME", "FRA_PRIORITY", "FRA_FWMARK",
                 "FRA_TABLE", "FRA_FWMASK", "FRA_OIFNAME", "FRA_PAD", "FRA_PROTOCOL",
                 "FRA_SUPPRESS_IFGROUP", "FRA_SUPPRESS_PREFIXLEN"}


def pr_rule(msg: Any) -> Optional[Rule]:
    family = msg["family"]
    if (family not in (socket.AF_INET, socket.AF_INET6) or msg["action"] != 1 or msg["tos"]
            or msg["flags"] & 0x2 or any(nla[0] not in PR_RULE_ATTRS for nla in msg["attrs"])
            or any(msg.get_attr(name) not in (None, 0xFFFFFFFF)
                   for name in ("FRA_SUPPRESS_IFGROUP", "FRA_SUPPRESS_PREFIXLEN"))):
        return None
    src, dst = msg.get_attr("FRA_SRC"), msg.get_attr("FRA_DST")
    fwmark, fwmask = msg.get_attr("FRA_FWMARK"), msg.get_attr("FRA_FWMASK")
    return Rule(
        table=msg.get_attr("FRA_TABLE") or msg["table"], family=4 if family == 2 else 6,
        priority=msg.get_attr("FRA_PRIORITY") or 0,
        src=pr_network(src, msg["src_len"], family) if src else None,
        dst=pr_network(dst, msg["dst_len"], family) if dst else None,
        fwmark=0 if fwmark is None and fwmask is not None else fwmark,
        fwmask=None if fwmask == 0xFFFFFFFF else fwmask,
        iif=msg.get_attr("FRA_IIFNAME"), oif=msg.get_attr("FRA_OIFNAME"))


def reading(link: Callable[[bytes, codec.Frame], Tuple[int, str]],
            address: Callable[[bytes, codec.Frame, Dict[int, str]], Any],
            route: Callable[[bytes, codec.Frame, Dict[int, str]], Optional[Route]],
            rule: Callable[[bytes, codec.Frame], Optional[Rule]]) -> Reading:
    """Every dump of the namespace, read by one set of functions."""
    names = dict(link(d, f) for d, f in raw_dump(codec.link_dump(1)))
    addresses = [a for d, f in raw_dump(codec.address_dump(1))
                 if (a := address(d, f, names)) is not None]
    routes = [route(d, f, names) for d, f in raw_dump(codec.route_dump(1))]
    rules = [rule(d, f) for d, f in raw_dump(codec.rule_dump(1))]
    return Reading(frozenset(names.values()), frozenset(a for a, _ in addresses),
                   frozenset(a.key for a, permanent in addresses if not permanent),
                   frozenset(filter(None, routes)), frozenset(filter(None, rules)))


def nethook_reading() -> Reading:
    def link(data: bytes, frame: codec.Frame) -> Tuple[int, str]:
        found = decode.link(data, frame)
        return found.ifindex, str(found.name)

    return reading(link, decode.address,
                   lambda d, f, names: decode.route(d, f, names, known_links=True),
                   decode.rule)


def pyroute2_reading() -> Reading:
    def link(data: bytes, frame: codec.Frame) -> Tuple[int, str]:
        msg = pr(pr_ifinfmsg, data, frame)
        return msg["index"], msg.get_attr("IFLA_IFNAME")

    return reading(link, lambda d, f, names: pr_address(pr(pr_ifaddrmsg, d, f), names),
                   lambda d, f, names: pr_route(pr(pr_rtmsg, d, f), names),
                   lambda d, f: pr_rule(pr(pr_fibmsg, d, f)))


# -- ip -j's reading -----------------------------------------------------------------------


TABLE_NAMES = {"main": 254, "local": 255, "default": 253}
IP_RULE_KEYS = {"priority", "src", "srclen", "dst", "dstlen", "fwmark", "fwmask", "iif",
                "oif", "table", "protocol", "iif_detached", "oif_detached"}


def ip_network(text: str, family: int) -> Any:
    if text == "default":
        return ipaddress.ip_network("0.0.0.0/0" if family == 4 else "::/0")
    return ipaddress.ip_network(text)  # a host route has no "/32"


def ip_addresses(ns: Namespace) -> Tuple[Set[Address], Set[Tuple[str, IPInterface]]]:
    found, dynamic = set(), set()
    for link in ns.ip_json("address", "show"):
        for info in link["addr_info"]:
            interface = ipaddress.ip_interface(f"{info['local']}/{info['prefixlen']}")
            if interface.network == KERNEL_LINK_LOCAL:
                continue
            label = info.get("label") if info["family"] == "inet" else None
            address = Address(link["ifname"], interface,
                              None if label == link["ifname"] else label)
            found.add(address)
            if info.get("dynamic"):
                dynamic.add(address.key)
    return found, dynamic


def ip_routes(ns: Namespace, family: int) -> Set[Route]:
    routes = set()
    for entry in ns.ip_json(f"-{family}", "route", "show", "table", "all"):
        if entry.get("type", "unicast") != "unicast" or "tos" in entry:
            continue
        table = entry.get("table", "main")
        routes.add(Route(
            ip_network(entry["dst"], family), table=TABLE_NAMES.get(table) or int(table),
            metric=entry.get("metric", 0), ifname=entry.get("dev"),
            gateway=ipaddress.ip_address(entry["gateway"]) if "gateway" in entry else None,
            src=ipaddress.ip_address(entry["prefsrc"]) if "prefsrc" in entry else None,
            scope=entry.get("scope", "global"), onlink="onlink" in entry["flags"]))
    return routes


def ip_selector(entry: Dict[str, Any], key: str) -> Any:
    """``from`` or ``to``: "all" or absent is none, a host has no length."""
    if entry.get(key, "all") == "all":
        return None
    length = entry.get(f"{key}len")
    return ipaddress.ip_network(entry[key] if length is None else f"{entry[key]}/{length}")


def ip_rules(ns: Namespace, family: int) -> Set[Rule]:
    rules = set()
    for entry in ns.ip_json(f"-{family}", "rule", "show"):
        if "table" not in entry or set(entry) - IP_RULE_KEYS:
            continue  # another action, or a selector the model cannot state
        table = entry["table"]
        rules.add(Rule(
            table=TABLE_NAMES.get(table) or int(table), family=family,
            priority=entry["priority"],
            src=ip_selector(entry, "src"), dst=ip_selector(entry, "dst"),
            fwmark=int(entry["fwmark"], 16) if "fwmark" in entry else None,
            fwmask=int(entry["fwmask"], 16) if "fwmask" in entry else None,
            iif=entry.get("iif"), oif=entry.get("oif")))
    return rules


def ip_reading(ns: Namespace) -> Reading:
    addresses, dynamic = ip_addresses(ns)
    return Reading(frozenset(link["ifname"] for link in ns.ip_json("link", "show")),
                   frozenset(addresses), frozenset(dynamic),
                   frozenset(ip_routes(ns, 4) | ip_routes(ns, 6)),
                   frozenset(ip_rules(ns, 4) | ip_rules(ns, 6)))


# -- notifications, one message at a time ---------------------------------------------


def received(sock: socket.socket) -> Dump:
    found: Dump = []
    while True:
        try:
            data = sock.recv(1 << 16)
        except BlockingIOError:
            return found
        found.extend((data, frame) for frame in codec.frames(data))


def decoded(data: bytes, frame: codec.Frame, names: Dict[int, str]) -> object:
    if frame.kind in (codec.RTM_NEWADDR, codec.RTM_DELADDR):
        return decode.address(data, frame, names)
    if frame.kind in (codec.RTM_NEWROUTE, codec.RTM_DELROUTE):
        return decode.route(data, frame, names, known_links=True)
    if frame.kind in (codec.RTM_NEWRULE, codec.RTM_DELRULE):
        return decode.rule(data, frame)
    return None


def pyroute2_decoded(data: bytes, frame: codec.Frame, names: Dict[int, str]) -> object:
    if frame.kind in (codec.RTM_NEWADDR, codec.RTM_DELADDR):
        return pr_address(pr(pr_ifaddrmsg, data, frame), names)
    if frame.kind in (codec.RTM_NEWROUTE, codec.RTM_DELROUTE):
        return pr_route(pr(pr_rtmsg, data, frame), names)
    if frame.kind in (codec.RTM_NEWRULE, codec.RTM_DELRULE):
        return pr_rule(pr(pr_fibmsg, data, frame))
    return None

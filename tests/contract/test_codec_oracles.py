"""nethook's rtnetlink codec against two independent readers: pyroute2 and ``ip -j``.

One namespace holds a varied state: addresses with labels, lifetimes and flags beyond the
header's 8 bits; unicast routes in every table (main, local, default, 100, 1000, 70000)
with metrics, gateways, onlink, scope, source and several protocols, and what nethook
leaves out (blackhole, TOS); rules of both families with priorities, marks and masks,
interfaces, and what the model cannot state (not, blackhole, ipproto, uidrange). Then:

* the same dump bytes are decoded by ``rtnl_decode`` and by pyroute2's message classes
  (Debian 12's 0.7.2 in tox's debian12 env, the current release in py3), and ``ip -j``
  lists the same state: all three agree;
* the adapter's observations of several scopes (its per-interface and per-table dumps,
  and the one-dump fallback of a kernel without strict checking) are those readings,
  narrowed to the scope;
* the notifications of tearing it all down decode alike;
* every request nethook encodes is byte for byte what pyroute2 encodes.

pyroute2 is imported only here, by the tests: nethook itself never uses it.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Set, Tuple

import pytest

from lab.netns import Namespace, VethNamespace, veth_namespace
from nethook.adapters import netlink as adapter
from nethook.adapters import rtnl_codec as codec
from nethook.adapters import rtnl_decode as decode
from nethook.model.objects import Address, IPInterface, Observed, Route, Rule
from nethook.model.ops import RTPROT_NETHOOK, AddressOp, Op, RouteOp, RuleOp, Verb
from nethook.watch import rtnl
from tests.contract.test_netlink_contract import entered

pr_fibmsg = pytest.importorskip("pyroute2.netlink.rtnl.fibmsg").fibmsg
pr_ifaddrmsg = pytest.importorskip("pyroute2.netlink.rtnl.ifaddrmsg").ifaddrmsg
pr_ifinfmsg = pytest.importorskip("pyroute2.netlink.rtnl.ifinfmsg").ifinfmsg
pr_rtmsg = pytest.importorskip("pyroute2.netlink.rtnl.rtmsg").rtmsg

SETUP = [
    "link add eth2 type veth peer name eth3",
    "link set eth2 up", "link set eth3 up", "link set lo up",
    "addr add 10.77.0.2/24 dev eth0",
    "addr add 10.77.0.50/24 dev eth0 label eth0:0",
    "addr add 192.0.2.7/32 dev eth0",
    "addr add 10.77.0.60/24 dev eth0 valid_lft 300 preferred_lft 300",
    "addr add 10.88.0.5/24 dev eth0 noprefixroute label eth0:np",
    "addr add 10.66.0.1/24 dev eth2",
    "-6 addr add 2001:db8:77::50/64 dev eth0 nodad",
    "-6 addr add 2001:db8:77::60/64 dev eth0 nodad valid_lft 300 preferred_lft 200",
    "-6 addr add 2001:db8:78::1/64 dev eth0 nodad noprefixroute",
    "-6 addr add 2001:db8:66::1/64 dev eth2 nodad",
    "route add default via 10.77.0.1 dev eth0 table 100",
    "route add 10.94.0.0/24 dev eth0 scope host table 100",
    "route add 10.89.0.0/24 dev eth2 table 100",
    "route add 10.99.0.0/24 via 10.77.0.1 dev eth0 table 70000 metric 10",
    "route add 10.98.0.0/24 dev eth0 scope link src 10.77.0.50 table 1000",
    "route add 10.97.0.0/24 via 10.77.0.1 dev eth0 onlink table 1000",
    "route add 10.96.0.0/24 via 10.77.0.1 dev eth0 proto static table 1000",
    "route add 10.95.0.0/24 via 10.77.0.1 dev eth0 proto dhcp metric 100",
    "route add 10.92.0.0/24 via 10.77.0.1 dev eth0 table default",
    "route add 10.91.0.5 dev eth0 table local",
    "route add blackhole 10.93.0.0/24 table 1000",
    "route add 10.90.0.0/24 via 10.77.0.1 dev eth0 tos 0x10 table 1000",
    "-6 route add 2001:db8:9::/48 via 2001:db8:77::1 dev eth0 table 1000",
    "-6 route add 2001:db8:8::/48 via fe80::1 dev eth0 metric 5 table 70000",
    "-6 route add 2001:db8:7::/48 dev eth0 proto static",
    "rule add from 10.77.0.50 table 100 priority 1000",
    "rule add to 192.0.2.0/24 fwmark 0x10/0xff iif eth0 table 70000 priority 1001",
    "rule add fwmark 0x0/0xff oif lo table 100 priority 1002",
    "rule add not from 10.1.0.0/16 table 100 priority 1003",
    "rule add from 10.2.0.0/16 priority 1004 blackhole",
    "rule add fwmark 0x20 table 100 priority 1006",
    "rule add ipproto tcp table 100 priority 1007",
    "rule add uidrange 1000-2000 table 100 priority 1008",
    "rule add from 10.3.0.0/16 table 100",  # the kernel picks the priority
    "-6 rule add from 2001:db8::/32 table 200 priority 1005",
    "-6 rule add to 2001:db8:5::/48 iif nosuch0 oif lo fwmark 0x5/0xf table 70000 "
    "priority 1009",
]
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
# The model's rules, written once more over pyroute2's parsed messages; the bytes are
# pyroute2's to read.


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


# -- the namespace ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab() -> Iterator[VethNamespace]:
    from tests.conftest import require_privileged

    require_privileged()
    with veth_namespace() as veth:
        for name in ("all", "default", "eth0"):
            veth.ns.sysctl(f"net.ipv6.conf.{name}.accept_dad", "0")
        veth.ns.ip("link", "set", "eth0", "up")
        for line in SETUP:
            veth.ns.ip(*line.split())
        yield veth


@pytest.fixture(scope="module")
def readings(lab: VethNamespace) -> Dict[str, Reading]:
    with entered(lab.name):
        ours, theirs = nethook_reading(), pyroute2_reading()
    return {"nethook": ours, "pyroute2": theirs, "ip": ip_reading(lab.ns)}


pytestmark = pytest.mark.privileged


def test_the_state_has_what_the_comparison_is_about(readings: Dict[str, Reading]) -> None:
    ours = readings["nethook"]
    assert {a.label for a in ours.addresses} >= {"eth0:0", "eth0:np", None}
    assert {str(ip) for _name, ip in ours.dynamic} == {"10.77.0.60/24", "2001:db8:77::60/64"}
    assert {r.table for r in ours.routes} == {100, 253, 254, 255, 1000, 70000}
    assert {r.scope for r in ours.routes} == {"global", "link", "host"}
    assert any(r.onlink for r in ours.routes) and any(r.src for r in ours.routes)
    assert not {r.dst for r in ours.routes} & {ipaddress.ip_network("10.93.0.0/24"),
                                               ipaddress.ip_network("10.90.0.0/24")}
    (picked,) = [r.priority for r in ours.rules if r.src == ipaddress.ip_network("10.3.0.0/16")]
    assert {r.priority for r in ours.rules} - {0, 32766, 32767} == {
        1000, 1001, 1002, 1005, 1006, 1009, picked}
    assert {r.family for r in ours.rules} == {4, 6}


@pytest.mark.parametrize("part", ["links", "addresses", "dynamic", "routes", "rules"])
@pytest.mark.parametrize("oracle", ["pyroute2", "ip"])
def test_nethook_reads_the_kernel_as_the_oracles_do(readings: Dict[str, Reading], part: str,
                                                    oracle: str) -> None:
    assert getattr(readings["nethook"], part) == getattr(readings[oracle], part)


SCOPES = [
    (["eth0"], [100, 1000, 70000]),
    (["eth0", "eth2", "lo"], None),
    (["eth2"], [253, 254, 255]),
    (["nosuch0"], [4242]),
    ([], []),
]


def expected(full: Reading, ifnames: List[str], tables: Optional[List[int]]) -> Observed:
    return Observed(
        links=full.links,
        addresses=frozenset(a for a in full.addresses if a.ifname in ifnames),
        routes=frozenset(r for r in full.routes if tables is None or r.table in tables),
        rules=full.rules,
        dynamic=frozenset(key for key in full.dynamic if key[0] in ifnames))


@pytest.mark.parametrize("strict", [True, False], ids=["strict", "one-dump"])
@pytest.mark.parametrize("ifnames, tables", SCOPES)
def test_the_adapter_observes_just_the_scope(lab: VethNamespace, readings: Dict[str, Reading],
                                             strict: bool, ifnames: List[str],
                                             tables: Optional[List[int]]) -> None:
    """``one-dump``: what the adapter does where the kernel has no strict checking."""
    with entered(lab.name):
        netlink = adapter.open_netlink()
    with netlink:
        assert netlink.strict  # this kernel has it; without it the other branch is taken
        netlink.strict = strict
        observed = netlink.observe(ifnames, tables)
    assert observed == expected(readings["pyroute2"], ifnames, tables)


# -- notifications -------------------------------------------------------------------------


def test_notifications_decode_as_pyroute2_reads_them() -> None:
    """Everything torn down, and the kernel's RTM_DEL* notices read by both decoders."""
    with veth_namespace() as veth:
        veth.ns.sysctl("net.ipv6.conf.eth0.accept_dad", "0")
        for line in SETUP:
            veth.ns.ip(*line.split())
        with entered(veth.name):
            sub = rtnl.Subscription()
            names = dict(sub.names)
        try:
            for line in ("-4 rule flush", "-6 rule flush", "route flush table all",
                         "-6 route flush table all", "addr flush dev eth0",
                         "addr flush dev eth2"):
                veth.ns.ip(*line.split())
            time.sleep(0.1)
            notices = received(sub.sock)
        finally:
            sub.close()
    kinds = {f.kind for _d, f in notices}
    assert {codec.RTM_DELADDR, codec.RTM_DELROUTE, codec.RTM_DELRULE} <= kinds
    ours = [decoded(d, f, names) for d, f in notices]
    theirs = [pyroute2_decoded(d, f, names) for d, f in notices]
    assert ours == theirs
    assert {type(o) for o in ours} == {type(None), tuple, Route, Rule}  # tuple: an address


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


# -- requests: what pyroute2 would encode --------------------------------------------------


def pr_bytes(cls: Any, kind: int, flags: int, fields: Dict[str, int], attrs: List[Any]) -> bytes:
    msg = cls()
    msg["header"]["type"], msg["header"]["flags"] = kind, flags
    msg["header"]["sequence_number"] = 7
    for name, value in fields.items():
        msg[name] = value
    msg["attrs"] = attrs
    msg.encode()
    return bytes(msg.data)


def net(text: str) -> Any:
    return ipaddress.ip_network(text)


def ip(text: str) -> Any:
    return ipaddress.ip_address(text)


NEW = 0x1 | 0x4 | 0x400 | 0x200  # REQUEST | ACK | CREATE | EXCL
REPLACE = 0x1 | 0x4 | 0x400 | 0x100  # REQUEST | ACK | CREATE | REPLACE
DELETE = 0x1 | 0x4  # REQUEST | ACK
DUMP = 0x1 | 0x300  # REQUEST | DUMP
RULE = Rule(table=70000, priority=100, src=net("10.1.0.0/16"), dst=net("10.2.0.0/16"),
            fwmark=0x10, fwmask=0xFF, iif="eth0", oif="lo")
REQUESTS: List[Tuple[Op, Any, int, int, Dict[str, int], List[Any]]] = [
    (AddressOp(Verb.ADD, Address("eth0", ipaddress.ip_interface("192.0.2.20/24"), "eth0:nh")),
     pr_ifaddrmsg, 20, NEW, {"family": 2, "prefixlen": 24, "index": 3},
     [("IFA_LOCAL", "192.0.2.20"), ("IFA_ADDRESS", "192.0.2.20"), ("IFA_LABEL", "eth0:nh")]),
    (AddressOp(Verb.DELETE, Address("eth0", ipaddress.ip_interface("2001:db8::5/64"))),
     pr_ifaddrmsg, 21, DELETE, {"family": 10, "prefixlen": 64, "index": 3},
     [("IFA_LOCAL", "2001:db8::5"), ("IFA_ADDRESS", "2001:db8::5")]),
    (AddressOp(Verb.ADD, Address("lo", ipaddress.ip_interface("127.0.0.9/8"))),
     pr_ifaddrmsg, 20, NEW, {"family": 2, "prefixlen": 8, "scope": 254, "index": 3},
     [("IFA_LOCAL", "127.0.0.9"), ("IFA_ADDRESS", "127.0.0.9")]),
    (RouteOp(Verb.REPLACE, Route(net("2001:db8:1::/64"), table=1000, metric=100, ifname="eth0",
                                 gateway=ip("fe80::1"), src=ip("2001:db8::10"))),
     pr_rtmsg, 24, REPLACE, {"family": 10, "dst_len": 64, "proto": RTPROT_NETHOOK, "type": 1},
     [("RTA_TABLE", 1000), ("RTA_DST", "2001:db8:1::"), ("RTA_OIF", 3),
      ("RTA_GATEWAY", "fe80::1"), ("RTA_PREFSRC", "2001:db8::10"), ("RTA_PRIORITY", 100)]),
    (RouteOp(Verb.ADD, Route(net("0.0.0.0/0"), table=100, ifname="eth0",
                             gateway=ip("10.255.0.1"), onlink=True)),
     pr_rtmsg, 24, NEW, {"family": 2, "table": 100, "proto": RTPROT_NETHOOK, "type": 1,
                         "flags": codec.RTNH_F_ONLINK},
     [("RTA_TABLE", 100), ("RTA_OIF", 3), ("RTA_GATEWAY", "10.255.0.1")]),
    (RouteOp(Verb.ADD, Route(net("203.0.113.0/24"), table=254, ifname="eth0", scope="host")),
     pr_rtmsg, 24, NEW, {"family": 2, "dst_len": 24, "table": 254, "proto": RTPROT_NETHOOK,
                         "scope": 254, "type": 1},
     [("RTA_TABLE", 254), ("RTA_DST", "203.0.113.0"), ("RTA_OIF", 3)]),
    (RouteOp(Verb.DELETE, Route(net("198.51.100.0/24"), table=70000, ifname="eth0")),
     pr_rtmsg, 25, DELETE, {"family": 2, "dst_len": 24, "scope": 255, "type": 1},
     [("RTA_TABLE", 70000), ("RTA_DST", "198.51.100.0"), ("RTA_OIF", 3)]),
    (RuleOp(Verb.ADD, RULE), pr_fibmsg, 32, NEW,
     {"family": 2, "dst_len": 16, "src_len": 16, "action": 1},
     [("FRA_PRIORITY", 100), ("FRA_TABLE", 70000), ("FRA_SRC", "10.1.0.0"),
      ("FRA_DST", "10.2.0.0"), ("FRA_FWMARK", 0x10), ("FRA_FWMASK", 0xFF),
      ("FRA_IIFNAME", "eth0"), ("FRA_OIFNAME", "lo"), ("FRA_PROTOCOL", RTPROT_NETHOOK)]),
    (RuleOp(Verb.DELETE, Rule(table=200, family=6, priority=5, src=net("2001:db8::/32"))),
     pr_fibmsg, 33, DELETE, {"family": 10, "src_len": 32, "table": 200, "action": 1},
     [("FRA_PRIORITY", 5), ("FRA_TABLE", 200), ("FRA_SRC", "2001:db8::")]),
]


@pytest.mark.parametrize("op, cls, kind, flags, fields, attrs", REQUESTS,
                         ids=[op.describe() for op, *_rest in REQUESTS])
def test_requests_encode_like_pyroute2(op: Op, cls: Any, kind: int, flags: int,
                                       fields: Dict[str, int], attrs: List[Any]) -> None:
    index = None if isinstance(op, RuleOp) else 3
    assert codec.request(op, 7, index) == pr_bytes(cls, kind, flags, fields, attrs)
    assert codec.acked(codec.request(op, 7, index, ack=False)) == codec.request(op, 7, index)


def test_dump_requests_encode_like_pyroute2() -> None:
    assert codec.link_dump(7) == pr_bytes(pr_ifinfmsg, 18, DUMP, {},
                                          [("IFLA_EXT_MASK", codec.RTEXT_FILTER_SKIP_STATS)])
    assert codec.address_dump(7, index=3) == pr_bytes(pr_ifaddrmsg, 22, DUMP, {"index": 3}, [])
    unspec = {"family": socket.AF_UNSPEC}
    assert codec.route_dump(7, table=70000) == pr_bytes(pr_rtmsg, 26, DUMP, unspec,
                                                        [("RTA_TABLE", 70000)])
    assert codec.route_dump(7, table=100) == pr_bytes(pr_rtmsg, 26, DUMP,
                                                      {**unspec, "table": 100},
                                                      [("RTA_TABLE", 100)])
    assert codec.route_dump(7) == pr_bytes(pr_rtmsg, 26, DUMP, unspec, [])
    assert codec.rule_dump(7) == pr_bytes(pr_fibmsg, 34, DUMP, unspec, [])

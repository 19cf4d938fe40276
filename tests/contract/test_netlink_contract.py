"""One contract, two implementations: FakeNetlink and the real adapter in a fresh namespace.

Every test taking ``lab`` runs against both, so the fake answers what the kernel answers.
The kernel runs are ``privileged``: a veth namespace from lab/netns.py, and the adapter's
socket opened inside it (see ``entered``). A few kernel-only tests check what the adapter
does beyond the port's contract (batches, refused dumps, a link gone meanwhile).
"""

from __future__ import annotations

import ctypes
import errno
import ipaddress
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

import pytest

from lab.netns import Namespace, veth_namespace
from nethook.base.errors import NethookError, ObserveError
from nethook.model.objects import Address, Route, Rule
from nethook.model.ops import RTPROT_NETHOOK, AddressOp, Op, RouteOp, RuleOp, Verb
from nethook.model.ports import Netlink
from tests.fakes import FakeNetlink, default_rules

IF = "eth0"
OK = (0, "")
CLONE_NEWNET = 0x40000000


# -- entering a namespace ----------------------------------------------------------------


def _setns(libc: Any, fd: int) -> None:
    if libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"setns: {os.strerror(code)}")


@contextmanager
def entered(name: str) -> Iterator[None]:
    """This thread inside namespace ``name`` for the body, then back home.

    A netlink socket belongs to the namespace it was created in, so an adapter opened
    here keeps talking to ``name`` afterwards. Nothing is forked.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/run/netns/{name}", os.O_RDONLY)
        try:
            _setns(libc, target)
            inside = os.stat("/proc/thread-self/ns/net").st_ino == os.fstat(target).st_ino
        finally:
            os.close(target)
        try:
            assert inside, f"setns did not enter {name}"
            yield
        finally:
            _setns(libc, home)
    finally:
        os.close(home)


# -- the two labs ------------------------------------------------------------------------


@dataclass
class Lab:
    netlink: Netlink
    lease: Callable[[Address], None]  # an address with a lifetime, added behind our back
    ns: Optional[Namespace] = None  # the kernel's namespace; None for the fake


def _lease_with_ip(ns: Namespace, address: Address) -> None:
    ns.ip("address", "add", address.interface.with_prefixlen, "dev", address.ifname,
          "valid_lft", "300", "preferred_lft", "300")


@contextmanager
def kernel_lab() -> Iterator[Lab]:
    from nethook.adapters.netlink import open_netlink

    with veth_namespace(ifname=IF) as veth:
        veth.ns.sysctl(f"net.ipv6.conf.{IF}.accept_dad", "0")  # no tentative addresses
        with entered(veth.ns.name):
            netlink = open_netlink()
        with netlink:
            # A fresh namespace has these two links only: proof the socket is not the host's.
            assert netlink.observe([], []).links == {"lo", IF}
            yield Lab(netlink, lambda a: _lease_with_ip(veth.ns, a), veth.ns)


@pytest.fixture(params=["fake", pytest.param("kernel", marks=pytest.mark.privileged)])
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    if request.param == "kernel":
        with kernel_lab() as real:
            yield real
        return
    fake = FakeNetlink(links=("lo", IF))
    with fake:
        yield Lab(fake, lambda a: _ok(fake.lease(a)))


def _ok(outcome: object) -> None:
    assert outcome == OK


# -- building blocks ---------------------------------------------------------------------


def addr(text: str, label: Optional[str] = None, ifname: str = IF) -> Address:
    return Address(ifname, ipaddress.ip_interface(text), label)


def net(text: str) -> Any:
    return ipaddress.ip_network(text)


def ip(text: str) -> Any:
    return ipaddress.ip_address(text)


def route(dst: str, gateway: Optional[str] = None, table: int = 1000, **kw: Any) -> Route:
    kw.setdefault("ifname", IF)
    return Route(net(dst), table=table, gateway=ip(gateway) if gateway else None, **kw)


OP_FOR: Dict[type, Callable[[Verb, Any], Op]] = {
    Address: AddressOp, Route: RouteOp, Rule: RuleOp}


def add(obj: Any) -> Op:
    return OP_FOR[type(obj)](Verb.ADD, obj)


def delete(obj: Any) -> Op:
    return OP_FOR[type(obj)](Verb.DELETE, obj)


def codes(outcomes: List[Any]) -> List[int]:
    return [code for code, _message in outcomes]


BASE = [addr("192.0.2.10/24"), addr("2001:db8::10/64")]


# -- addresses ---------------------------------------------------------------------------


def test_addresses_round_trip_with_labels(lab: Lab) -> None:
    wanted = [addr("192.0.2.10/24"), addr("192.0.2.20/24", label="eth0:nh"),
              addr("198.51.100.5/32", label=IF), addr("2001:db8::10/64")]
    assert lab.netlink.execute([add(a) for a in wanted]) == [OK] * 4
    observed = lab.netlink.observe([IF], [])
    # A label equal to the interface name is what the kernel gives an unlabelled address.
    assert observed.addresses == {addr("192.0.2.10/24"), addr("192.0.2.20/24", label="eth0:nh"),
                                  addr("198.51.100.5/32"), addr("2001:db8::10/64")}
    assert {"lo", IF} <= observed.links
    assert observed.routes == frozenset()
    assert observed.dynamic == frozenset()
    assert lab.netlink.observe(["lo"], []).addresses.isdisjoint(observed.addresses)


def test_a_second_add_is_eexist(lab: Lab) -> None:
    outcomes = lab.netlink.execute([
        add(addr("192.0.2.10/24")), add(addr("192.0.2.10/24", label="eth0:x")),
        add(addr("192.0.2.10/32")),  # IPv4: another prefix length is another address
        add(addr("2001:db8::10/64")), add(addr("2001:db8::10/64")),
        add(addr("2001:db8::10/128")),  # IPv6: one address, whatever the prefix
    ])
    assert codes(outcomes) == [0, errno.EEXIST, 0, 0, errno.EEXIST, errno.EEXIST]


def test_deleting_addresses(lab: Lab) -> None:
    primary, secondary = addr("192.0.2.10/24"), addr("192.0.2.20/24", label="eth0:nh")
    alone, v6 = addr("192.0.2.30/32"), addr("2001:db8::10/64")
    assert lab.netlink.execute([add(primary), add(secondary), add(alone), add(v6)]) == [OK] * 4
    outcomes = lab.netlink.execute([
        delete(addr("192.0.2.99/24")), delete(addr("2001:db8::99/64")),
        delete(addr("2001:db8::10/128")),  # the prefix length is part of what is deleted
        delete(addr("192.0.2.20/24", label="eth0:other")),  # so is a label, when given
        delete(primary),  # takes its same-prefix secondary along (promote_secondaries=0)
        delete(secondary),
    ])
    assert codes(outcomes) == [errno.EADDRNOTAVAIL] * 4 + [0, errno.EADDRNOTAVAIL]
    assert all(message for _code, message in outcomes[:2])
    assert lab.netlink.observe([IF], []).addresses == {alone, v6}


def test_dynamic_addresses_are_told_apart(lab: Lab) -> None:
    lease, kept = addr("192.0.2.50/24"), addr("192.0.2.60/24")
    lab.lease(lease)
    assert lab.netlink.execute([add(kept)]) == [OK]
    observed = lab.netlink.observe([IF], [])
    assert observed.addresses == {lease, kept}
    assert observed.dynamic == {lease.key}


# -- routes ------------------------------------------------------------------------------


def test_routes_round_trip_in_a_table_above_255(lab: Lab) -> None:
    assert lab.netlink.execute([add(a) for a in BASE]) == [OK] * 2
    sent = [
        route("198.51.100.0/24", "192.0.2.1", src=ip("192.0.2.10"), metric=5),
        route("0.0.0.0/0", "192.0.2.1"),
        route("203.0.113.0/24"),
        route("203.0.113.7/32", scope="host"),
        route("198.18.0.0/15", "10.255.0.1", onlink=True),
        route("2001:db8:1::/64", "2001:db8::1", metric=100),
        route("::/0", "fe80::1"),
        route("2001:db8:2::/64"),
    ]
    assert lab.netlink.execute([add(r) for r in sent]) == [OK] * len(sent)
    observed = lab.netlink.observe([IF], [1000])
    assert observed.routes == {
        route("198.51.100.0/24", "192.0.2.1", src=ip("192.0.2.10"), metric=5, scope="global"),
        route("0.0.0.0/0", "192.0.2.1", scope="global"),
        route("203.0.113.0/24", scope="link"),  # no gateway: link scope, as `ip` does
        route("203.0.113.7/32", scope="host"),
        route("198.18.0.0/15", "10.255.0.1", onlink=True, scope="global"),
        route("2001:db8:1::/64", "2001:db8::1", metric=100, scope="global"),
        route("::/0", "fe80::1", metric=1024, scope="global"),
        route("2001:db8:2::/64", metric=1024, scope="global"),  # IPv6 stores metric 0 as 1024
    }
    assert lab.netlink.observe([IF], [254]).routes.isdisjoint(observed.routes)
    assert observed.routes <= lab.netlink.observe([], None).routes


def test_connected_routes_in_main(lab: Lab) -> None:
    assert lab.netlink.execute([add(a) for a in BASE]) == [OK] * 2
    assert lab.netlink.observe([IF], [254]).routes == {
        route("192.0.2.0/24", table=254, src=ip("192.0.2.10"), scope="link"),
        route("2001:db8::/64", table=254, metric=256, scope="global"),
        route("fe80::/64", table=254, metric=256, scope="global"),
    }


def test_route_add_replace_delete(lab: Lab) -> None:
    assert lab.netlink.execute([add(a) for a in BASE]) == [OK] * 2
    first = route("198.51.100.0/24", "192.0.2.1")
    moved = route("198.51.100.0/24", "192.0.2.2")
    outcomes = lab.netlink.execute([
        add(first), add(first), add(moved),
        RouteOp(Verb.REPLACE, moved),
        RouteOp(Verb.REPLACE, route("198.51.101.0/24", "192.0.2.1")),  # creates
        delete(route("198.51.102.0/24")),
        delete(route("198.51.102.0/24", table=1009)),  # a table that never existed
        delete(first),  # the gateway no longer matches
        delete(route("2001:db8:9::/64", table=1000)),
    ])
    assert codes(outcomes) == [0, errno.EEXIST, errno.EEXIST, 0, 0] + [errno.ESRCH] * 4
    assert {(r.dst, r.gateway) for r in lab.netlink.observe([], [1000]).routes} == {
        (net("198.51.100.0/24"), ip("192.0.2.2")), (net("198.51.101.0/24"), ip("192.0.2.1"))}
    assert lab.netlink.execute([delete(moved), delete(route("198.51.101.0/24"))]) == [OK] * 2
    assert lab.netlink.observe([], [1000]).routes == frozenset()


def test_unreachable_gateways_and_foreign_sources_are_refused(lab: Lab) -> None:
    assert lab.netlink.execute([add(a) for a in BASE]) == [OK] * 2
    (v4, v6, src4, src6) = lab.netlink.execute([
        add(route("198.51.100.0/24", "203.0.113.1")),
        add(route("2001:db8:1::/64", "2001:db8:5::1")),
        add(route("198.51.101.0/24", src=ip("192.0.2.77"))),
        add(route("2001:db8:2::/64", src=ip("2001:db8::77"))),
    ])
    assert v4[0] == errno.ENETUNREACH and v4[1]  # the kernel says why
    assert v6[0] == errno.EHOSTUNREACH
    assert src4[0] == src6[0] == errno.EINVAL
    assert lab.netlink.observe([], [1000]).routes == frozenset()


def test_the_last_ipv4_address_takes_the_links_ipv4_routes_along(lab: Lab) -> None:
    v4_route, v6_route = route("198.51.100.0/24", "192.0.2.1"), route("2001:db8:1::/64")
    ops = [add(a) for a in BASE] + [add(v4_route), add(v6_route)]
    assert lab.netlink.execute(ops) == [OK] * 4
    assert lab.netlink.execute([delete(BASE[0])]) == [OK]
    assert {r.dst for r in lab.netlink.observe([IF], [1000]).routes} == {v6_route.dst}


# -- rules -------------------------------------------------------------------------------


RULES = [
    Rule(table=1000, priority=100, src=net("10.1.0.0/16"), dst=net("10.2.0.0/16"),
         fwmark=0x10, fwmask=0xFF, iif=IF, oif="lo"),
    Rule(table=1000, priority=101, fwmark=0x20),
    Rule(table=1001, family=6, priority=100, src=net("2001:db8:1::/48")),
    Rule(table=254, priority=102, iif="nosuch0"),  # rules may name absent interfaces
]


def test_rules_round_trip(lab: Lab) -> None:
    full_mask = Rule(table=1000, priority=103, fwmark=0x30, fwmask=0xFFFFFFFF)
    assert lab.netlink.execute([add(r) for r in [*RULES, full_mask]]) == [OK] * 5
    observed = lab.netlink.observe([], [])
    expected = {*default_rules(), *RULES, Rule(table=1000, priority=103, fwmark=0x30)}
    assert observed.rules == expected


def test_rule_add_delete(lab: Lab) -> None:
    rule = RULES[0]
    outcomes = lab.netlink.execute([
        add(rule), add(rule),
        delete(Rule(table=1000, priority=100, src=net("10.9.0.0/16"))),
        delete(Rule(table=1000, family=6, priority=100)),
        delete(rule),
    ])
    assert codes(outcomes) == [0, errno.EEXIST, errno.ENOENT, errno.ENOENT, 0]
    assert lab.netlink.observe([], []).rules == set(default_rules())


def test_a_rule_without_priority_is_a_bug_and_nothing_is_sent(lab: Lab) -> None:
    ops = [add(addr("192.0.2.10/24")), add(Rule(table=1000, src=net("10.0.0.0/8")))]
    with pytest.raises(ValueError, match="priority"):
        lab.netlink.execute(ops)
    assert lab.netlink.observe([IF], []).addresses == frozenset()


# -- batches, missing links, failures ----------------------------------------------------


def test_a_missing_interface_is_enodev_and_nothing_else_is_affected(lab: Lab) -> None:
    outcomes = lab.netlink.execute([
        add(addr("192.0.2.10/24", ifname="nosuch0")),
        add(route("198.51.100.0/24", ifname="nosuch0")),
        delete(addr("192.0.2.10/24", ifname="nosuch0")),
        add(addr("192.0.2.10/24")),
    ])
    assert codes(outcomes) == [errno.ENODEV] * 3 + [0]
    assert "nosuch0" in outcomes[0][1]
    assert lab.netlink.observe([IF, "nosuch0"], []).addresses == {addr("192.0.2.10/24")}


def test_a_thousand_adds_answer_in_order(lab: Lab) -> None:
    addresses = [addr(f"10.1.{i // 250}.{i % 250 + 1}/32") for i in range(1000)]
    ops = [add(a) for a in addresses]
    ops[500] = add(addresses[499])  # a duplicate: EEXIST, and the rest still go in
    ops[700] = add(addr("10.9.9.9/32", ifname="nosuch0"))
    outcomes = lab.netlink.execute(ops)
    assert len(outcomes) == 1000
    assert {i: code for i, code in enumerate(codes(outcomes)) if code} == {
        500: errno.EEXIST, 700: errno.ENODEV}
    applied = set(addresses) - {addresses[500], addresses[700]}
    assert lab.netlink.observe([IF], []).addresses == applied


def test_a_closed_netlink_cannot_read_or_write(lab: Lab) -> None:
    lab.netlink.close()
    with pytest.raises(ObserveError):
        lab.netlink.observe([IF], None)
    with pytest.raises(NethookError):
        lab.netlink.execute([add(addr("192.0.2.10/24"))])


# -- kernel only: what the adapter does beyond the contract ------------------------------
# Its readings are held to pyroute2's and `ip -j`'s in test_codec_oracles.py.


@pytest.fixture
def kernel() -> Iterator[Lab]:
    from tests.conftest import require_privileged

    require_privileged()
    with kernel_lab() as real:
        yield real


@pytest.mark.privileged
def test_what_nethook_adds_carries_its_protocol(kernel: Lab) -> None:
    assert kernel.ns is not None
    objects = [*BASE, route("198.51.100.0/24", "192.0.2.1"), route("2001:db8:1::/64"),
               RULES[0], RULES[2]]
    assert kernel.netlink.execute([add(o) for o in objects]) == [OK] * len(objects)
    found = [*kernel.ns.ip_json("-4", "route", "show", "table", "1000"),
             *kernel.ns.ip_json("-6", "route", "show", "table", "1000"),
             *kernel.ns.ip_json("-4", "rule", "show", "table", "1000"),
             *kernel.ns.ip_json("-6", "rule", "show", "table", "1001")]
    # `ip` prints the name once the package's rt_protos.d/nethook.conf is installed.
    assert [entry["protocol"] in (str(RTPROT_NETHOOK), "nethook") for entry in found] \
        == [True] * 4


@pytest.mark.privileged
def test_plans_larger_than_the_buffers_go_in_several_batches(kernel: Lab) -> None:
    """Seven requests a batch, at most 300 bytes a datagram: the outcomes stay in order."""
    netlink: Any = kernel.netlink
    netlink.window, netlink.datagram = 7, 300
    addresses = [addr(f"10.1.0.{i + 1}/32") for i in range(100)]
    ops = [add(a) for a in addresses]
    ops[13] = ops[6] = add(addresses[5])  # refused in the middle of a batch, and last in one
    outcomes = netlink.execute(ops)
    assert {i: code for i, code in enumerate(codes(outcomes)) if code} == {
        6: errno.EEXIST, 13: errno.EEXIST}
    assert kernel.netlink.observe([IF], []).addresses == set(addresses) - {
        addresses[6], addresses[13]}


@pytest.mark.privileged
def test_a_refused_dump_is_an_observe_error(kernel: Lab,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from nethook.adapters import rtnl_codec as codec

    def bad_dump(seq: int, index: int = 0) -> bytes:  # strict checking wants 0 prefixlen
        return codec.message(codec.RTM_GETADDR, codec.NLM_F_DUMP, seq,
                             codec.IFADDRMSG.pack(0, 24, 0, 0, index))

    monkeypatch.setattr(codec, "address_dump", bad_dump)
    with pytest.raises(ObserveError, match=r"the addresses of eth0: .*header"):
        kernel.netlink.observe([IF], [])


@pytest.mark.privileged
def test_an_interface_gone_between_two_dumps_is_absent(kernel: Lab,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Its address dump says ENODEV: absent, as it is by then; never a partial reading."""
    assert kernel.netlink.execute([add(BASE[0])]) == [OK]
    netlink: Any = kernel.netlink
    links = netlink._links()
    monkeypatch.setattr(netlink, "_links", lambda: {**links, 99999: "gone0"})
    observed = kernel.netlink.observe([IF, "gone0"], [])
    assert observed.links == {"lo", IF}
    assert observed.addresses == {BASE[0]}

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
* the notifications of tearing it all down decode alike.

The requests are held to pyroute2's encoding in test_codec_requests.py.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator
from typing import Dict, List, Optional

import pytest

from lab.netns import VethNamespace, veth_namespace
from nethook.adapters import netlink as adapter
from nethook.adapters import rtnl_codec as codec
from nethook.model.objects import Observed, Route, Rule
from nethook.watch import rtnl
from tests.contract.readers import (
    Reading,
    decoded,
    ip_reading,
    nethook_reading,
    pyroute2_decoded,
    pyroute2_reading,
    received,
)
from tests.contract.test_netlink_contract import entered

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
    (["eth0"], [*range(1000, 1020), 254]),  # more tables than are worth a dump each
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

"""The watcher's standard-library decoder reads the kernel as the pyroute2 adapter does.

One namespace carries a varied set of addresses, routes and rules; the same dumps are
decoded by ``rtnl_decode`` and observed through the adapter (pyroute2's classes), and
both must give the same model objects, in both tox environments (pyroute2 0.7.2, 0.9).
"""

from __future__ import annotations

import socket
from typing import Callable, List, Set, Tuple

import pytest

from lab.netns import veth_namespace
from nethook.adapters import rtnl_codec as codec
from nethook.adapters import rtnl_decode as decode
from nethook.model.objects import Address, Route, Rule
from tests.contract.test_netlink_contract import entered

pytestmark = pytest.mark.privileged

SETUP = [
    "addr add 10.77.0.2/24 dev eth0",
    "addr add 10.77.0.50/24 dev eth0 label eth0:0",
    "addr add 192.0.2.7/32 dev eth0",
    "addr add 10.77.0.60/24 dev eth0 valid_lft 300 preferred_lft 300",
    "-6 addr add 2001:db8:77::50/64 dev eth0 nodad",
    "route add default via 10.77.0.1 dev eth0 table 100",
    "route add 10.99.0.0/24 via 10.77.0.1 dev eth0 table 70000 metric 10",
    "route add 10.98.0.0/24 dev eth0 scope link src 10.77.0.50 table 1000",
    "route add 10.97.0.0/24 via 10.77.0.1 dev eth0 onlink table 1000",
    "-6 route add 2001:db8:9::/48 via 2001:db8:77::1 dev eth0 table 1000",
    "rule add from 10.77.0.50 table 100 priority 1000",
    "rule add to 192.0.2.0/24 fwmark 0x10/0xff iif eth0 table 70000 priority 1001",
    "rule add fwmark 0x0/0xff oif lo table 100 priority 1002",
    "rule add not from 10.1.0.0/16 table 100 priority 1003",
    "rule add from 10.2.0.0/16 priority 1004 blackhole",
    "-6 rule add from 2001:db8::/32 table 200 priority 1005",
]


def dump(build: Callable[[int], bytes]) -> List[Tuple[bytes, codec.Frame]]:
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as sock:
        sock.bind((0, 0))
        sock.settimeout(5)
        sock.send(build(1))
        found = []
        while True:
            data = sock.recv(1 << 18)
            for frame in codec.frames(data):
                if frame.kind in (codec.NLMSG_DONE, codec.NLMSG_ERROR):
                    return found
                found.append((data, frame))


def test_the_stdlib_decoder_matches_the_pyroute2_adapter() -> None:
    from nethook.adapters.pyroute2_netlink import open_netlink

    with veth_namespace() as lab:
        for line in SETUP:
            lab.ns.ip(*line.split())
        with entered(lab.name):
            netlink = open_netlink()
            links = [decode.link(d, f) for d, f in dump(codec.link_dump)]
            addresses = [decode.address(d, f, {link.ifindex: str(link.name) for link in links})
                         for d, f in dump(codec.address_dump)]
            routes = [decode.route(d, f, {link.ifindex: str(link.name) for link in links})
                      for family in (socket.AF_INET, socket.AF_INET6)
                      for d, f in dump(lambda seq, fam=family: codec.route_dump(seq, fam))]
            rules = [decode.rule(d, f) for d, f in dump(codec.rule_dump)]
        with netlink:
            observed = netlink.observe(["lo", "eth0"], None)
    assert {str(link.name) for link in links} == set(observed.links)
    found: Set[Address] = {a for a, _permanent in filter(None, addresses)}
    assert found == observed.addresses
    assert {a.key for a, permanent in filter(None, addresses) if not permanent} \
        == observed.dynamic
    assert {r for r in routes if r is not None} == set(observed.routes)
    assert {r for r in rules if r is not None} == set(observed.rules)
    assert len(observed.rules) == 9  # 5 default rules (3 IPv4, 2 IPv6) and 4 of the above
    assert all(isinstance(r, Route) for r in observed.routes)
    assert all(isinstance(r, Rule) for r in observed.rules)

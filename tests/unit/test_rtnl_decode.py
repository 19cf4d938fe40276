"""The standard-library decoder reads what the encoder writes (the kernel's layout).

The kernel side, that it reads real dumps exactly as the pyroute2 adapter does, is in
tests/integration/test_rtnl_decode_kernel.py.
"""

from __future__ import annotations

import ipaddress

import pytest

from nethook.adapters import rtnl_codec as codec
from nethook.adapters import rtnl_decode as decode
from nethook.model.objects import Address, Route, Rule
from nethook.model.ops import AddressOp, RouteOp, RuleOp, Verb

NAMES = {2: "eth0", 7: "vlan.100"}


def only_frame(data: bytes) -> codec.Frame:
    (frame,) = list(codec.frames(data))
    return frame


@pytest.mark.parametrize("address", [
    Address("eth0", ipaddress.ip_interface("10.77.0.50/24"), "eth0:0"),
    Address("eth0", ipaddress.ip_interface("10.77.0.51/32")),
    Address("vlan.100", ipaddress.ip_interface("2001:db8::5/64")),
])
def test_addresses(address: Address) -> None:
    index = next(i for i, name in NAMES.items() if name == address.ifname)
    data = codec.request(AddressOp(Verb.ADD, address), 1, index)
    frame = only_frame(data)
    assert decode.address(data, frame, NAMES) == (address, False)
    assert decode.address_header(data, frame, NAMES) == (False, address.ifname)


def test_an_address_on_an_unknown_link_is_none() -> None:
    address = Address("eth0", ipaddress.ip_interface("10.77.0.50/24"))
    data = codec.request(AddressOp(Verb.ADD, address), 1, 99)
    assert decode.address(data, only_frame(data), NAMES) is None


@pytest.mark.parametrize("route", [
    Route(dst=ipaddress.ip_network("0.0.0.0/0"), table=100, ifname="eth0",
          gateway=ipaddress.ip_address("10.77.0.1"), scope="global"),
    Route(dst=ipaddress.ip_network("10.99.0.0/24"), table=70000, metric=10, ifname="eth0",
          src=ipaddress.ip_address("10.77.0.50"), scope="link"),
    Route(dst=ipaddress.ip_network("2001:db8:9::/48"), table=1000, metric=1024,
          ifname="vlan.100", gateway=ipaddress.ip_address("fe80::1"), scope="global",
          onlink=True),
])
def test_routes(route: Route) -> None:
    index = next(i for i, name in NAMES.items() if name == route.ifname)
    data = codec.request(RouteOp(Verb.ADD, route), 1, index)
    assert decode.route(data, only_frame(data), NAMES) == route
    assert decode.route(data, only_frame(data), NAMES, {1}) is None  # another table


@pytest.mark.parametrize("rule", [
    Rule(table=100, priority=1000, src=ipaddress.ip_network("10.77.0.50/32")),
    Rule(table=70000, priority=5, dst=ipaddress.ip_network("192.0.2.0/24"), fwmark=0x10,
         fwmask=0xFF, iif="eth0", oif="vlan.100"),
    Rule(table=200, family=6, priority=7, src=ipaddress.ip_network("2001:db8::/32")),
])
def test_rules(rule: Rule) -> None:
    data = codec.request(RuleOp(Verb.ADD, rule), 1, None)
    assert decode.rule(data, only_frame(data)) == rule


def test_a_rule_with_a_selector_the_model_lacks_is_none() -> None:
    rule = Rule(table=100, priority=1000)
    data = bytearray(codec.request(RuleOp(Verb.ADD, rule), 1, None))
    extra = b"\x08\x00\x14\x00" + (1000).to_bytes(4, "little")  # FRA_UID_RANGE, any value
    data += extra
    data[0:4] = len(data).to_bytes(4, "little")
    assert decode.rule(bytes(data), only_frame(bytes(data))) is None


def test_links() -> None:
    body = decode._IFINFOMSG.pack(0, 1, 7, 0x1043, 0) + b"\x0d\x00\x03\x00vlan.100\x00\x00\x00\x00"
    data = codec.HEADER.pack(codec.HEADER.size + len(body), codec.RTM_NEWLINK, 0, 0, 0) + body
    assert decode.link(data, only_frame(data)) == decode.Link(7, "vlan.100", True)

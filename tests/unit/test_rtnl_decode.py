"""The decoder reads what the encoder writes (the kernel's layout), and what it leaves out.

That it reads real kernel dumps exactly as pyroute2 and ``ip -j`` do is in
tests/contract/test_codec_oracles.py.
"""

from __future__ import annotations

import ipaddress

import pytest

from nethook.adapters import rtnl_codec as codec
from nethook.adapters import rtnl_decode as decode
from nethook.model.objects import Address, Route, Rule
from nethook.model.ops import AddressOp, RouteOp, RuleOp, Verb
from nethook.watch import rtnl

NAMES = {2: "eth0", 7: "vlan.100"}


def only_frame(data: bytes) -> codec.Frame:
    (frame,) = list(codec.frames(data))
    return frame


def with_attribute(data: bytes, kind: int, payload: bytes) -> bytes:
    """``data`` (one message) with one more attribute, its length fixed."""
    grown = bytearray(data + codec.pack_attributes((kind, payload)))
    grown[0:4] = len(grown).to_bytes(4, "little")
    return bytes(grown)


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
    assert decode.address_index(data, frame) == (index, False)


def test_an_address_on_an_unknown_link_is_none() -> None:
    address = Address("eth0", ipaddress.ip_interface("10.77.0.50/24"))
    data = codec.request(AddressOp(Verb.ADD, address), 1, 99)
    assert decode.address(data, only_frame(data), NAMES) is None


def test_the_kernels_link_local_addresses_are_none() -> None:
    address = Address("eth0", ipaddress.ip_interface("fe80::1/64"))
    data = codec.request(AddressOp(Verb.ADD, address), 1, 2)
    assert decode.address(data, only_frame(data), NAMES) is None


def test_ifa_flags_overrides_the_headers_flags() -> None:
    """The header has 8 bits of flags; IFA_FLAGS, when present, has all 32."""
    address = Address("eth0", ipaddress.ip_interface("10.77.0.50/24"))
    data = codec.request(AddressOp(Verb.ADD, address), 1, 2)
    permanent = with_attribute(data, codec.IFA_FLAGS, (0x80).to_bytes(4, "little"))
    assert decode.address(permanent, only_frame(permanent), NAMES) == (address, True)


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


def test_a_route_by_an_unknown_link() -> None:
    route = Route(dst=ipaddress.ip_network("10.99.0.0/24"), table=100, ifname="eth0",
                  scope="link")
    data = codec.request(RouteOp(Verb.ADD, route), 1, 99)
    assert decode.route(data, only_frame(data), NAMES) == Route(
        dst=route.dst, table=100, scope="link")  # a notification: the key is enough
    with pytest.raises(decode.UnknownLink, match="index 99"):  # a dump: never partial
        decode.route(data, only_frame(data), NAMES, known_links=True)


@pytest.mark.parametrize("rule", [
    Rule(table=100, priority=1000, src=ipaddress.ip_network("10.77.0.50/32")),
    Rule(table=70000, priority=5, dst=ipaddress.ip_network("192.0.2.0/24"), fwmark=0x10,
         fwmask=0xFF, iif="eth0", oif="vlan.100"),
    Rule(table=200, family=6, priority=7, src=ipaddress.ip_network("2001:db8::/32")),
])
def test_rules(rule: Rule) -> None:
    data = codec.request(RuleOp(Verb.ADD, rule), 1, None)
    assert decode.rule(data, only_frame(data)) == rule


@pytest.mark.parametrize("kind, payload", [
    (20, (1000).to_bytes(4, "little") * 2),  # FRA_UID_RANGE
    (25, b"\x0a"),  # FRA_DSCP (Linux 6.12): newer than the model, so not a plain rule
    (codec.FRA_SUPPRESS_PREFIXLEN, (0).to_bytes(4, "little")),  # set: a suppressor
])
def test_a_rule_with_a_selector_the_model_lacks_is_none(kind: int, payload: bytes) -> None:
    data = codec.request(RuleOp(Verb.ADD, Rule(table=100, priority=1000)), 1, None)
    unset = with_attribute(data, codec.FRA_SUPPRESS_PREFIXLEN, b"\xff" * 4)
    assert decode.rule(unset, only_frame(unset)) == Rule(table=100, priority=1000)
    extra = with_attribute(data, kind, payload)
    assert decode.rule(extra, only_frame(extra)) is None


def test_links() -> None:
    body = codec.IFINFOMSG.pack(0, 1, 7, 0x1043, 0) + codec.pack_attributes(
        (16, b"\x00\x00\x00\x00"), (codec.IFLA_IFNAME, b"vlan.100\x00"))
    data = codec.HEADER.pack(codec.HEADER.size + len(body), codec.RTM_NEWLINK, 0, 0, 0) + body
    assert decode.link(data, only_frame(data)) == decode.Link(7, "vlan.100", True)


# -- requests: what the kernel's strict checking accepts ---------------------------------


def test_an_acknowledgement_is_asked_for_only_when_wanted() -> None:
    op = AddressOp(Verb.ADD, Address("eth0", ipaddress.ip_interface("10.77.0.50/24")))
    quiet = codec.request(op, 9, 2, ack=False)
    assert not only_frame(quiet).flags & codec.NLM_F_ACK
    assert codec.acked(quiet) == codec.request(op, 9, 2)


def test_dump_requests_carry_only_their_filters() -> None:
    data = codec.address_dump(3, index=7)
    frame = only_frame(data)
    assert frame.flags == codec.NLM_F_REQUEST | codec.NLM_F_DUMP
    assert codec.IFADDRMSG.unpack_from(data, 16) == (0, 0, 0, 0, 7)
    data = codec.route_dump(3, table=70000)
    assert codec.RTMSG.unpack_from(data, 16) == (0,) * 9  # the table is too big for it
    assert list(codec.attributes(data, 28, len(data))) == [
        (codec.RTA_TABLE, (70000).to_bytes(4, "little"))]
    data = codec.route_dump(3, table=100)
    assert codec.RTMSG.unpack_from(data, 16)[4] == 100
    assert len(codec.route_dump(3)) == 28  # every table: no attribute


# -- the watcher nets out what one read says about each object ---------------------------


def test_a_deletion_followed_by_the_addition_is_no_loss() -> None:
    alias = Address("eth0", ipaddress.ip_interface("10.77.0.50/24"), "eth0:0")
    other = Address("eth0", ipaddress.ip_interface("10.77.0.51/24"), "eth0:1")
    route = Route(dst=ipaddress.ip_network("0.0.0.0/0"), table=100)
    down = rtnl.LinkChange(2, "eth0", False, False)
    up = rtnl.LinkChange(2, "eth0", True, False)
    changes = [down, rtnl.AddressChange(alias, True, True), rtnl.AddressChange(other, True, True),
               rtnl.RouteChange(route, True), up, rtnl.AddressChange(alias, True, False),
               rtnl.RouteChange(route, False), rtnl.AddressChange(other, True, True)]
    assert rtnl.net_changes(changes) == [
        down, up, rtnl.AddressChange(alias, True, False), rtnl.RouteChange(route, False),
        rtnl.AddressChange(other, True, True)]


def test_an_object_back_with_other_attributes_is_still_a_loss() -> None:
    kept = Route(dst=ipaddress.ip_network("0.0.0.0/0"), table=100,
                 gateway=ipaddress.ip_address("10.77.0.1"))
    other = Route(dst=kept.dst, table=100, gateway=ipaddress.ip_address("10.77.0.9"))
    changes = [rtnl.RouteChange(kept, True), rtnl.RouteChange(other, False)]
    assert rtnl.net_changes(changes) == changes

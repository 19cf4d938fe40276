"""The rtnetlink wire format nethook writes: its operations as requests, and the acks.

Standard library only and pure (operations in, bytes out), so it costs nothing to import
and a few microseconds per request; pyroute2's message classes take tens of microseconds
each, which matters when a plan holds a thousand addresses. The layouts are the kernel's
(linux/netlink.h, rtnetlink.h, if_addr.h, fib_rules.h); the contract tests compare the
bytes with pyroute2's ``ifaddrmsg``/``rtmsg``/``fibmsg`` and run them against the kernel.

Each request says what the matching ``ip`` command (``op.describe()``) would say.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Collection, Iterator
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple, Type

from nethook.model.objects import Address, Route, Rule
from nethook.model.ops import RTPROT_NETHOOK, AddressOp, Op, RouteOp, RuleOp, Verb

# linux/netlink.h
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP = 0x300
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_CAPPED = 0x100  # in an ack: the request is not echoed back
NLM_F_ACK_TLVS = 0x200  # in an ack: extended-ack attributes follow
NLMSGERR_ATTR_MSG = 1

# linux/rtnetlink.h
RTM_NEWLINK, RTM_GETLINK = 16, 18
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
RTM_NEWRULE, RTM_DELRULE, RTM_GETRULE = 32, 33, 34
RTN_UNICAST = 1
RTNH_F_ONLINK = 4
RTM_F_CLONED = 0x200
RT_TABLE_UNSPEC = 0
RT_TABLE_COMPAT = 252  # what a header says for a table id above 255: RTA_TABLE has it
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_HOST, RT_SCOPE_NOWHERE = 0, 253, 254, 255
SCOPE_NAMES = {RT_SCOPE_UNIVERSE: "global", 200: "site", RT_SCOPE_LINK: "link",
               RT_SCOPE_HOST: "host"}
_SCOPE_NUMBERS = {name: number for number, name in SCOPE_NAMES.items()}
FR_ACT_TO_TBL = 1

IFA_ADDRESS, IFA_LOCAL, IFA_LABEL = 1, 2, 3
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_TABLE = 1, 4, 5, 6, 7, 15
FRA_DST, FRA_SRC, FRA_IIFNAME, FRA_PRIORITY, FRA_FWMARK = 1, 2, 3, 6, 10
FRA_TABLE, FRA_FWMASK, FRA_OIFNAME, FRA_PROTOCOL = 15, 16, 17, 21

FAMILIES = {4: socket.AF_INET, 6: socket.AF_INET6}

HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port
_I32 = struct.Struct("=i")
_U32 = struct.Struct("=I")
_NLA = struct.Struct("=HH")
_IFINFOMSG = struct.Struct("=BxHiII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")  # struct fib_rule_hdr has the same layout

_VERB_FLAGS = {
    Verb.ADD: NLM_F_CREATE | NLM_F_EXCL,
    Verb.REPLACE: NLM_F_CREATE | NLM_F_REPLACE,
    Verb.DELETE: 0,
}


class Frame(NamedTuple):
    """One netlink message inside a datagram: where it is and its header."""

    offset: int
    length: int
    kind: int
    flags: int
    seq: int


def _align(length: int) -> int:
    return (length + 3) & ~3


def _attrs(*attrs: Tuple[int, bytes]) -> bytes:
    out = []
    for kind, payload in attrs:
        length = _NLA.size + len(payload)
        out.append(_NLA.pack(length, kind) + payload + b"\0" * (_align(length) - length))
    return b"".join(out)


def _u32(value: int) -> bytes:
    return _U32.pack(value)


def _name(name: str) -> bytes:
    return name.encode() + b"\0"


def message(kind: int, flags: int, seq: int, body: bytes) -> bytes:
    return HEADER.pack(HEADER.size + len(body), kind, NLM_F_REQUEST | flags, seq, 0) + body


# -- requests for operations ---------------------------------------------------------------


def _address_body(op: AddressOp, index: Optional[int]) -> bytes:
    """``ip address add|del A/P dev X [label L]``: local and address both A, no broadcast."""
    address: Address = op.address
    ip = address.interface.ip
    scope = RT_SCOPE_HOST if ip.version == 4 and ip.is_loopback else RT_SCOPE_UNIVERSE
    header = _IFADDRMSG.pack(FAMILIES[address.family], address.interface.network.prefixlen,
                             0, scope, index or 0)
    attrs = [(IFA_LOCAL, ip.packed), (IFA_ADDRESS, ip.packed)]
    if address.label and address.family == 4:
        attrs.append((IFA_LABEL, _name(address.label)))
    return header + _attrs(*attrs)


def route_scope(route: Route, deleting: bool) -> int:
    """An explicit scope; else what ``ip route`` picks (any scope matches on delete)."""
    if route.scope is not None:
        if route.scope.isdigit() and int(route.scope) <= RT_SCOPE_NOWHERE:
            return int(route.scope)
        if route.scope not in _SCOPE_NUMBERS:
            raise ValueError(f"unknown route scope {route.scope!r}: {route.describe()}")
        return _SCOPE_NUMBERS[route.scope]
    if deleting:
        return RT_SCOPE_NOWHERE
    return RT_SCOPE_UNIVERSE if route.gateway is not None else RT_SCOPE_LINK


def _route_body(op: RouteOp, index: Optional[int]) -> bytes:
    route: Route = op.route
    deleting = op.verb is Verb.DELETE
    header = _RTMSG.pack(
        FAMILIES[route.family], route.dst.prefixlen, 0, 0,
        route.table if route.table < 256 else RT_TABLE_UNSPEC,
        0 if deleting else RTPROT_NETHOOK, route_scope(route, deleting), RTN_UNICAST,
        RTNH_F_ONLINK if route.onlink else 0)
    attrs = [(RTA_TABLE, _u32(route.table))]
    if route.dst.prefixlen:
        attrs.append((RTA_DST, route.dst.network_address.packed))
    if index is not None:
        attrs.append((RTA_OIF, _u32(index)))
    if route.gateway is not None:
        attrs.append((RTA_GATEWAY, route.gateway.packed))
    if route.src is not None:
        attrs.append((RTA_PREFSRC, route.src.packed))
    if route.metric:
        attrs.append((RTA_PRIORITY, _u32(route.metric)))
    return header + _attrs(*attrs)


def _rule_body(op: RuleOp, index: Optional[int]) -> bytes:
    rule: Rule = op.rule
    if rule.priority is None:
        raise ValueError(f"a rule without a priority reached the kernel adapter: {op.describe()}")
    header = _RTMSG.pack(
        FAMILIES[rule.family], rule.dst.prefixlen if rule.dst else 0,
        rule.src.prefixlen if rule.src else 0, 0,
        rule.table if rule.table < 256 else RT_TABLE_UNSPEC, 0, 0, FR_ACT_TO_TBL, 0)
    attrs = [(FRA_PRIORITY, _u32(rule.priority)), (FRA_TABLE, _u32(rule.table))]
    if rule.src is not None:
        attrs.append((FRA_SRC, rule.src.network_address.packed))
    if rule.dst is not None:
        attrs.append((FRA_DST, rule.dst.network_address.packed))
    if rule.fwmark is not None:
        attrs.append((FRA_FWMARK, _u32(rule.fwmark)))
    if rule.fwmask is not None:
        attrs.append((FRA_FWMASK, _u32(rule.fwmask)))
    if rule.iif:
        attrs.append((FRA_IIFNAME, _name(rule.iif)))
    if rule.oif:
        attrs.append((FRA_OIFNAME, _name(rule.oif)))
    if op.verb is not Verb.DELETE:
        attrs.append((FRA_PROTOCOL, bytes([RTPROT_NETHOOK])))
    return header + _attrs(*attrs)


class _Encoder(NamedTuple):
    new: int
    delete: int
    body: Callable[[Any, Optional[int]], bytes]  # takes the row's own Op type
    link: Callable[[Any], Optional[str]]  # the interface whose index the request carries


_ENCODERS: Dict[Type[Any], _Encoder] = {
    AddressOp: _Encoder(RTM_NEWADDR, RTM_DELADDR, _address_body, lambda op: op.address.ifname),
    RouteOp: _Encoder(RTM_NEWROUTE, RTM_DELROUTE, _route_body, lambda op: op.route.ifname),
    # Rules name their interfaces (iif/oif), which need not exist: the kernel takes names.
    RuleOp: _Encoder(RTM_NEWRULE, RTM_DELRULE, _rule_body, lambda op: None),
}


def link_of(op: Op) -> Optional[str]:
    """The interface that must exist for ``op`` to be sent, if any."""
    return _ENCODERS[type(op)].link(op)


def request(op: Op, seq: int, index: Optional[int]) -> bytes:
    """``op`` as one acknowledged rtnetlink request; ``index`` is ``link_of(op)``'s."""
    encoder = _ENCODERS[type(op)]
    kind = encoder.delete if op.verb is Verb.DELETE else encoder.new
    return message(kind, NLM_F_ACK | _VERB_FLAGS[op.verb], seq, encoder.body(op, index))


# -- dump requests -------------------------------------------------------------------------


def link_dump(seq: int) -> bytes:
    return message(RTM_GETLINK, NLM_F_DUMP, seq, _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0))


def address_dump(seq: int) -> bytes:
    """Every address of both families (``address_index`` picks cheaply)."""
    return message(RTM_GETADDR, NLM_F_DUMP, seq, _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0))


def route_dump(seq: int, family: int) -> bytes:
    """Every route of one family (``plain_route`` picks cheaply)."""
    return message(RTM_GETROUTE, NLM_F_DUMP, seq, _RTMSG.pack(family, *(0,) * 8))


def rule_dump(seq: int) -> bytes:
    """Every rule of every family."""
    return message(RTM_GETRULE, NLM_F_DUMP, seq, _RTMSG.pack(socket.AF_UNSPEC, *(0,) * 8))


# -- reading -------------------------------------------------------------------------------


def frames(data: bytes) -> Iterator[Frame]:
    """The messages of one datagram; ValueError if one is cut short."""
    offset = 0
    while offset + HEADER.size <= len(data):
        length, kind, flags, seq, _port = HEADER.unpack_from(data, offset)
        if length < HEADER.size or offset + length > len(data):
            raise ValueError(f"truncated netlink message at byte {offset}")
        yield Frame(offset, length, kind, flags, seq)
        offset += _align(length)


def attributes(data: bytes, start: int, end: int) -> Iterator[Tuple[int, bytes]]:
    while start + _NLA.size <= end:
        length, kind = _NLA.unpack_from(data, start)
        if length < _NLA.size:
            return
        yield kind & 0x3FFF, data[start + _NLA.size:start + length]
        start += _align(length)


def address_index(data: bytes, frame: Frame) -> int:
    """The interface index of an RTM_NEWADDR, read without decoding the rest."""
    index: int = _IFADDRMSG.unpack_from(data, frame.offset + HEADER.size)[4]
    return index


def plain_route(data: bytes, frame: Frame, tables: Optional[Collection[int]]) -> bool:
    """Whether the header of an RTM_NEWROUTE allows a route nethook observes: unicast, no
    TOS, not a cached clone, and in ``tables`` (None: any) as far as the header can tell."""
    _family, _dst, _src, tos, table, _proto, _scope, kind, flags = _RTMSG.unpack_from(
        data, frame.offset + HEADER.size)
    if kind != RTN_UNICAST or tos or flags & RTM_F_CLONED:
        return False
    return tables is None or table == RT_TABLE_COMPAT or table in tables


def error_of(data: bytes, frame: Frame) -> Tuple[int, str]:
    """(errno, extended-ack message) of an NLMSG_ERROR or NLMSG_DONE; errno 0 is success."""
    start = frame.offset + HEADER.size
    if frame.length < HEADER.size + _I32.size:
        return 0, ""
    (error,) = _I32.unpack_from(data, start)
    start += _I32.size
    if frame.kind == NLMSG_ERROR:  # the request's header, or all of it, comes next
        echoed = HEADER.size if frame.flags & NLM_F_CAPPED else _U32.unpack_from(data, start)[0]
        start += _align(echoed)
    text = ""
    if frame.flags & NLM_F_ACK_TLVS:
        for kind, payload in attributes(data, start, frame.offset + frame.length):
            if kind == NLMSGERR_ATTR_MSG:
                text = payload.split(b"\0", 1)[0].decode(errors="replace")
    return -error, text


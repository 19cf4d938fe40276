"""The rtnetlink wire format: layouts, framing, attributes, and the requests nethook sends.

Standard library only and pure (operations in, bytes out; bytes in, frames out), so it
costs nothing to import and a few microseconds per request. The layouts are the
kernel's (linux/netlink.h, rtnetlink.h, if_addr.h, if_link.h, fib_rules.h); reading
messages into model objects is ``rtnl_decode``'s, the socket is ``netlink``'s. The
contract tests compare every request with pyroute2's encoding (Debian 12's 0.7.2 and the
current release) and run them against the kernel.

Each request says what the matching ``ip`` command (``op.describe()``) would say.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple, Type

from nethook.model.objects import Address, Route, Rule
from nethook.model.ops import RTPROT_NETHOOK, AddressOp, Op, RouteOp, RuleOp, Verb

# linux/netlink.h
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4
NLM_F_DUMP_INTR, NLM_F_DUMP_FILTERED = 0x10, 0x20
NLM_F_DUMP = 0x300
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400
NLM_F_CAPPED, NLM_F_ACK_TLVS = 0x100, 0x200  # in an ack: no echoed request; attributes
NLMSGERR_ATTR_MSG = 1

# linux/rtnetlink.h
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
RTM_NEWRULE, RTM_DELRULE, RTM_GETRULE = 32, 33, 34
RTN_UNICAST = 1
RTNH_F_ONLINK = 4
RTM_F_CLONED = 0x200
RT_TABLE_UNSPEC, RT_TABLE_COMPAT = 0, 252  # COMPAT: a header's word for "see RTA_TABLE"
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_HOST, RT_SCOPE_NOWHERE = 0, 253, 254, 255
SCOPE_NAMES = {RT_SCOPE_UNIVERSE: "global", 200: "site", RT_SCOPE_LINK: "link",
               RT_SCOPE_HOST: "host"}
_SCOPE_NUMBERS = {name: number for number, name in SCOPE_NAMES.items()}
FR_ACT_TO_TBL = 1
RTEXT_FILTER_SKIP_STATS = 1 << 3

IFLA_IFNAME, IFLA_EXT_MASK = 3, 29
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_FLAGS = 1, 2, 3, 8
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_TABLE = 1, 4, 5, 6, 7, 15
FRA_DST, FRA_SRC, FRA_IIFNAME, FRA_PRIORITY, FRA_FWMARK = 1, 2, 3, 6, 10
FRA_SUPPRESS_IFGROUP, FRA_SUPPRESS_PREFIXLEN = 13, 14
FRA_TABLE, FRA_FWMASK, FRA_OIFNAME, FRA_PAD, FRA_PROTOCOL = 15, 16, 17, 18, 21

FAMILIES = {4: socket.AF_INET, 6: socket.AF_INET6}

HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port
I32 = struct.Struct("=i")
_U16 = struct.Struct("=H")
U32 = struct.Struct("=I")
NLA = struct.Struct("=HH")
IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
RTMSG = struct.Struct("=BBBBBBBBI")  # struct fib_rule_hdr has the same layout

class Frame(NamedTuple):
    """One netlink message inside a datagram: where it is and its header."""

    offset: int
    length: int
    kind: int
    flags: int
    seq: int


# -- framing and attributes ----------------------------------------------------------------


def _align(length: int) -> int:
    return (length + 3) & ~3


def frames(data: bytes) -> Iterator[Frame]:
    """The messages of one datagram; ValueError if one is cut short."""
    offset, end = 0, len(data)
    while offset + 16 <= end:
        length, kind, flags, seq, _port = HEADER.unpack_from(data, offset)
        if length < 16 or offset + length > end:
            raise ValueError(f"truncated netlink message at byte {offset}")
        yield Frame(offset, length, kind, flags, seq)
        offset += (length + 3) & ~3


def attributes(data: bytes, start: int, end: int) -> Iterator[Tuple[int, bytes]]:
    """(type, payload) of each attribute from ``start`` to ``end``."""
    while start + 4 <= end:
        length, kind = NLA.unpack_from(data, start)
        if length < 4:
            return
        yield kind & 0x3FFF, data[start + 4:start + length]
        start += (length + 3) & ~3


def pack_attributes(*attrs: Tuple[int, bytes]) -> bytes:
    out = []
    for kind, payload in attrs:
        length = 4 + len(payload)
        out.append(NLA.pack(length, kind) + payload + b"\0" * (_align(length) - length))
    return b"".join(out)


def _u32(value: int) -> bytes:
    return U32.pack(value)


def _name(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape") + b"\0"


def message(kind: int, flags: int, seq: int, body: bytes) -> bytes:
    return HEADER.pack(HEADER.size + len(body), kind, NLM_F_REQUEST | flags, seq, 0) + body


def error_of(data: bytes, frame: Frame) -> Tuple[int, str]:
    """(errno, extended-ack message) of an NLMSG_ERROR or NLMSG_DONE; errno 0 is success."""
    start = frame.offset + HEADER.size
    if frame.length < HEADER.size + I32.size:
        return 0, ""
    (error,) = I32.unpack_from(data, start)
    start += I32.size
    if frame.kind == NLMSG_ERROR:  # the request's header, or all of it, comes next
        echoed = HEADER.size if frame.flags & NLM_F_CAPPED else U32.unpack_from(data, start)[0]
        start += _align(echoed)
    text = ""
    if frame.flags & NLM_F_ACK_TLVS:
        for kind, payload in attributes(data, start, frame.offset + frame.length):
            if kind == NLMSGERR_ATTR_MSG:
                text = payload.split(b"\0", 1)[0].decode(errors="replace")
    return -error, text


# -- requests for operations ---------------------------------------------------------------


# An address request's header and its IFA_LOCAL and IFA_ADDRESS, both the address: the
# one request a plan holds thousands of, packed in one call.
_ADDRESS_REQUEST = {4: struct.Struct("=BBBBIHH4sHH4s"), 6: struct.Struct("=BBBBIHH16sHH16s")}


def _address_body(op: AddressOp, index: Optional[int]) -> bytes:
    """``ip address add|del A/P dev X [label L]``: local and address both A, no broadcast."""
    address: Address = op.address
    interface = address.interface
    packed = interface.packed
    family = interface.version
    size = len(packed) + 4
    scope = RT_SCOPE_HOST if family == 4 and packed[0] == 127 else RT_SCOPE_UNIVERSE
    body = _ADDRESS_REQUEST[family].pack(
        FAMILIES[family], interface.network.prefixlen, 0, scope, index or 0,
        size, IFA_LOCAL, packed, size, IFA_ADDRESS, packed)
    if address.label and family == 4:
        return body + pack_attributes((IFA_LABEL, _name(address.label)))
    return body


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
    header = RTMSG.pack(
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
    return header + pack_attributes(*attrs)


def _rule_body(op: RuleOp, index: Optional[int]) -> bytes:
    rule: Rule = op.rule
    if rule.priority is None:
        raise ValueError(f"a rule without a priority reached the kernel adapter: {op.describe()}")
    header = RTMSG.pack(
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
    return header + pack_attributes(*attrs)


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


def request(op: Op, seq: int, index: Optional[int], ack: bool = True) -> bytes:
    """``op`` as one rtnetlink request; ``index`` is ``link_of(op)``'s. Without ``ack``
    the kernel answers only a refusal (an error always comes back)."""
    encoder = _ENCODERS[type(op)]
    verb = op.verb
    if verb is Verb.DELETE:
        kind, flags = encoder.delete, 0
    else:
        kind = encoder.new
        flags = NLM_F_CREATE | (NLM_F_EXCL if verb is Verb.ADD else NLM_F_REPLACE)
    body = encoder.body(op, index)
    return HEADER.pack(16 + len(body), kind, NLM_F_REQUEST | flags | (NLM_F_ACK if ack else 0),
                       seq, 0) + body


def acked(request: bytes) -> bytes:
    """``request`` asking for an acknowledgement (NLM_F_ACK) as well."""
    flags = _U16.unpack_from(request, 6)[0] | NLM_F_ACK
    return request[:6] + _U16.pack(flags) + request[8:]


# -- dump requests -------------------------------------------------------------------------
# Under the kernel's strict checking (NETLINK_GET_STRICT_CHK, Linux 4.20) a dump request's
# header must be zero but for its filters, and the kernel marks a filtered dump's
# messages NLM_F_DUMP_FILTERED; an older kernel ignores the filters and dumps everything.


def link_dump(seq: int) -> bytes:
    """Every link, without the statistics (nethook reads names and flags only)."""
    return message(RTM_GETLINK, NLM_F_DUMP, seq, IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
                   + pack_attributes((IFLA_EXT_MASK, _u32(RTEXT_FILTER_SKIP_STATS))))


def address_dump(seq: int, index: int = 0) -> bytes:
    """The addresses of both families: of one interface, or (index 0) of every one."""
    return message(RTM_GETADDR, NLM_F_DUMP, seq,
                   IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, index))


def route_dump(seq: int, table: Optional[int] = None) -> bytes:
    """The routes of both families: of one table, or (None) of every one."""
    if table is None:
        return message(RTM_GETROUTE, NLM_F_DUMP, seq, RTMSG.pack(socket.AF_UNSPEC, *(0,) * 8))
    header = RTMSG.pack(socket.AF_UNSPEC, 0, 0, 0, table if table < 256 else RT_TABLE_UNSPEC,
                        0, 0, 0, 0)
    return message(RTM_GETROUTE, NLM_F_DUMP, seq,
                   header + pack_attributes((RTA_TABLE, _u32(table))))


def rule_dump(seq: int) -> bytes:
    """Every rule of every family."""
    return message(RTM_GETRULE, NLM_F_DUMP, seq, RTMSG.pack(socket.AF_UNSPEC, *(0,) * 8))

"""rtnetlink messages to model objects: the one decoder, for dumps and notifications alike.

The kernel adapter (``netlink``) reads its dumps with it and the watcher its
notifications; ``RTM_DEL*`` messages have the layout of ``RTM_NEW*`` ones. Each function
unpacks the fixed header with one ``struct`` call, returns early for what nethook does
not keep, and copies out only the attributes it uses, stepping over the others. The
contract tests hold its readings of real kernel dumps to pyroute2's and ``ip -j``'s.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Collection, Mapping
from typing import Any, Dict, FrozenSet, NamedTuple, Optional, Tuple

from nethook.adapters import rtnl_codec as codec
from nethook.adapters.rtnl_codec import Frame
from nethook.model.objects import Address, IPAddress, IPNetwork, Route, Rule

VERSIONS = {socket.AF_INET: 4, socket.AF_INET6: 6}
# The kernel's own IPv6 link-local addresses; config refuses to declare addresses here.
KERNEL_LINK_LOCAL = ipaddress.ip_network("fe80::/64")
IFF_UP = 0x1
IFA_F_PERMANENT = 0x80
FIB_RULE_INVERT = 0x2
UNSET = 0xFFFFFFFF  # a suppressor the kernel always sends, unused

_SIZE: Dict[int, int] = {socket.AF_INET: 4, socket.AF_INET6: 16}
_INTERFACE: Dict[int, Any] = {socket.AF_INET: ipaddress.IPv4Interface,
                              socket.AF_INET6: ipaddress.IPv6Interface}
_NETWORK: Dict[int, Any] = {socket.AF_INET: ipaddress.IPv4Network,
                            socket.AF_INET6: ipaddress.IPv6Network}
_IP: Dict[int, Any] = {socket.AF_INET: ipaddress.IPv4Address,
                       socket.AF_INET6: ipaddress.IPv6Address}

# What each kind of message is read for; every other attribute is stepped over.
_LINK_ATTRS = frozenset({codec.IFLA_IFNAME})
_ADDRESS_ATTRS = frozenset({codec.IFA_ADDRESS, codec.IFA_LOCAL, codec.IFA_LABEL,
                            codec.IFA_FLAGS})
_ROUTE_ATTRS = frozenset({codec.RTA_DST, codec.RTA_OIF, codec.RTA_GATEWAY, codec.RTA_PRIORITY,
                          codec.RTA_PREFSRC, codec.RTA_TABLE})
# A rule is a model Rule only if it has no attribute but these, and the two suppressors
# unset. Any other (goto, uid range, ports, dscp, or one newer than this list) makes it
# another rule than the model can state: it is left out rather than seen as a broader one.
_RULE_ATTRS = frozenset({codec.FRA_DST, codec.FRA_SRC, codec.FRA_IIFNAME, codec.FRA_PRIORITY,
                         codec.FRA_FWMARK, codec.FRA_TABLE, codec.FRA_FWMASK,
                         codec.FRA_OIFNAME, codec.FRA_PAD, codec.FRA_PROTOCOL,
                         codec.FRA_SUPPRESS_IFGROUP, codec.FRA_SUPPRESS_PREFIXLEN})
_SUPPRESSORS = (codec.FRA_SUPPRESS_IFGROUP, codec.FRA_SUPPRESS_PREFIXLEN)

Attrs = Dict[int, bytes]


class Link(NamedTuple):
    ifindex: int
    name: Optional[str]  # RTM_DELLINK may carry none
    up: bool


class UnknownLink(ValueError):
    """A route leaves by an interface index the caller does not know (it just went away)."""


def _wanted(data: bytes, start: int, end: int, wanted: FrozenSet[int]) -> Attrs:
    """The first of each attribute in ``wanted``; the others are stepped over unread."""
    found: Attrs = {}
    unpack = codec.NLA.unpack_from
    while start + 4 <= end:
        length, kind = unpack(data, start)
        if length < 4:
            break
        kind &= 0x3FFF
        if kind in wanted and kind not in found:
            found[kind] = data[start + 4:start + length]
        start += (length + 3) & ~3
    return found


def _u32(payload: Optional[bytes]) -> Optional[int]:
    if payload is None or len(payload) < 4:
        return None
    return int(codec.U32.unpack_from(payload)[0])


def _text(payload: Optional[bytes]) -> Optional[str]:
    if payload is None:
        return None
    return payload.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _ip(payload: Optional[bytes], family: int) -> Optional[IPAddress]:
    if not payload:
        return None
    ip: IPAddress = _IP[family](payload[:_SIZE[family]])
    return ip


def _network(payload: Optional[bytes], prefixlen: int, family: int) -> IPNetwork:
    size = _SIZE[family]
    network: IPNetwork = _NETWORK[family](
        (payload[:size] if payload else bytes(size), prefixlen), strict=False)
    return network


def link(data: bytes, frame: Frame) -> Link:
    """An RTM_NEWLINK or RTM_DELLINK: index, name and whether it is administratively up."""
    start = frame.offset + 16
    _family, _kind, index, flags, _change = codec.IFINFOMSG.unpack_from(data, start)
    attrs = _wanted(data, start + 16, frame.offset + frame.length, _LINK_ATTRS)
    return Link(index, _text(attrs.get(codec.IFLA_IFNAME)), bool(flags & IFF_UP))


def address_index(data: bytes, frame: Frame) -> Tuple[int, bool]:
    """(interface index, permanent) from an address message's header alone: cheap enough
    to skip what is not wanted. The header's flags hold IFA_F_PERMANENT."""
    _family, _prefixlen, flags, _scope, index = codec.IFADDRMSG.unpack_from(
        data, frame.offset + 16)
    return index, bool(flags & IFA_F_PERMANENT)


def address(data: bytes, frame: Frame,
            names: Mapping[int, str]) -> Optional[Tuple[Address, bool]]:
    """An RTM_NEWADDR or RTM_DELADDR as (address, permanent); None for what nethook never
    keeps (another family, the kernel's own fe80::/64) or an interface not in ``names``."""
    start = frame.offset + 16
    family, prefixlen, flags, _scope, index = codec.IFADDRMSG.unpack_from(data, start)
    ifname = names.get(index)
    if ifname is None or family not in VERSIONS:
        return None
    attrs = _wanted(data, start + 8, frame.offset + frame.length, _ADDRESS_ATTRS)
    local = attrs.get(codec.IFA_LOCAL) or attrs.get(codec.IFA_ADDRESS)
    if not local:
        return None
    interface = _INTERFACE[family]((local[:_SIZE[family]], prefixlen))
    label = None
    if family == socket.AF_INET:
        label = _text(attrs.get(codec.IFA_LABEL))
    elif interface.network == KERNEL_LINK_LOCAL:
        return None
    full_flags = _u32(attrs.get(codec.IFA_FLAGS))
    permanent = bool((flags if full_flags is None else full_flags) & IFA_F_PERMANENT)
    return Address(ifname, interface, None if label == ifname else label), permanent


def plain_route(data: bytes, frame: Frame, tables: Optional[Collection[int]]) -> bool:
    """Whether the header of a route message allows a route nethook observes: unicast, no
    TOS, not a cached clone, and in ``tables`` (None: any) as far as the header can tell."""
    _family, _dst, _src, tos, table, _proto, _scope, kind, flags = codec.RTMSG.unpack_from(
        data, frame.offset + 16)
    if kind != codec.RTN_UNICAST or tos or flags & codec.RTM_F_CLONED:
        return False
    return tables is None or table == codec.RT_TABLE_COMPAT or table in tables


def route(data: bytes, frame: Frame, names: Mapping[int, str],
          tables: Optional[Collection[int]] = None, *,
          known_links: bool = False) -> Optional[Route]:
    """An RTM_NEWROUTE or RTM_DELROUTE, if it is one nethook observes (``plain_route``, in
    ``tables`` when given, IPv4 or IPv6). An outgoing interface missing from ``names``
    leaves ``ifname`` None (the key does not depend on it); with ``known_links`` it is
    UnknownLink."""
    if not plain_route(data, frame, tables):
        return None
    start = frame.offset + 16
    family, dst_len, _src, _tos, header_table, _proto, scope, _kind, flags = \
        codec.RTMSG.unpack_from(data, start)
    if family not in VERSIONS:
        return None
    attrs = _wanted(data, start + 12, frame.offset + frame.length, _ROUTE_ATTRS)
    table = _u32(attrs.get(codec.RTA_TABLE)) or header_table
    if tables is not None and table not in tables:
        return None
    oif = _u32(attrs.get(codec.RTA_OIF))
    ifname = None if oif is None else names.get(oif)
    if ifname is None and oif is not None and known_links:
        raise UnknownLink(f"a route leaves by interface index {oif}, which just went away")
    return Route(
        dst=_network(attrs.get(codec.RTA_DST), dst_len, family), table=table,
        metric=_u32(attrs.get(codec.RTA_PRIORITY)) or 0, ifname=ifname,
        gateway=_ip(attrs.get(codec.RTA_GATEWAY), family),
        src=_ip(attrs.get(codec.RTA_PREFSRC), family),
        scope=codec.SCOPE_NAMES.get(scope, str(scope)),
        onlink=bool(flags & codec.RTNH_F_ONLINK))


def rule(data: bytes, frame: Frame) -> Optional[Rule]:
    """An RTM_NEWRULE or RTM_DELRULE, if the model can state it (a plain lookup rule)."""
    start = frame.offset + 16
    family, dst_len, src_len, tos, header_table, _r1, _r2, action, flags = \
        codec.RTMSG.unpack_from(data, start)
    if family not in VERSIONS or action != codec.FR_ACT_TO_TBL or tos \
            or flags & FIB_RULE_INVERT:
        return None
    attrs: Attrs = {}
    for kind, payload in codec.attributes(data, start + 12, frame.offset + frame.length):
        if kind not in _RULE_ATTRS:
            return None
        attrs.setdefault(kind, payload)
    if any(_u32(attrs.get(kind)) not in (None, UNSET) for kind in _SUPPRESSORS):
        return None
    src, dst = attrs.get(codec.FRA_SRC), attrs.get(codec.FRA_DST)
    fwmark, fwmask = _u32(attrs.get(codec.FRA_FWMARK)), _u32(attrs.get(codec.FRA_FWMASK))
    if fwmark is None and fwmask is not None:
        fwmark = 0  # the kernel leaves a zero mark out, and keeps its mask
    return Rule(
        table=_u32(attrs.get(codec.FRA_TABLE)) or header_table, family=VERSIONS[family],
        priority=_u32(attrs.get(codec.FRA_PRIORITY)) or 0,
        src=_network(src, src_len, family) if src else None,
        dst=_network(dst, dst_len, family) if dst else None,
        fwmark=fwmark, fwmask=None if fwmask == UNSET else fwmask,
        iif=_text(attrs.get(codec.FRA_IIFNAME)), oif=_text(attrs.get(codec.FRA_OIFNAME)))

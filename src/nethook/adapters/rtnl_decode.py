"""rtnetlink messages to model objects with the standard library only.

The same mapping as ``pyroute2_netlink`` makes with pyroute2's message classes (a test
checks that both read the same kernel alike), for the watcher, which decodes every
notification the kernel multicasts and must stay cheap: a ``struct`` unpack and a walk
over the attributes, with no pyroute2 import. Dumps and notifications share the layout,
so ``RTM_DEL*`` messages decode like ``RTM_NEW*`` ones.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Mapping
from typing import Dict, NamedTuple, Optional, Tuple

from nethook.adapters import rtnl_codec as codec
from nethook.adapters.rtnl_codec import Frame
from nethook.model.objects import Address, IPAddress, IPNetwork, Route, Rule

VERSIONS = {socket.AF_INET: 4, socket.AF_INET6: 6}
KERNEL_LINK_LOCAL = ipaddress.ip_network("fe80::/64")

_IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # also struct fib_rule_hdr
_U32 = struct.Struct("=I")

IFLA_IFNAME = 3
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_FLAGS = 1, 2, 3, 8
IFA_F_PERMANENT = 0x80
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_TABLE = 1, 4, 5, 6, 7, 15
FRA_DST, FRA_SRC, FRA_IIFNAME, FRA_PRIORITY, FRA_FWMARK = 1, 2, 3, 6, 10
FRA_TABLE, FRA_FWMASK, FRA_OIFNAME = 15, 16, 17
FIB_RULE_INVERT = 0x2
IFF_UP = 0x1
# Rule selectors the model cannot state, with the value that means "unused" (None: any
# value means used); as in pyroute2_netlink.UNMODELLED_RULE_ATTRS.
UNMODELLED_RULE_ATTRS = {14: 0xFFFFFFFF, 13: 0xFFFFFFFF,  # suppress_prefixlen, _ifgroup
                         4: None, 11: None, 12: None, 19: None, 20: None, 22: None,
                         23: None, 24: None}  # goto flow tun_id l3mdev uid ip_proto ports

Attrs = Dict[int, bytes]


class Link(NamedTuple):
    ifindex: int
    name: Optional[str]  # RTM_DELLINK may carry none
    up: bool


def _attrs(data: bytes, frame: Frame, header_size: int) -> Attrs:
    start = frame.offset + codec.HEADER.size + header_size
    found: Attrs = {}
    for kind, payload in codec.attributes(data, start, frame.offset + frame.length):
        found.setdefault(kind, payload)
    return found


def _text(payload: Optional[bytes]) -> Optional[str]:
    if payload is None:
        return None
    return payload.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _u32(payload: Optional[bytes]) -> Optional[int]:
    return None if payload is None or len(payload) < 4 else int(_U32.unpack_from(payload)[0])


def _network(payload: Optional[bytes], prefixlen: int, family: int) -> IPNetwork:
    size = 4 if family == socket.AF_INET else 16
    packed = payload[:size] if payload else bytes(size)
    return ipaddress.ip_network((packed, prefixlen), strict=False)


def _ip(payload: Optional[bytes], family: int) -> Optional[IPAddress]:
    if not payload:
        return None
    return ipaddress.ip_address(payload[:4] if family == socket.AF_INET else payload[:16])


def link(data: bytes, frame: Frame) -> Link:
    """An RTM_NEWLINK or RTM_DELLINK: index, name and whether it is administratively up."""
    _family, _kind, index, flags, _change = _IFINFOMSG.unpack_from(
        data, frame.offset + codec.HEADER.size)
    attrs = _attrs(data, frame, _IFINFOMSG.size)
    return Link(index, _text(attrs.get(IFLA_IFNAME)), bool(flags & IFF_UP))


def address_header(data: bytes, frame: Frame,
                   names: Mapping[int, str]) -> Tuple[bool, Optional[str]]:
    """(permanent, interface name) from the header of an address message alone: cheap
    enough to skip what is not wanted. The header's flags hold IFA_F_PERMANENT."""
    _family, _prefixlen, flags, _scope, index = _IFADDRMSG.unpack_from(
        data, frame.offset + codec.HEADER.size)
    return bool(flags & IFA_F_PERMANENT), names.get(index)


def address(data: bytes, frame: Frame,
            names: Mapping[int, str]) -> Optional[Tuple[Address, bool]]:
    """An RTM_NEWADDR or RTM_DELADDR as (address, permanent); None for what nethook never
    keeps (another family, the kernel's own fe80::/64) or an interface not in ``names``."""
    family, prefixlen, flags, _scope, index = _IFADDRMSG.unpack_from(
        data, frame.offset + codec.HEADER.size)
    ifname = names.get(index)
    if family not in VERSIONS or ifname is None:
        return None
    attrs = _attrs(data, frame, _IFADDRMSG.size)
    local = _ip(attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS), family)
    if local is None:
        return None
    interface = ipaddress.ip_interface((local.packed, prefixlen))
    if interface.network == KERNEL_LINK_LOCAL:
        return None
    label = _text(attrs.get(IFA_LABEL)) if family == socket.AF_INET else None
    full_flags = _u32(attrs.get(IFA_FLAGS))
    permanent = bool((flags if full_flags is None else full_flags) & IFA_F_PERMANENT)
    return Address(ifname, interface, None if label == ifname else label), permanent


def route(data: bytes, frame: Frame, names: Mapping[int, str],
          tables: Optional[Mapping[int, object]] = None) -> Optional[Route]:
    """An RTM_NEWROUTE or RTM_DELROUTE, if it is a route nethook observes (unicast, no
    TOS, not a cached clone; in ``tables`` when given). An outgoing interface missing
    from ``names`` leaves ``ifname`` None: the route's key does not depend on it."""
    if not codec.plain_route(data, frame, tables):
        return None
    family, dst_len, _src, _tos, header_table, _proto, scope, _kind, flags = \
        _RTMSG.unpack_from(data, frame.offset + codec.HEADER.size)
    if family not in VERSIONS:
        return None
    attrs = _attrs(data, frame, _RTMSG.size)
    table = _u32(attrs.get(RTA_TABLE)) or header_table
    if tables is not None and table not in tables:
        return None
    oif = _u32(attrs.get(RTA_OIF))
    return Route(
        dst=_network(attrs.get(RTA_DST), dst_len, family), table=table,
        metric=_u32(attrs.get(RTA_PRIORITY)) or 0,
        ifname=None if oif is None else names.get(oif),
        gateway=_ip(attrs.get(RTA_GATEWAY), family), src=_ip(attrs.get(RTA_PREFSRC), family),
        scope=codec.SCOPE_NAMES.get(scope, str(scope)),
        onlink=bool(flags & codec.RTNH_F_ONLINK))


def rule(data: bytes, frame: Frame) -> Optional[Rule]:
    """An RTM_NEWRULE or RTM_DELRULE, if the model can state it (a plain lookup rule)."""
    family, dst_len, src_len, tos, header_table, _r1, _r2, action, flags = \
        _RTMSG.unpack_from(data, frame.offset + codec.HEADER.size)
    if family not in VERSIONS or action != codec.FR_ACT_TO_TBL or tos \
            or flags & FIB_RULE_INVERT:
        return None
    attrs = _attrs(data, frame, _RTMSG.size)
    if any(kind in attrs and (unset is None or _u32(attrs[kind]) != unset)
           for kind, unset in UNMODELLED_RULE_ATTRS.items()):
        return None
    src, dst = attrs.get(FRA_SRC), attrs.get(FRA_DST)
    fwmark, fwmask = _u32(attrs.get(FRA_FWMARK)), _u32(attrs.get(FRA_FWMASK))
    if fwmark is None and fwmask is not None:
        fwmark = 0  # the kernel leaves a zero mark out, and keeps its mask
    return Rule(
        table=_u32(attrs.get(FRA_TABLE)) or header_table, family=VERSIONS[family],
        priority=_u32(attrs.get(FRA_PRIORITY)) or 0,
        src=_network(src, src_len, family) if src else None,
        dst=_network(dst, dst_len, family) if dst else None,
        fwmark=fwmark, fwmask=None if fwmask == 0xFFFFFFFF else fwmask,
        iif=_text(attrs.get(FRA_IIFNAME)), oif=_text(attrs.get(FRA_OIFNAME)))

"""The real Netlink port: one rtnetlink socket, replies decoded by pyroute2's message classes.

The only module of nethook that imports pyroute2, and only its message classes, whose
``get_attr('RTA_TABLE')``-style access reads the same in pyroute2 0.7 (Debian 12) and
0.9. Requests are encoded by ``rtnl_codec`` and pipelined: a window of them goes to the
kernel in one datagram, each with its own sequence number and NLM_F_ACK, and the acks
are matched back by sequence number. The kernel handles one socket's requests in order,
so the plan's order holds; a window never holds more acks than the receive buffer can.

The socket belongs to the network namespace that was current when it was opened.
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import socket
from collections.abc import Collection, Sequence
from types import TracebackType
from typing import Any, Callable, Dict, List, Optional, Set, Tuple, Type

from pyroute2.netlink.rtnl.fibmsg import fibmsg
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from nethook.adapters import rtnl_codec as codec
from nethook.adapters.rtnl_codec import Frame
from nethook.base.errors import NethookError, ObserveError
from nethook.model.objects import Address, IPAddress, IPInterface, IPNetwork, Observed, Route, Rule
from nethook.model.ops import Op
from nethook.model.ports import Outcome

SOL_NETLINK = 270
NETLINK_CAP_ACK = 10  # acks do not echo the request back
NETLINK_EXT_ACK = 11  # errors carry the kernel's message
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
RCVBUF_WANTED = 1 << 20
# The most one ack, with an error message, costs in the receive buffer (its skb truesize
# is 768 to about 1300 bytes). A window holds at most rcvbuf / ACK_COST requests.
ACK_COST = 2048
MAX_WINDOW = 256
MAX_DATAGRAM = 1 << 16
RECV_SIZE = 1 << 18
TIMEOUT = 10.0
DUMP_ATTEMPTS = 3

IFA_F_PERMANENT = 0x80
FIB_RULE_INVERT = 0x2
VERSIONS = {socket.AF_INET: 4, socket.AF_INET6: 6}
# The kernel's own IPv6 link-local addresses; config refuses to declare addresses here.
KERNEL_LINK_LOCAL = ipaddress.ip_network("fe80::/64")
# Selectors the model cannot state, with the value that means "not used" (the kernel
# always sends the suppressors, -1 when unset). A rule using one is another rule than
# the model would show, so it is left out rather than observed as a broader one.
UNMODELLED_RULE_ATTRS = {
    "FRA_SUPPRESS_PREFIXLEN": 0xFFFFFFFF, "FRA_SUPPRESS_IFGROUP": 0xFFFFFFFF,
    "FRA_GOTO": None, "FRA_FLOW": None, "FRA_TUN_ID": None, "FRA_L3MDEV": None,
    "FRA_UID_RANGE": None, "FRA_IP_PROTO": None, "FRA_SPORT_RANGE": None,
    "FRA_DPORT_RANGE": None,
}

Received = Tuple[bytes, Frame]
Pending = Tuple[int, int, bytes]  # position in the plan, sequence number, request


def open_netlink() -> PyrouteNetlink:
    """An adapter on a new rtnetlink socket in the current network namespace."""
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    except OSError as exc:
        raise NethookError(f"cannot open an rtnetlink socket: {exc}") from exc
    try:
        window = _configure(sock)
    except OSError as exc:
        sock.close()
        raise NethookError(f"cannot set up the rtnetlink socket: {exc}") from exc
    return PyrouteNetlink(sock, window)


def _configure(sock: socket.socket) -> int:
    """Options the kernel may lack are best effort; returns the window size they allow."""
    for level, option, value in ((SOL_NETLINK, NETLINK_EXT_ACK, 1),
                                 (SOL_NETLINK, NETLINK_CAP_ACK, 1),
                                 (socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF_WANTED)):
        try:
            sock.setsockopt(level, option, value)
        except OSError:
            if option == SO_RCVBUFFORCE:  # needs CAP_NET_ADMIN; the capped kind does not
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF_WANTED)
    sock.bind((0, 0))
    sock.settimeout(TIMEOUT)
    rcvbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    return max(1, min(MAX_WINDOW, rcvbuf // ACK_COST))


class PyrouteNetlink:
    """Implements ``nethook.model.ports.Netlink``; also a context manager that closes it."""

    def __init__(self, sock: socket.socket, window: int) -> None:
        self._sock = sock
        self.window = window
        self._seq = 0

    def __enter__(self) -> PyrouteNetlink:
        return self

    def __exit__(self, kind: Optional[Type[BaseException]], value: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    # -- reading -------------------------------------------------------------------------

    def observe(self, ifnames: Collection[str], tables: Optional[Collection[int]]) -> Observed:
        try:
            return self._observe(set(ifnames), None if tables is None else set(tables))
        except OSError as exc:
            raise ObserveError(f"cannot read the kernel's network state: {exc}") from exc
        except ValueError as exc:
            raise ObserveError(f"unreadable reply from the kernel: {exc}") from exc

    def _observe(self, ifnames: Set[str], tables: Optional[Set[int]]) -> Observed:
        links = self._links()
        wanted = {index: name for index, name in links.items() if name in ifnames}
        addresses, dynamic = self._addresses(wanted)
        return Observed(links=frozenset(links.values()), addresses=frozenset(addresses),
                        routes=frozenset(self._routes(links, tables)),
                        rules=frozenset(self._rules()), dynamic=frozenset(dynamic))

    def _links(self) -> Dict[int, str]:
        links: Dict[int, str] = {}
        for data, frame in self._dump(codec.link_dump):
            if frame.kind == codec.RTM_NEWLINK:
                msg = _decode(ifinfmsg, data, frame)
                links[msg["index"]] = msg.get_attr("IFLA_IFNAME")
        return links

    def _addresses(self, wanted: Dict[int, str]
                   ) -> Tuple[Set[Address], Set[Tuple[str, IPInterface]]]:
        found: Set[Address] = set()
        dynamic: Set[Tuple[str, IPInterface]] = set()
        for data, frame in self._dump(codec.address_dump):
            if frame.kind != codec.RTM_NEWADDR or codec.address_index(data, frame) not in wanted:
                continue
            msg = _decode(ifaddrmsg, data, frame)
            address = _address(msg, wanted[msg["index"]])
            if address is not None:
                found.add(address)
                if not _permanent(msg):
                    dynamic.add(address.key)
        return found, dynamic

    def _routes(self, links: Dict[int, str], tables: Optional[Set[int]]) -> List[Route]:
        routes = []
        for family in VERSIONS:
            for data, frame in self._dump(functools.partial(codec.route_dump, family=family)):
                if frame.kind != codec.RTM_NEWROUTE or not codec.plain_route(data, frame, tables):
                    continue
                msg = _decode(rtmsg, data, frame)
                table = msg.get_attr("RTA_TABLE") or msg["table"]
                if tables is None or table in tables:
                    routes.append(_route(msg, table, links))
        return routes

    def _rules(self) -> List[Rule]:
        rules = []
        for data, frame in self._dump(codec.rule_dump):
            if frame.kind == codec.RTM_NEWRULE:
                rule = _rule(_decode(fibmsg, data, frame))
                if rule is not None:
                    rules.append(rule)
        return rules

    def _dump(self, build: Callable[[int], bytes]) -> List[Received]:
        """Every reply to one dump request, asked again if the kernel says it changed."""
        for _attempt in range(DUMP_ATTEMPTS):
            seq = self._next_seq()
            self._sock.send(build(seq))
            replies, interrupted = self._dump_replies(seq)
            if not interrupted:
                return replies
        raise ObserveError("the kernel's state kept changing while it was being read")

    def _dump_replies(self, seq: int) -> Tuple[List[Received], bool]:
        replies: List[Received] = []
        interrupted = False
        while True:
            data = self._sock.recv(RECV_SIZE)
            for frame in codec.frames(data):
                if frame.seq != seq:
                    continue
                interrupted = interrupted or bool(frame.flags & codec.NLM_F_DUMP_INTR)
                if frame.kind in (codec.NLMSG_DONE, codec.NLMSG_ERROR):
                    code, message = codec.error_of(data, frame)
                    if code:
                        name = errno.errorcode.get(code, str(code))
                        raise ObserveError(f"the kernel refused a dump: {message or name}")
                    return replies, interrupted
                replies.append((data, frame))

    # -- writing -------------------------------------------------------------------------

    def execute(self, ops: Sequence[Op]) -> List[Outcome]:
        """Raises ValueError, before sending anything, for an op that cannot be encoded."""
        if not ops:
            return []
        try:
            indexes = {name: index for index, name in self._links().items()}
        except (OSError, ValueError) as exc:
            raise NethookError(f"cannot list the interfaces: {exc}") from exc
        outcomes, pending = self._encode(ops, indexes)
        try:
            for start in range(0, len(pending), self.window):
                self._run_window(pending[start:start + self.window], outcomes)
        except (OSError, ValueError) as exc:  # ValueError: an ack cut short
            raise NethookError(f"the rtnetlink socket failed: {exc}") from exc
        return outcomes

    def _encode(self, ops: Sequence[Op], indexes: Dict[str, int]
                ) -> Tuple[List[Outcome], List[Pending]]:
        """Every request, encoded before any is sent; ENODEV for those whose link is gone."""
        outcomes: List[Outcome] = [(0, "")] * len(ops)
        pending: List[Pending] = []
        for position, op in enumerate(ops):
            ifname = codec.link_of(op)
            if ifname is not None and ifname not in indexes:
                outcomes[position] = (errno.ENODEV, f"interface {ifname} does not exist")
                continue
            seq = self._next_seq()
            index = indexes[ifname] if ifname is not None else None
            pending.append((position, seq, codec.request(op, seq, index)))
        return outcomes, pending

    def _run_window(self, window: List[Pending], outcomes: List[Outcome]) -> None:
        waiting = {seq: position for position, seq, _request in window}
        for datagram in _datagrams(window):
            self._sock.send(datagram)
        while waiting:
            data = self._sock.recv(RECV_SIZE)
            for frame in codec.frames(data):
                if frame.kind == codec.NLMSG_ERROR and frame.seq in waiting:
                    outcomes[waiting.pop(frame.seq)] = codec.error_of(data, frame)

    def _next_seq(self) -> int:
        self._seq = self._seq % 0x7FFFFFFF + 1
        return self._seq


def _datagrams(window: List[Pending]) -> List[bytes]:
    """The window's requests packed into as few datagrams as the socket takes."""
    datagrams: List[bytes] = []
    batch: List[bytes] = []
    size = 0
    for _position, _seq, request in window:
        if batch and size + len(request) > MAX_DATAGRAM:
            datagrams.append(b"".join(batch))
            batch, size = [], 0
        batch.append(request)
        size += len(request)
    if batch:
        datagrams.append(b"".join(batch))
    return datagrams


# -- decoding: pyroute2 message -> model ---------------------------------------------------


def _decode(cls: Any, data: bytes, frame: Frame) -> Any:
    try:
        msg = cls(data, offset=frame.offset, length=frame.length)
        msg.decode()
    except Exception as exc:  # pyroute2 raises many kinds; each means "unreadable"
        raise ObserveError(f"cannot decode a kernel message ({cls.__name__}): {exc}") from exc
    return msg


def _network(address: Optional[str], prefixlen: int, family: int) -> IPNetwork:
    zero = "0.0.0.0" if family == socket.AF_INET else "::"
    return ipaddress.ip_network(f"{address or zero}/{prefixlen}", strict=False)


def _ip(text: Optional[str]) -> Optional[IPAddress]:
    return ipaddress.ip_address(text) if text else None


def _address(msg: Any, ifname: str) -> Optional[Address]:
    family = msg["family"]
    if family not in VERSIONS:
        return None
    local = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
    interface = ipaddress.ip_interface(f"{local}/{msg['prefixlen']}")
    if interface.network == KERNEL_LINK_LOCAL:
        return None
    label = msg.get_attr("IFA_LABEL") if family == socket.AF_INET else None
    return Address(ifname, interface, None if label == ifname else label)


def _permanent(msg: Any) -> bool:
    flags = msg.get_attr("IFA_FLAGS")
    return bool((msg["flags"] if flags is None else flags) & IFA_F_PERMANENT)


def _route(msg: Any, table: int, links: Dict[int, str]) -> Route:
    oif = msg.get_attr("RTA_OIF")
    if oif is not None and oif not in links:
        raise ObserveError(f"a route leaves by interface index {oif}, which just went away")
    scope = msg["scope"]
    return Route(
        dst=_network(msg.get_attr("RTA_DST"), msg["dst_len"], msg["family"]), table=table,
        metric=msg.get_attr("RTA_PRIORITY") or 0, ifname=None if oif is None else links[oif],
        gateway=_ip(msg.get_attr("RTA_GATEWAY")), src=_ip(msg.get_attr("RTA_PREFSRC")),
        scope=codec.SCOPE_NAMES.get(scope, str(scope)),
        onlink=bool(msg["flags"] & codec.RTNH_F_ONLINK))


def _rule(msg: Any) -> Optional[Rule]:
    family = msg["family"]
    if (family not in VERSIONS or msg["action"] != codec.FR_ACT_TO_TBL or msg["tos"]
            or msg["flags"] & FIB_RULE_INVERT
            or any(msg.get_attr(name) not in (None, unset)
                   for name, unset in UNMODELLED_RULE_ATTRS.items())):
        return None
    src, dst = msg.get_attr("FRA_SRC"), msg.get_attr("FRA_DST")
    fwmark, fwmask = msg.get_attr("FRA_FWMARK"), msg.get_attr("FRA_FWMASK")
    if fwmark is None and fwmask is not None:
        fwmark = 0  # the kernel leaves a zero mark out, and keeps its mask
    return Rule(
        table=msg.get_attr("FRA_TABLE") or msg["table"], family=VERSIONS[family],
        priority=msg.get_attr("FRA_PRIORITY") or 0,
        src=_network(src, msg["src_len"], family) if src else None,
        dst=_network(dst, msg["dst_len"], family) if dst else None,
        fwmark=fwmark, fwmask=None if fwmask == 0xFFFFFFFF else fwmask,
        iif=msg.get_attr("FRA_IIFNAME"), oif=msg.get_attr("FRA_OIFNAME"))

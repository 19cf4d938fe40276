"""The real Netlink port: one rtnetlink socket, spoken with the standard library only.

**Reading** asks the kernel only for what the scope needs: the links; the addresses of
the interfaces in scope; the routes of the tables in scope (none when no table is); the
rules. Under the kernel's strict checking (NETLINK_GET_STRICT_CHK, Linux 4.20) each
interface and each table is a dump of its own, filtered by the kernel (up to 16 of them;
beyond, one dump costs less); without it, one dump of each kind. Either way every
message is checked against the scope here as well, so a kernel that ignores a filter
gives the same observation. Any failure is ObserveError: never a partial observation.

**Writing** encodes every operation of a plan before sending any, then sends them in as
few datagrams as the socket's buffers allow (one, for plans of a few thousand
operations), each request with its own sequence number. Only the last of a batch asks
for an acknowledgement: the kernel answers every refusal whatever the flags, and handles
one socket's requests in order, so once that ack is in, every refusal of the batch is
too and the other requests succeeded. A batch never holds more requests than the
receive buffer has room to refuse, so no refusal is ever dropped.

The socket belongs to the network namespace that was current when it was opened.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import socket
from collections.abc import Collection, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Callable, Dict, List, Optional, Set, Tuple, Type, TypeVar

from nethook.adapters import rtnl_codec as codec
from nethook.adapters import rtnl_decode as decode
from nethook.adapters.rtnl_codec import Frame
from nethook.base.errors import NethookError, ObserveError
from nethook.model.objects import Address, Observed, Route, Rule
from nethook.model.ops import Op
from nethook.model.ports import Outcome

SOL_NETLINK = 270
NETLINK_CAP_ACK = 10  # acks do not echo the request back
NETLINK_EXT_ACK = 11  # errors carry the kernel's message
NETLINK_GET_STRICT_CHK = 12  # dump requests are checked, and their filters applied
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
SO_SNDBUFFORCE = getattr(socket, "SO_SNDBUFFORCE", 32)
# Limits, not allocations: the kernel charges what is queued. The receive side holds the
# refusals of one batch, the send side one batch's datagram.
RCVBUF_WANTED = 8 << 20
SNDBUF_WANTED = 1 << 20
# The most one refusal, with the kernel's message, costs in the receive buffer (its
# skb's truesize is 768 to about 1300 bytes). A batch holds at most rcvbuf / ACK_COST.
ACK_COST = 2048
RECV_SIZE = 1 << 18
TIMEOUT = 10.0
DUMP_ATTEMPTS = 3
# Beyond this many interfaces or tables in scope, one dump of everything, filtered here,
# costs less than a dump of each (a few system calls apiece).
FILTERED_DUMPS_MAX = 16

T = TypeVar("T")
Decoder = Callable[[bytes, Frame], Optional[T]]
Pending = Tuple[int, int, bytes]  # position in the plan, sequence number, request


def open_netlink() -> KernelNetlink:
    """An adapter on a new rtnetlink socket in the current network namespace."""
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                             socket.NETLINK_ROUTE)
    except OSError as exc:
        raise NethookError(f"cannot open an rtnetlink socket: {exc}") from exc
    try:
        strict = _configure(sock)
    except OSError as exc:
        sock.close()
        raise NethookError(f"cannot set up the rtnetlink socket: {exc}") from exc
    return KernelNetlink(sock, strict)


def _option(sock: socket.socket, level: int, option: int, value: int) -> bool:
    try:
        sock.setsockopt(level, option, value)
    except OSError:
        return False
    return True


def _configure(sock: socket.socket) -> bool:
    """Options an older kernel lacks are best effort; returns whether dumps are strict."""
    _option(sock, SOL_NETLINK, NETLINK_EXT_ACK, 1)
    _option(sock, SOL_NETLINK, NETLINK_CAP_ACK, 1)
    strict = _option(sock, SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
    # The forced sizes need CAP_NET_ADMIN; without it, what rmem_max and wmem_max allow.
    if not _option(sock, socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF_WANTED):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF_WANTED)
    if not _option(sock, socket.SOL_SOCKET, SO_SNDBUFFORCE, SNDBUF_WANTED):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SNDBUF_WANTED)
    sock.bind((0, 0))
    sock.settimeout(TIMEOUT)
    return strict


class KernelNetlink:
    """Implements ``nethook.model.ports.Netlink``; also a context manager that closes it."""

    def __init__(self, sock: socket.socket, strict: bool) -> None:
        self._sock = sock
        self.strict = strict
        rcvbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        self.window = max(1, rcvbuf // ACK_COST)  # requests per batch
        self.datagram = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) - 32
        self._buffer = bytearray(RECV_SIZE)
        self._view = memoryview(self._buffer)
        self._seq = 0

    def __enter__(self) -> KernelNetlink:
        return self

    def __exit__(self, kind: Optional[Type[BaseException]], value: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    # -- reading -------------------------------------------------------------------------

    def observe(self, ifnames: Collection[str], tables: Optional[Collection[int]]) -> Observed:
        with _read_errors():
            return self._observe(set(ifnames), None if tables is None else set(tables))

    def links(self) -> List[decode.Link]:
        """Every link: index, name, and whether it is up. ObserveError if unreadable."""
        with _read_errors():
            return self._dumped(codec.link_dump, _link, "links")

    def _observe(self, ifnames: Set[str], tables: Optional[Set[int]]) -> Observed:
        links = self._links()
        wanted = {index: name for index, name in links.items() if name in ifnames}
        found, gone = self._addresses(wanted)
        for index in gone:  # went away after the link dump: absent, as it is now
            del links[index]
        return Observed(links=frozenset(links.values()),
                        addresses=frozenset(address for address, _permanent in found),
                        routes=frozenset(self._routes(links, tables)),
                        rules=frozenset(self._rules()),
                        dynamic=frozenset(address.key for address, permanent in found
                                          if not permanent))

    def _links(self) -> Dict[int, str]:
        links = self._dumped(codec.link_dump, _link, "links")
        return {link.ifindex: link.name for link in links if link.name is not None}

    def _addresses(self, wanted: Dict[int, str]
                   ) -> Tuple[List[Tuple[Address, bool]], Set[int]]:
        """The addresses of the ``wanted`` interfaces, and those of them gone meanwhile."""
        read = functools.partial(_address, names=wanted)
        if not wanted:
            return [], set()
        if not self.strict or len(wanted) > FILTERED_DUMPS_MAX:
            return self._dumped(codec.address_dump, read, "addresses"), set()
        found: List[Tuple[Address, bool]] = []
        gone: Set[int] = set()
        for index in sorted(wanted):
            code, text, some = self._dump(functools.partial(codec.address_dump, index=index),
                                          read)
            if code == errno.ENODEV:
                gone.add(index)
                continue
            _check(code, text, f"the addresses of {wanted[index]}")
            found.extend(some)
        return found, gone

    def _routes(self, links: Mapping[int, str], tables: Optional[Set[int]]) -> List[Route]:
        read = functools.partial(_route, names=links, tables=tables)
        if tables is not None and not tables:
            return []
        if tables is None or not self.strict or len(tables) > FILTERED_DUMPS_MAX:
            return self._dumped(codec.route_dump, read, "routes")
        routes: List[Route] = []
        for table in sorted(tables):
            build = functools.partial(codec.route_dump, table=table)
            routes.extend(self._dumped(build, read, f"the routes of table {table}"))
        return routes

    def _rules(self) -> List[Rule]:
        return self._dumped(codec.rule_dump, _rule, "rules")

    def _dumped(self, build: Callable[[int], bytes], read: Decoder[T], what: str) -> List[T]:
        code, text, found = self._dump(build, read)
        _check(code, text, what)
        return found

    def _dump(self, build: Callable[[int], bytes], read: Decoder[T]
              ) -> Tuple[int, str, List[T]]:
        """(errno, the kernel's message, what ``read`` made of each message) of one dump;
        asked again while the kernel says the state changed under it."""
        for _attempt in range(DUMP_ATTEMPTS):
            seq = self._next_seq()
            self._sock.send(build(seq))
            code, text, found, interrupted = self._replies(seq, read)
            if code or not interrupted:
                return code, text, found
        raise ObserveError("the kernel's state kept changing while it was being read")

    def _replies(self, seq: int, read: Decoder[T]) -> Tuple[int, str, List[T], bool]:
        found: List[T] = []
        interrupted = False
        while True:
            data = self._recv()
            for frame in codec.frames(data):
                if frame.seq != seq:
                    continue
                interrupted = interrupted or bool(frame.flags & codec.NLM_F_DUMP_INTR)
                if frame.kind in (codec.NLMSG_DONE, codec.NLMSG_ERROR):
                    code, text = codec.error_of(data, frame)
                    return code, text, found, interrupted
                item = read(data, frame)
                if item is not None:
                    found.append(item)

    def _recv(self) -> bytes:
        size = self._sock.recv_into(self._buffer, 0, socket.MSG_TRUNC)
        if size > len(self._buffer):
            raise ValueError(f"a reply of {size} bytes was cut to {len(self._buffer)}")
        return self._view[:size].tobytes()

    # -- writing -------------------------------------------------------------------------

    def execute(self, ops: Sequence[Op]) -> List[Outcome]:
        """Raises ValueError, before sending anything, for an op that cannot be encoded."""
        if not ops:
            return []
        try:
            indexes = {name: index for index, name in self._links().items()}
        except (OSError, ValueError, ObserveError) as exc:
            raise NethookError(f"cannot list the interfaces: {exc}") from exc
        outcomes, pending = self._encode(ops, indexes)
        try:
            for batch in self._batches(pending):
                self._run_batch(batch, outcomes)
        except (OSError, ValueError) as exc:  # ValueError: an ack cut short
            raise NethookError(f"the rtnetlink socket failed: {exc}") from exc
        return outcomes

    def _encode(self, ops: Sequence[Op], indexes: Dict[str, int]
                ) -> Tuple[List[Outcome], List[Pending]]:
        """Every request, unacknowledged, encoded before any is sent; ENODEV for those
        whose link is gone."""
        outcomes: List[Outcome] = [(0, "")] * len(ops)
        pending: List[Pending] = []
        for position, op in enumerate(ops):
            ifname = codec.link_of(op)
            if ifname is not None and ifname not in indexes:
                outcomes[position] = (errno.ENODEV, f"interface {ifname} does not exist")
                continue
            seq = self._next_seq()
            index = indexes[ifname] if ifname is not None else None
            pending.append((position, seq, codec.request(op, seq, index, ack=False)))
        return outcomes, pending

    def _batches(self, pending: List[Pending]) -> List[List[Pending]]:
        """``pending`` cut where a batch would exceed the window or one datagram."""
        batches: List[List[Pending]] = []
        batch: List[Pending] = []
        size = 0
        for item in pending:
            if batch and (len(batch) == self.window or size + len(item[2]) > self.datagram):
                batches.append(batch)
                batch, size = [], 0
            batch.append(item)
            size += len(item[2])
        if batch:
            batches.append(batch)
        return batches

    def _run_batch(self, batch: List[Pending], outcomes: List[Outcome]) -> None:
        """One datagram; the last request asks for the ack that closes the batch."""
        *first, (last_position, last_seq, last) = batch
        self._sock.send(b"".join([request for _p, _s, request in first]) + codec.acked(last))
        waiting = {seq: position for position, seq, _request in first}
        while True:
            data = self._recv()
            for frame in codec.frames(data):
                if frame.kind != codec.NLMSG_ERROR:
                    continue
                if frame.seq == last_seq:
                    outcomes[last_position] = codec.error_of(data, frame)
                    return
                if frame.seq in waiting:
                    outcomes[waiting.pop(frame.seq)] = codec.error_of(data, frame)

    def _next_seq(self) -> int:
        self._seq = self._seq % 0x7FFFFFFF + 1
        return self._seq


# -- what each dump is read for ----------------------------------------------------------


@contextlib.contextmanager
def _read_errors() -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise ObserveError(f"cannot read the kernel's network state: {exc}") from exc
    except ValueError as exc:
        raise ObserveError(f"unreadable reply from the kernel: {exc}") from exc


def _check(code: int, text: str, what: str) -> None:
    if code:
        name = errno.errorcode.get(code, str(code))
        raise ObserveError(f"the kernel refused to list {what}: {text or name}")


def _link(data: bytes, frame: Frame) -> Optional[decode.Link]:
    return decode.link(data, frame) if frame.kind == codec.RTM_NEWLINK else None


def _address(data: bytes, frame: Frame, names: Mapping[int, str]
             ) -> Optional[Tuple[Address, bool]]:
    return decode.address(data, frame, names) if frame.kind == codec.RTM_NEWADDR else None


def _route(data: bytes, frame: Frame, names: Mapping[int, str],
           tables: Optional[Set[int]]) -> Optional[Route]:
    if frame.kind != codec.RTM_NEWROUTE:
        return None
    return decode.route(data, frame, names, tables, known_links=True)


def _rule(data: bytes, frame: Frame) -> Optional[Rule]:
    return decode.rule(data, frame) if frame.kind == codec.RTM_NEWRULE else None

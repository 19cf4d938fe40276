"""The kernel's rtnetlink notifications, read from a raw socket with nethook's own decoder.

The watcher decodes every notification the kernel multicasts (a flush of 1000 aliases
is 1000 messages) with ``rtnl_decode``, the decoder that reads the restore's dumps: a
``struct`` unpack of the header, and the attributes only of what it acts on. A raw
socket also gives the watcher what it needs to be correct: a large receive buffer
(SO_RCVBUFFORCE) and ENOBUFS, the kernel's word that notifications were dropped, upon
which the watcher re-checks every interface it keeps. ``read`` drains the socket until
it has nothing pending (EAGAIN): the watcher restores right after, with everything the
kernel had said by then. The restore itself goes through the shared adapter, exactly as
a hook's.
"""

from __future__ import annotations

import errno
import socket
from typing import Callable, Dict, List, NamedTuple, Optional, Set, Tuple, Union

from nethook.adapters import rtnl_codec as codec
from nethook.adapters import rtnl_decode as decode
from nethook.adapters.netlink import open_netlink
from nethook.base.errors import NethookError
from nethook.model.objects import Address, Route, Rule

SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
RCVBUF = 16 << 20  # the notices of a restore or a flush of thousands of objects fit
RECV_SIZE = 1 << 16
# linux/rtnetlink.h: RTNLGRP_LINK, IPV4_IFADDR, IPV4_ROUTE, IPV4_RULE, IPV6_IFADDR,
# IPV6_ROUTE, IPV6_RULE
GROUPS = (1, 5, 7, 8, 9, 11, 19)


class LinkChange(NamedTuple):
    ifindex: int
    name: str
    up: bool
    deleted: bool


class AddressChange(NamedTuple):
    address: Address
    permanent: bool
    deleted: bool


class RouteChange(NamedTuple):
    route: Route
    deleted: bool


class RuleChange(NamedTuple):
    rule: Rule
    deleted: bool


Change = Union[LinkChange, AddressChange, RouteChange, RuleChange]


class Overrun(NethookError):
    """The kernel dropped notifications (ENOBUFS): what changed meanwhile is unknown."""


def _everything(ifname: str) -> bool:
    return True


class Subscription:
    """A non-blocking socket on the rtnetlink multicast groups, and the link names.

    Only what the watcher acts on is decoded: every link message, every address, and
    route and rule deletions. A new permanent address is decoded only if
    ``permanent_wanted(ifname)``: a restore of 1000 aliases is 1000 such notifications,
    the watcher's own. Additions of a kind are decoded too when a deletion of that kind
    came in the same read, for ``read`` to net them out.
    """

    def __init__(self, permanent_wanted: Callable[[str], bool] = _everything) -> None:
        self.permanent_wanted = permanent_wanted
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK
                                  | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)
        try:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
            except OSError:  # without CAP_NET_ADMIN: what rmem_max allows
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            self.sock.bind((0, 0))
            for group in GROUPS:
                self.sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group)
            self.names: Dict[int, str] = {}
            self.up: Dict[str, bool] = {}
            self.resync()
        except (OSError, NethookError):
            self.sock.close()
            raise

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def resync(self) -> None:
        """The links as they are now (at the start, and after an overrun). The groups are
        joined first, so a link that appears meanwhile is seen in either or both."""
        with open_netlink() as netlink:
            links = [link for link in netlink.links() if link.name is not None]
        self.names = {link.ifindex: str(link.name) for link in links}
        self.up = {str(link.name): link.up for link in links}

    def read(self) -> List[Change]:
        """Every notification queued now (read until EAGAIN), decoded and netted out;
        Overrun if some were dropped."""
        changes: List[Change] = []
        deleted: Set[int] = set()  # the kinds of deletion read so far
        while True:
            try:
                data = self.sock.recv(RECV_SIZE)
            except BlockingIOError:
                return net_changes(changes)
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    raise Overrun("the kernel dropped rtnetlink notifications") from exc
                raise
            for frame in codec.frames(data):
                change = self._decode(data, frame, deleted)
                if change is not None:
                    changes.append(change)
                    if frame.kind in _ADDITIONS.values():
                        deleted.add(frame.kind)

    def _decode(self, data: bytes, frame: codec.Frame, deleted: Set[int]) -> Optional[Change]:
        kind = frame.kind
        if kind in (codec.RTM_NEWLINK, codec.RTM_DELLINK):
            return self._link(decode.link(data, frame), kind == codec.RTM_DELLINK)
        if kind in _ADDITIONS and _ADDITIONS[kind] not in deleted:
            if kind != codec.RTM_NEWADDR:
                return None  # new routes and rules: nothing the watcher acts on
            index, permanent = decode.address_index(data, frame)
            ifname = self.names.get(index)
            if ifname is None or (permanent and not self.permanent_wanted(ifname)):
                return None
        if kind in (codec.RTM_NEWADDR, codec.RTM_DELADDR):
            found = decode.address(data, frame, self.names)
            return None if found is None else AddressChange(
                found[0], found[1], kind == codec.RTM_DELADDR)
        if kind in (codec.RTM_NEWROUTE, codec.RTM_DELROUTE):
            route = decode.route(data, frame, self.names)
            return None if route is None else RouteChange(route, kind == codec.RTM_DELROUTE)
        if kind in (codec.RTM_NEWRULE, codec.RTM_DELRULE):
            rule = decode.rule(data, frame)
            return None if rule is None else RuleChange(rule, kind == codec.RTM_DELRULE)
        return None

    def _link(self, link: decode.Link, deleted: bool) -> Optional[LinkChange]:
        name = link.name or self.names.get(link.ifindex)
        if name is None:
            return None
        if deleted:
            self.names.pop(link.ifindex, None)
            self.up.pop(name, None)
        else:
            self.names[link.ifindex] = name  # also a rename
            self.up[name] = link.up
        return LinkChange(link.ifindex, name, link.up and not deleted, deleted)


# Each addition, and the deletion that makes it worth decoding within one read.
_ADDITIONS = {codec.RTM_NEWADDR: codec.RTM_DELADDR, codec.RTM_NEWROUTE: codec.RTM_DELROUTE,
              codec.RTM_NEWRULE: codec.RTM_DELRULE}


def _identity(change: Change) -> Optional[Tuple[object, ...]]:
    """The object itself, every attribute included: a route back with another gateway
    is no return of the one that went."""
    if isinstance(change, AddressChange):
        return ("address", change.address)
    if isinstance(change, RouteChange):
        return ("route", change.route)
    if isinstance(change, RuleChange):
        return ("rule", change.rule)
    return None  # links: every change counts, in order


def net_changes(changes: List[Change]) -> List[Change]:
    """Each object's last word only, in the order read. A deletion followed by the
    object's return is no loss: the kernel had said both by the time the watcher looks
    (after a run, the run's own additions come after deletions it has already seen)."""
    last = {key: position for position, change in enumerate(changes)
            if (key := _identity(change)) is not None}
    return [change for position, change in enumerate(changes)
            if (key := _identity(change)) is None or last[key] == position]

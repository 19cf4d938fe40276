"""The system bus, through dbus-next (imported only by the watcher, never by a hook).

``DBUS_SYSTEM_BUS_ADDRESS`` is honoured (dbus-next reads it). The watcher follows
NetworkManager and systemd-networkd only while their names have an owner, and picks
them up again when they (re)appear; when the bus itself goes away, it reconnects.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Protocol, Sequence

from dbus_next.aio.message_bus import MessageBus
from dbus_next.constants import BusType, MessageType
from dbus_next.message import Message
from dbus_next.signature import Variant

from nethook.events import Event

log = logging.getLogger(__name__)

DBUS = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"
PROPERTIES = "org.freedesktop.DBus.Properties"
RECONNECT = (2.0, 60.0)  # first and longest wait before connecting again


class DBusFailure(Exception):
    """A D-Bus call returned an error."""


class Sink(Protocol):
    """What the D-Bus followers tell the watcher."""

    def stack_event(self, event: Event) -> None: ...

    def stack_hold(self, ifname: str, why: str, on: bool) -> None: ...

    def ifname_of(self, index: int) -> Optional[str]: ...


def unwrap(value: Any) -> Any:
    """Variants (nested in lists and dicts too) to plain values."""
    if isinstance(value, Variant):
        return unwrap(value.value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


class Bus:
    def __init__(self, bus: MessageBus) -> None:
        self.raw = bus

    async def call(self, destination: str, path: str, interface: str, member: str,
                   signature: str = "", body: Sequence[Any] = ()) -> List[Any]:
        reply = await self.raw.call(Message(destination=destination, path=path,
                                            interface=interface, member=member,
                                            signature=signature, body=list(body)))
        if reply is None:
            return []
        if reply.message_type == MessageType.ERROR:
            raise DBusFailure(f"{destination} {member}: {reply.error_name}: {reply.body}")
        return list(reply.body)

    async def add_match(self, rule: str) -> None:
        await self.call(DBUS, DBUS_PATH, DBUS, "AddMatch", "s", [rule])

    async def has_owner(self, name: str) -> bool:
        return bool((await self.call(DBUS, DBUS_PATH, DBUS, "NameHasOwner", "s", [name]))[0])

    async def get_all(self, destination: str, path: str, interface: str) -> Dict[str, Any]:
        body = await self.call(destination, path, PROPERTIES, "GetAll", "s", [interface])
        return {str(k): unwrap(v) for k, v in body[0].items()} if body else {}

    async def get(self, destination: str, path: str, interface: str, name: str) -> Any:
        body = await self.call(destination, path, PROPERTIES, "Get", "ss", [interface, name])
        return unwrap(body[0]) if body else None


class Follower(Protocol):
    """One service followed on the bus (NetworkManager, networkd)."""

    name: str

    async def start(self) -> None: ...

    def stop(self) -> None: ...

    def on_message(self, message: Message) -> None: ...


FollowerFactory = Callable[[Bus, Sink], Follower]


class DBusWatch:
    """Connects, follows each service while it is on the bus, reconnects when it drops."""

    def __init__(self, sink: Sink, factories: Mapping[str, FollowerFactory]) -> None:
        self.sink = sink
        self.factories = dict(factories)  # bus name -> follower of that service
        self.followers: Dict[str, Follower] = {}
        self.bus: Optional[Bus] = None
        self.connected = asyncio.Event()
        self._tasks: List[asyncio.Task[None]] = []

    def watching(self) -> List[str]:
        return sorted(self.followers)

    async def run(self) -> None:
        """Forever: connect, follow, wait for the bus to go, wait, connect again."""
        attempt = 0
        while True:
            try:
                await self._session()
                attempt = 0
            except (OSError, EOFError, DBusFailure, ValueError) as exc:
                if attempt == 0:
                    log.info("D-Bus system bus not available (%s); watching netlink only "
                             "until it is", exc)
            self._drop_followers()
            self.connected.set()  # a first attempt, good or bad, is over
            attempt += 1
            await asyncio.sleep(min(RECONNECT[0] * (1 << (attempt - 1)), RECONNECT[1]))

    async def _session(self) -> None:
        raw = await MessageBus(bus_type=BusType.SYSTEM).connect()
        self.bus = bus = Bus(raw)
        try:
            raw.add_message_handler(self._dispatch)
            await bus.add_match(f"type='signal',sender='{DBUS}',interface='{DBUS}',"
                                "member='NameOwnerChanged'")
            for name, factory in self.factories.items():
                if await bus.has_owner(name):
                    await self._follow(factory(bus, self.sink))
            self.connected.set()
            await raw.wait_for_disconnect()  # type: ignore[no-untyped-call]
            log.warning("lost the D-Bus system bus; reconnecting")
        finally:
            self.bus = None
            raw.disconnect()  # type: ignore[no-untyped-call]

    async def _follow(self, follower: Follower) -> None:
        try:
            await follower.start()
        except (DBusFailure, KeyError, IndexError, TypeError, ValueError) as exc:
            log.warning("cannot follow %s on D-Bus: %s", follower.name, exc)
            return
        self.followers[follower.name] = follower
        log.info("following %s on D-Bus", follower.name)

    def _drop_followers(self) -> None:
        for follower in self.followers.values():
            follower.stop()
        self.followers.clear()

    def _dispatch(self, message: Message) -> None:
        if message.message_type != MessageType.SIGNAL:
            return
        if message.member == "NameOwnerChanged" and message.interface == DBUS:
            self._owner_changed(message.body)
            return
        for follower in list(self.followers.values()):
            try:
                follower.on_message(message)
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                log.warning("%s: unexpected D-Bus signal %s %s: %s", follower.name,
                            message.path, message.member, exc)

    def _owner_changed(self, body: List[Any]) -> None:
        name, _old, new = (str(part) for part in body[:3])
        factory = self.factories.get(name)
        if factory is None or self.bus is None:
            return
        current = self.followers.pop(name, None)
        if current is not None:
            current.stop()
            log.info("%s left the bus", name)
        if new:
            self._spawn(self._follow(factory(self.bus, self.sink)))

    def _spawn(self, work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.append(task)
        task.add_done_callback(self._tasks.remove)

"""The systemd adapter: ``org.freedesktop.systemd1.Manager`` on the system bus, via dbus-next.

The only module that imports dbus-next (and with it asyncio), inside its methods: it is
loaded only when a service must be restarted or reloaded. dbus-next is optional: without
it, making a :class:`SystemdUnits` raises ``UnitLibraryMissing``. Each request connects to the
system bus (``DBUS_SYSTEM_BUS_ADDRESS`` when set, else systemd's socket), does its work and
disconnects, all within a timeout.

* ``find``: ``GetUnitByPID`` names the unit a daemon runs in (when it is a service), else
  ``LoadUnit`` on each candidate until one has ``LoadState`` ``loaded`` (``GetUnit`` fails
  for a unit that is not loaded yet). ``Id`` is the unit's own name, aliases resolved.
* ``try_restart``/``reload_or_try_restart``: ``Subscribe``, then ``TryRestartUnit`` or
  ``ReloadOrTryRestartUnit`` with mode ``replace``, then the ``JobRemoved`` signal of the
  returned job gives the result (``done``, ``failed``, ``timeout``, ...). Both leave a
  stopped unit stopped.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Awaitable, Dict, List, Optional, Sequence, TypeVar

from nethook.base.optional import DBUS_NEXT, DBUS_NEXT_PACKAGE, is_missing
from nethook.model.ports import JobResult, UnitError, UnitLibraryMissing, UnitState

if TYPE_CHECKING:
    from dbus_next.aio.message_bus import MessageBus
    from dbus_next.message import Message

T = TypeVar("T")
SYSTEMD = "org.freedesktop.systemd1"
MANAGER_PATH = "/org/freedesktop/systemd1"
MANAGER = "org.freedesktop.systemd1.Manager"
UNIT = "org.freedesktop.systemd1.Unit"
PROPERTIES = "org.freedesktop.DBus.Properties"
JOB_REMOVED = (f"type='signal',sender='{SYSTEMD}',interface='{MANAGER}',"
               f"member='JobRemoved',path='{MANAGER_PATH}'")
TIMEOUT = 30.0


class SystemdUnits:
    """Implements ``nethook.model.ports.UnitManager`` over D-Bus."""

    kind = "systemd"

    def __init__(self, timeout: float = TIMEOUT) -> None:
        try:
            import dbus_next  # noqa: F401  (every request needs it: say so before the first)
        except ImportError as exc:
            if not is_missing(exc, DBUS_NEXT):
                raise
            raise UnitLibraryMissing(DBUS_NEXT_PACKAGE) from None
        self.timeout = timeout

    def _run(self, work: Awaitable[T]) -> T:
        async def bounded() -> T:
            return await asyncio.wait_for(work, self.timeout)

        from dbus_next.errors import AuthError, DBusError

        try:
            return asyncio.run(bounded())
        except asyncio.TimeoutError:
            raise UnitError(f"systemd did not answer within {self.timeout:g} s") from None
        except (OSError, EOFError, ValueError, AuthError, DBusError) as exc:
            raise UnitError(f"cannot talk to systemd on the system bus: {exc}") from None

    def find(self, candidates: Sequence[str], pid: Optional[int]) -> Optional[UnitState]:
        return self._run(self._find(candidates, pid))

    def try_restart(self, unit: str) -> JobResult:
        return self._run(self._job("TryRestartUnit", unit))

    def reload_or_try_restart(self, unit: str) -> JobResult:
        return self._run(self._job("ReloadOrTryRestartUnit", unit))

    async def _find(self, candidates: Sequence[str], pid: Optional[int]) -> Optional[UnitState]:
        bus = await _connect()
        try:
            if pid is not None:
                reply = await _call(bus, MANAGER_PATH, MANAGER, "GetUnitByPID", "u", [pid],
                                    missing_ok=True)
                if reply is not None:
                    state = await _state(bus, reply[0])
                    if state.name.endswith(".service"):
                        return state
            for name in candidates:
                path = (await _call(bus, MANAGER_PATH, MANAGER, "LoadUnit", "s", [name]))[0]
                if await _property(bus, path, "LoadState") == "loaded":
                    return await _state(bus, path)
            return None
        finally:
            _disconnect(bus)

    async def _job(self, method: str, unit: str) -> JobResult:
        from dbus_next.constants import MessageType

        bus = await _connect()
        removed: Dict[str, str] = {}
        done = asyncio.Event()

        def on_message(message: Message) -> None:
            if (message.message_type is MessageType.SIGNAL and message.member == "JobRemoved"
                    and message.interface == MANAGER):
                _job_id, job, _unit, result = message.body
                removed[job] = result
                done.set()

        try:
            bus.add_message_handler(on_message)
            await _call(bus, "/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch", "s",
                        [JOB_REMOVED], destination="org.freedesktop.DBus")
            await _call(bus, MANAGER_PATH, MANAGER, "Subscribe")
            job = (await _call(bus, MANAGER_PATH, MANAGER, method, "ss", [unit, "replace"]))[0]
            while job not in removed:
                done.clear()
                await done.wait()
            return JobResult(removed[job] == "done", f"{method} {unit}: job {removed[job]}")
        finally:
            _disconnect(bus)


async def _connect() -> MessageBus:
    from dbus_next.aio.message_bus import MessageBus
    from dbus_next.constants import BusType

    bus: MessageBus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    return bus


def _disconnect(bus: Any) -> None:
    bus.disconnect()  # (dbus-next leaves it unannotated)


async def _call(bus: MessageBus, path: str, interface: str, member: str, signature: str = "",
                body: Optional[List[Any]] = None, *, destination: str = SYSTEMD,
                missing_ok: bool = False) -> Any:
    """One method call; its reply's body. An error reply raises UnitError (or, with
    ``missing_ok``, returns None)."""
    from dbus_next.constants import MessageType
    from dbus_next.message import Message

    reply = await bus.call(Message(destination=destination, path=path, interface=interface,
                                   member=member, signature=signature, body=body or []))
    if reply is None:
        raise UnitError(f"{member}: no reply")
    if reply.message_type is MessageType.ERROR:
        if missing_ok:
            return None
        text = reply.body[0] if reply.body else ""
        raise UnitError(f"{member}: {reply.error_name}: {text}")
    return reply.body


async def _property(bus: MessageBus, path: str, name: str) -> Any:
    body = await _call(bus, path, PROPERTIES, "Get", "ss", [UNIT, name])
    return body[0].value


async def _state(bus: MessageBus, path: str) -> UnitState:
    return UnitState(str(await _property(bus, path, "Id")),
                     str(await _property(bus, path, "ActiveState")))

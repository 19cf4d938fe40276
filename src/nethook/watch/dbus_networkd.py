"""systemd-networkd on D-Bus: each link's AdministrativeState.

networkd-dispatcher reports operational states only (``routable``), and nothing on a
DHCP renewal. networkd's own ``org.freedesktop.network1.Link`` objects signal their
``AdministrativeState``: while a link is ``configuring`` (``networkctl reconfigure``, a
new lease) netlink-triggered restores on it wait, and ``configured`` is a stack event.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional

from dbus_next.message import Message

from nethook.events import Event, Kind
from nethook.watch.dbus_bus import PROPERTIES, Bus, Sink, unwrap

log = logging.getLogger(__name__)

NETWORK1 = "org.freedesktop.network1"
NETWORK1_PATH = "/org/freedesktop/network1"
LINK_PATH = NETWORK1_PATH + "/link/"
LINK = NETWORK1 + ".Link"
MANAGER = NETWORK1 + ".Manager"
BUSY = frozenset({"pending", "initialized", "configuring", "failed"})
CONFIGURED = "configured"
SOURCE = "networkd-dbus"
HOLD = "networkd"


def link_index(path: str) -> Optional[int]:
    """``/org/freedesktop/network1/link/_32`` -> 2 (sd-bus escapes each byte as _XX)."""
    if not path.startswith(LINK_PATH):
        return None
    label, text, i = path[len(LINK_PATH):], "", 0
    while i < len(label):
        if label[i] == "_" and i + 2 < len(label):
            text += chr(int(label[i + 1:i + 3], 16))
            i += 3
        else:
            text += label[i]
            i += 1
    return int(text) if text.isdigit() else None


class NetworkdFollower:
    name = NETWORK1

    def __init__(self, bus: Bus, sink: Sink) -> None:
        self.bus = bus
        self.sink = sink
        self.states: Dict[str, str] = {}  # ifname -> AdministrativeState

    async def start(self) -> None:
        await self.bus.add_match(f"type='signal',sender='{NETWORK1}',interface='{PROPERTIES}',"
                                 f"member='PropertiesChanged',path_namespace='{NETWORK1_PATH}'")
        links = (await self.bus.call(NETWORK1, NETWORK1_PATH, MANAGER, "ListLinks"))[0]
        for _index, ifname, path in links:
            state = await self.bus.get(NETWORK1, str(path), LINK, "AdministrativeState")
            self._admin_state(str(ifname), str(state), initial=True)

    def stop(self) -> None:
        for ifname in self.states:
            self.sink.stack_hold(ifname, HOLD, False)
        self.states = {}

    def on_message(self, message: Message) -> None:
        if message.member != "PropertiesChanged" or message.interface != PROPERTIES:
            return
        index = link_index(message.path or "")
        if index is None or str(message.body[0]) != LINK:
            return
        changed: Dict[str, Any] = unwrap(message.body[1])
        ifname = self.sink.ifname_of(index)
        if ifname is not None and "AdministrativeState" in changed:
            self._admin_state(ifname, str(changed["AdministrativeState"]))

    def _admin_state(self, ifname: str, state: str, initial: bool = False) -> None:
        before = self.states.get(ifname)
        self.states[ifname] = state
        log.debug("%s: networkd says %s", ifname, state)
        self.sink.stack_hold(ifname, HOLD, state in BUSY)
        if state == CONFIGURED and before != CONFIGURED and not initial:
            self.sink.stack_event(Event(source=SOURCE, kind=Kind.CONFIGURE, reason=CONFIGURED,
                                        ifname=ifname))

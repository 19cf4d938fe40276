"""NetworkManager on D-Bus: lease changes the dispatcher never reports, and device states.

NetworkManager 1.42.4 (Debian 12) runs no dispatcher script on a DHCP renewal, not even
one that ends with a new address; its ``DHCP4Config`` object's ``Options`` property
changes on every renewal all the same (signalled with PropertiesChanged). The follower
subscribes with ``path_namespace`` (a proxy object only covers its own path, and NM
replaces the DHCP4Config object on every activation), keeps each device's current lease,
and reports a changed address as a stack event with the old and new lease. A device
that is not activated holds netlink-triggered restores (NetworkManager is busy with it,
or was told to leave it down); its activation is a stack event of its own.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

from dbus_next.message import Message

from nethook.events import Event, Kind, addresses, interface_or_none
from nethook.model.objects import IPInterface
from nethook.watch.dbus_bus import PROPERTIES, Bus, Sink, unwrap

log = logging.getLogger(__name__)

NM = "org.freedesktop.NetworkManager"
NM_PATH = "/org/freedesktop/NetworkManager"
DEVICE = NM + ".Device"
DHCP4 = NM + ".DHCP4Config"
DHCP6 = NM + ".DHCP6Config"
ACTIVATED = 100
UNMANAGED = frozenset({0, 10})  # unknown, unmanaged: NetworkManager leaves it alone
SOURCE = "nm-dbus"
HOLD = "networkmanager"


@dataclass
class Device:
    ifname: str
    state: int
    dhcp4: str  # object path, "/" when none
    dhcp6: str
    lease: Optional[IPInterface] = None
    lease6: Optional[str] = None  # DHCPv6's ip6_address, as NetworkManager spells it


def lease_of(options: Mapping[str, Any]) -> Optional[IPInterface]:
    address = options.get("ip_address")
    return interface_or_none(str(address), options.get("subnet_mask")) if address else None


class NMFollower:
    name = NM

    def __init__(self, bus: Bus, sink: Sink) -> None:
        self.bus = bus
        self.sink = sink
        self.devices: Dict[str, Device] = {}  # by object path
        self._refresh: Optional[asyncio.Task[None]] = None
        self._stale = False

    async def start(self) -> None:
        for interface, member in ((PROPERTIES, "PropertiesChanged"), (DEVICE, "StateChanged")):
            await self.bus.add_match(f"type='signal',sender='{NM}',interface='{interface}',"
                                     f"member='{member}',path_namespace='{NM_PATH}'")
        for member in ("DeviceAdded", "DeviceRemoved"):
            await self.bus.add_match(f"type='signal',sender='{NM}',interface='{NM}',"
                                     f"member='{member}',path='{NM_PATH}'")
        await self._enumerate()

    def stop(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
        for device in self.devices.values():
            self.sink.stack_hold(device.ifname, HOLD, False)
        self.devices = {}

    async def _enumerate(self) -> None:
        before = {d.ifname: d for d in self.devices.values()}
        paths = (await self.bus.call(NM, NM_PATH, NM, "GetDevices"))[0]
        found: Dict[str, Device] = {}
        for path in paths:
            props = await self.bus.get_all(NM, path, DEVICE)
            ifname = props.get("IpInterface") or props.get("Interface")
            if not ifname:
                continue
            device = Device(str(ifname), int(props.get("State", 0)),
                            str(props.get("Dhcp4Config", "/")), str(props.get("Dhcp6Config", "/")))
            if device.dhcp4 != "/":
                device.lease = lease_of(await self.bus.get(NM, device.dhcp4, DHCP4, "Options"))
            if device.dhcp6 != "/":
                options = await self.bus.get(NM, device.dhcp6, DHCP6, "Options")
                device.lease6 = str(options.get("ip6_address") or "") or None
            found[str(path)] = device
        self.devices = found
        for device in found.values():
            self._apply_state(device, before.get(device.ifname))

    def _apply_state(self, device: Device, before: Optional[Device]) -> None:
        self.sink.stack_hold(device.ifname, HOLD, device.state not in UNMANAGED | {ACTIVATED})
        if before is not None and device.state == ACTIVATED:
            if before.state != ACTIVATED:
                self._report(device, "activated", None)
            elif before.lease != device.lease and device.lease is not None:
                self._report(device, "dhcp4-lease", before.lease)

    def _report(self, device: Device, reason: str, old: Optional[IPInterface],
                options: Optional[Mapping[str, Any]] = None) -> None:
        routers = addresses(str(options.get("routers", ""))) if options else ()
        self.sink.stack_event(Event(source=SOURCE, kind=Kind.CONFIGURE, reason=reason,
                                    ifname=device.ifname, new_address=device.lease,
                                    old_address=old, routers=routers))

    def refresh(self) -> None:
        """Enumerate the devices again, in the background (one enumeration at a time)."""
        if self._refresh is not None and not self._refresh.done():
            self._stale = True
            return
        self._refresh = asyncio.ensure_future(self._refresh_loop())

    async def _refresh_loop(self) -> None:
        self._stale = True
        while self._stale:
            self._stale = False
            try:
                await self._enumerate()
            except Exception as exc:  # a D-Bus error or a vanished object: say so, go on
                log.warning("cannot list NetworkManager's devices: %s", exc)

    # -- signals -------------------------------------------------------------------------

    def on_message(self, message: Message) -> None:
        path = message.path or ""
        if not path.startswith(NM_PATH):
            return
        if message.member in ("DeviceAdded", "DeviceRemoved"):
            self.refresh()
        elif message.member == "StateChanged" and message.interface == DEVICE:
            self._state_changed(path, int(message.body[0]))
        elif message.member == "PropertiesChanged" and message.interface == PROPERTIES:
            interface, changed = str(message.body[0]), unwrap(message.body[1])
            self._properties(path, interface, changed)

    def _state_changed(self, path: str, state: int) -> None:
        device = self.devices.get(path)
        if device is None:
            self.refresh()
            return
        before = Device(device.ifname, device.state, device.dhcp4, device.dhcp6, device.lease)
        device.state = state
        self._apply_state(device, before)

    def _properties(self, path: str, interface: str, changed: Dict[str, Any]) -> None:
        if interface == DHCP4 and "Options" in changed:
            self._options(path, changed["Options"])
        elif interface == DHCP6 and "Options" in changed:
            self._options6(path, changed["Options"])
        elif interface == DEVICE and {"Dhcp4Config", "Dhcp6Config", "IpInterface"} & set(changed):
            device = self.devices.get(path)
            if device is None:
                self.refresh()
                return
            device.dhcp4 = str(changed.get("Dhcp4Config", device.dhcp4))
            device.dhcp6 = str(changed.get("Dhcp6Config", device.dhcp6))

    def _options(self, config_path: str, options: Mapping[str, Any]) -> None:
        device = next((d for d in self.devices.values() if d.dhcp4 == config_path), None)
        if device is None:  # a new DHCP4Config object we have not seen announced
            self.refresh()
            return
        lease = lease_of(options)
        if lease is None or lease == device.lease:
            log.debug("%s: DHCPv4 renewal, lease %s unchanged", device.ifname, lease)
            return
        old, device.lease = device.lease, lease
        log.info("%s: NetworkManager's DHCPv4 lease changed: %s -> %s", device.ifname,
                 old, lease)
        if device.state == ACTIVATED:
            self._report(device, "dhcp4-lease", old, options)

    def _options6(self, config_path: str, options: Mapping[str, Any]) -> None:
        """A DHCPv6 renewal: only a changed address is news (no lease facts: IPv6
        aliases do not depend on the lease's address the way IPv4 secondaries do)."""
        device = next((d for d in self.devices.values() if d.dhcp6 == config_path), None)
        if device is None:
            self.refresh()
            return
        lease6 = str(options.get("ip6_address") or "") or None
        if lease6 is None or lease6 == device.lease6:
            return
        old, device.lease6 = device.lease6, lease6
        log.info("%s: NetworkManager's DHCPv6 lease changed: %s -> %s", device.ifname,
                 old, lease6)
        if device.state == ACTIVATED:
            self.sink.stack_event(Event(source=SOURCE, kind=Kind.CONFIGURE,
                                        reason="dhcp6-lease", ifname=device.ifname))

"""The D-Bus followers' decisions, on recorded signal contents and a fake sink.

The real NetworkManager and networkd, on a real bus, are in tests/e2e.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Dict, List, Optional, Tuple

from dbus_next.signature import Variant

from nethook.events import Event
from nethook.watch.dbus_bus import unwrap
from nethook.watch.dbus_networkd import NetworkdFollower, link_index
from nethook.watch.dbus_nm import ACTIVATED, Device, NMFollower

# NetworkManager 1.42.4's DHCP4Config Options on a renewal, as captured from it.
OPTIONS = {"ip_address": "10.78.0.205", "subnet_mask": "255.255.255.0",
           "routers": "10.78.0.1", "expiry": "1795249011"}


class Sink:
    def __init__(self) -> None:
        self.events: List[Event] = []
        self.holds: Dict[Tuple[str, str], bool] = {}

    def stack_event(self, event: Event) -> None:
        self.events.append(event)

    def stack_hold(self, ifname: str, why: str, on: bool) -> None:
        self.holds[(ifname, why)] = on

    def ifname_of(self, index: int) -> Optional[str]:
        return {2: "nml1"}.get(index)


def follower(state: int = ACTIVATED) -> Tuple[NMFollower, Sink]:
    sink = Sink()
    nm = NMFollower(bus=None, sink=sink)  # type: ignore[arg-type]
    nm.devices = {"/org/freedesktop/NetworkManager/Devices/2": Device(
        "nml0", state, "/org/freedesktop/NetworkManager/DHCP4Config/1", "/",
        ipaddress.ip_interface("10.78.0.147/24"))}
    return nm, sink


def test_a_renewal_that_moves_the_lease_is_a_stack_event_with_both_leases() -> None:
    nm, sink = follower()
    nm._options("/org/freedesktop/NetworkManager/DHCP4Config/1", OPTIONS)
    (event,) = sink.events
    assert (event.source, event.reason, event.ifname) == ("nm-dbus", "dhcp4-lease", "nml0")
    assert str(event.old_address) == "10.78.0.147/24"
    assert str(event.new_address) == "10.78.0.205/24"
    assert [str(r) for r in event.routers] == ["10.78.0.1"]


def test_a_renewal_of_the_same_address_is_no_event() -> None:
    nm, sink = follower()
    nm._options("/org/freedesktop/NetworkManager/DHCP4Config/1",
                dict(OPTIONS, ip_address="10.78.0.147"))
    assert sink.events == []


def test_a_lease_during_activation_is_recorded_and_activation_reports_it() -> None:
    nm, sink = follower(state=70)  # ip-config
    nm._options("/org/freedesktop/NetworkManager/DHCP4Config/1", OPTIONS)
    assert sink.events == []
    nm._state_changed("/org/freedesktop/NetworkManager/Devices/2", ACTIVATED)
    (event,) = sink.events
    assert event.reason == "activated" and str(event.new_address) == "10.78.0.205/24"
    assert sink.holds[("nml0", "networkmanager")] is False


def test_a_device_that_is_not_activated_holds_netlink_restores() -> None:
    nm, sink = follower()
    nm._state_changed("/org/freedesktop/NetworkManager/Devices/2", 30)  # disconnected
    assert sink.holds[("nml0", "networkmanager")] is True
    nm._state_changed("/org/freedesktop/NetworkManager/Devices/2", 10)  # unmanaged
    assert sink.holds[("nml0", "networkmanager")] is False
    assert sink.events == []


def test_networkd_configuring_holds_and_configured_is_a_stack_event() -> None:
    sink = Sink()
    networkd = NetworkdFollower(bus=None, sink=sink)  # type: ignore[arg-type]
    networkd._admin_state("nml1", "configured", initial=True)
    assert sink.events == []
    for state in ("configuring", "configured"):
        networkd._admin_state("nml1", state)
        assert sink.holds[("nml1", "networkd")] is (state == "configuring")
    (event,) = sink.events
    assert (event.source, event.reason, event.ifname) == ("networkd-dbus", "configured",
                                                          "nml1")


def test_networkd_link_paths() -> None:
    assert link_index("/org/freedesktop/network1/link/_32") == 2
    assert link_index("/org/freedesktop/network1/link/_312") == 12
    assert link_index("/org/freedesktop/network1/network/x") is None


def test_variants_unwrap_all_the_way_down() -> None:
    value: Any = {"Options": Variant("a{sv}", {"ip_address": Variant("s", "10.0.0.5")}),
                  "Addresses": Variant("aau", [[1, 24, 2]])}
    assert unwrap(value) == {"Options": {"ip_address": "10.0.0.5"},
                             "Addresses": [[1, 24, 2]]}

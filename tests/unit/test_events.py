"""Each entry point's environment to one Event, including hostile DHCP values."""

from __future__ import annotations

import ipaddress
from typing import Dict, Optional

import pytest

from nethook.events import Event, Kind, dhclient, ifupdown, networkd, networkmanager

LEASE = {"interface": "eth0", "new_ip_address": "10.77.0.11",
         "new_subnet_mask": "255.255.255.0", "new_routers": "10.77.0.1"}
OLD = {"old_ip_address": "10.77.0.10", "old_subnet_mask": "255.255.255.0"}


@pytest.mark.parametrize("reason, phase, kind", [
    ("BOUND", "exit", Kind.CONFIGURE), ("RENEW", "exit", Kind.CONFIGURE),
    ("REBIND", "exit", Kind.CONFIGURE), ("REBOOT", "exit", Kind.CONFIGURE),
    ("TIMEOUT", "exit", Kind.CONFIGURE), ("BOUND6", "exit", Kind.CONFIGURE),
    ("EXPIRE", "exit", Kind.TEARDOWN), ("FAIL", "exit", Kind.TEARDOWN),
    ("RELEASE", "exit", Kind.TEARDOWN), ("STOP", "exit", Kind.TEARDOWN),
    ("EXPIRE", "enter", Kind.PREPARE), ("RENEW", "enter", Kind.PREPARE),
    ("PREINIT", "enter", None), ("PREINIT", "exit", None), ("MEDIUM", "exit", None),
    ("ARPCHECK", "exit", None), ("NBI", "exit", None), ("", "exit", None),
])
def test_dhclient_reasons(reason: str, phase: str, kind: Optional[Kind]) -> None:
    event = dhclient.from_env({"reason": reason, **LEASE}, phase)
    assert (event.kind if event else None) is kind


def test_dhclient_lease_facts() -> None:
    event = dhclient.from_env({"reason": "RENEW", **LEASE, **OLD}, "exit")
    assert event == Event(source="dhclient", kind=Kind.CONFIGURE, reason="RENEW", ifname="eth0",
                          new_address=ipaddress.ip_interface("10.77.0.11/24"),
                          old_address=ipaddress.ip_interface("10.77.0.10/24"),
                          routers=(ipaddress.ip_address("10.77.0.1"),))


@pytest.mark.parametrize("reason", ["STOP", "RELEASE"])
def test_stale_old_address_of_stop_and_release_is_not_trusted(reason: str) -> None:
    event = dhclient.from_env({"reason": reason, "interface": "eth0", **OLD}, "exit")
    assert event is not None and event.old_address is None


def test_dhclient_ipv6() -> None:
    event = dhclient.from_env({"reason": "BOUND6", "interface": "eth0",
                               "new_ip6_address": "2001:db8::11", "new_ip6_prefixlen": "128"},
                              "exit")
    assert event is not None and event.new_address == ipaddress.ip_interface("2001:db8::11/128")


def test_rhel_config_and_restore() -> None:
    config = dhclient.from_rhel({"reason": "BOUND", **LEASE}, "config")
    restore = dhclient.from_rhel({"reason": "EXPIRE", **LEASE}, "restore")
    assert config is not None and config.kind is Kind.CONFIGURE
    assert restore is not None and restore.kind is Kind.TEARDOWN
    assert dhclient.from_rhel({"reason": "BOUND", **LEASE}, "other") is None


NM_UP = {"DEVICE_IFACE": "nml-c0", "DEVICE_IP_IFACE": "nml-c0",
         "DHCP4_IP_ADDRESS": "10.78.0.134", "DHCP4_SUBNET_MASK": "255.255.255.0",
         "DHCP4_ROUTERS": "10.78.0.1", "IP4_ADDRESS_0": "10.78.0.134/24 10.78.0.1",
         "NM_DISPATCHER_ACTION": "up"}


@pytest.mark.parametrize("action, kind", [
    ("up", Kind.CONFIGURE), ("dhcp4-change", Kind.CONFIGURE), ("dhcp6-change", Kind.CONFIGURE),
    ("reapply", Kind.CONFIGURE), ("down", Kind.TEARDOWN), ("hostname", None),
    ("connectivity-change", None), ("pre-up", None), ("vpn-up", None),
])
def test_networkmanager_actions(action: str, kind: Optional[Kind]) -> None:
    event = networkmanager.from_argv(["nml-c0", action], NM_UP)
    assert (event.kind if event else None) is kind


def test_networkmanager_lease_from_ip4_address_when_dhcp_vars_absent() -> None:
    env = {"DEVICE_IP_IFACE": "nml-c0", "IP4_ADDRESS_0": "10.78.0.134/24 10.78.0.1"}
    event = networkmanager.from_argv(["nml-c0", "reapply"], env)
    assert event is not None and event.new_address == ipaddress.ip_interface("10.78.0.134/24")
    bare = networkmanager.from_argv(["nml-c0", "dhcp4-change"], {"DEVICE_IP_IFACE": "nml-c0"})
    assert bare is not None and bare.new_address is None and bare.ifname == "nml-c0"


@pytest.mark.parametrize("env, ifname", [
    ({"IFACE": "eth0", "LOGICAL": "eth0", "ADDRFAM": "inet", "METHOD": "dhcp",
      "MODE": "start", "PHASE": "post-up"}, "eth0"),
    ({"IFACE": "eth0:0", "LOGICAL": "eth0:0", "ADDRFAM": "inet", "METHOD": "static",
      "MODE": "start", "PHASE": "post-up"}, "eth0"),
    ({"IFACE": "eth0", "ADDRFAM": "inet", "METHOD": "NetworkManager", "MODE": "start",
      "PHASE": "post-up"}, None),
    ({"IFACE": "--all", "ADDRFAM": "meta", "METHOD": "none", "MODE": "start",
      "PHASE": "post-up"}, None),
    ({"IFACE": "eth0", "ADDRFAM": "inet", "METHOD": "dhcp", "MODE": "stop",
      "PHASE": "pre-down"}, None),
])
def test_ifupdown(env: Dict[str, str], ifname: Optional[str]) -> None:
    event = ifupdown.from_env(env)
    assert (event.ifname if event else None) == ifname


def test_networkd() -> None:
    assert networkd.from_env({"IFACE": "nml-c1", "STATE": "routable"}) is not None
    assert networkd.from_env({"IFACE": "nml-c1", "STATE": "degraded"}) is None


HOSTILE = [
    "eth0; touch /tmp/nethook-pwned",
    "$(touch /tmp/nethook-pwned)",
    "`touch /tmp/nethook-pwned`",
    "eth0\nreason=BOUND",
    "'\"; rm -rf / #",
    "A" * 10_000,
    "../../etc",
    "eth0 eth1",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_refused_or_ignored(value: str) -> None:
    env = {"reason": "BOUND", "interface": value, "new_ip_address": value,
           "new_subnet_mask": value, "new_routers": value, "new_domain_name": value,
           "new_host_name": value}
    assert dhclient.from_env(env, "exit") is None  # no valid interface: no event
    env["interface"] = "eth0"
    event = dhclient.from_env(env, "exit")
    assert event == Event(source="dhclient", kind=Kind.CONFIGURE, reason="BOUND",
                          ifname="eth0")
    nm = networkmanager.from_argv([value, "up"], {"DEVICE_IP_IFACE": value,
                                                  "DHCP4_IP_ADDRESS": value,
                                                  "IP4_ADDRESS_0": value})
    assert nm is None
    assert ifupdown.from_env({"IFACE": value, "ADDRFAM": "inet", "MODE": "start"}) is None
    assert networkd.from_env({"IFACE": value, "STATE": "routable"}) is None


def test_event_round_trips_through_the_journal_form() -> None:
    event = dhclient.from_env({"reason": "RENEW", **LEASE, **OLD}, "exit")
    assert event is not None and Event.from_dict(event.to_dict()) == event

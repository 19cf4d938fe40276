"""NetworkManager's dispatcher (argv: interface, action; env: DEVICE_IP_IFACE, DHCP4_*...)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Optional

from nethook.events import Event, Kind, addresses, checked_ifname, interface_or_none

# NM removes foreign addresses on reapply and link bounces; each of these follows one.
CONFIGURE_ACTIONS = frozenset({"up", "dhcp4-change", "dhcp6-change", "reapply"})
TEARDOWN_ACTIONS = frozenset({"down"})


def from_argv(argv: Sequence[str], env: Mapping[str, str]) -> Optional[Event]:
    if len(argv) < 2:
        return None
    action = argv[1]
    kind = (Kind.CONFIGURE if action in CONFIGURE_ACTIONS
            else Kind.TEARDOWN if action in TEARDOWN_ACTIONS else None)
    if kind is None:
        return None
    ifname = checked_ifname(env.get("DEVICE_IP_IFACE") or argv[0])
    if ifname is None:
        return None
    new = None
    if action != "dhcp6-change":
        new = interface_or_none(env.get("DHCP4_IP_ADDRESS"), env.get("DHCP4_SUBNET_MASK"))
        if new is None:  # IP4_ADDRESS_0 is "address/prefix gateway"
            first = (env.get("IP4_ADDRESS_0") or "").split(" ")[0]
            new = interface_or_none(first)
    return Event(source="networkmanager", kind=kind, reason=action, ifname=ifname,
                 new_address=new, routers=addresses(env.get("DHCP4_ROUTERS")))

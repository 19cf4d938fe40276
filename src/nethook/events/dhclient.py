"""ISC dhclient-script (Debian hook directories, and RHEL's dhclient.d) to an Event.

dhclient exports ``reason``, ``interface`` and the ``new_*``/``old_*`` lease variables
into the script's environment; nethook reads only those it needs and validates each.
Every other variable (domain names, hostnames, any option a server sends) is ignored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Optional

from nethook.events import Event, Kind, addresses, checked_ifname, interface_or_none

# isc-dhclient 4.4 never emits REBIND for IPv4; treat it like RENEW all the same.
CONFIGURE_REASONS = frozenset({"BOUND", "RENEW", "REBIND", "REBOOT", "TIMEOUT",
                               "BOUND6", "RENEW6", "REBIND6"})
TEARDOWN_REASONS = frozenset({"EXPIRE", "FAIL", "RELEASE", "STOP",
                              "EXPIRE6", "RELEASE6", "STOP6"})
# Before these, dhclient-script may remove addresses: the enter hook snapshots first.
# PREINIT6 flushes every permanent global IPv6 address (`ip -6 addr flush dev IF scope
# global permanent`) when dhclient -6 starts, with no release before it.
PREPARE_REASONS = CONFIGURE_REASONS | TEARDOWN_REASONS | {"PREINIT6"}
# The lease file lags the daemon (written at most every 15 s): on these, old_* can be stale.
UNTRUSTED_OLD = frozenset({"STOP", "RELEASE", "STOP6", "RELEASE6"})


def from_env(env: Mapping[str, str], phase: str) -> Optional[Event]:
    """``phase`` is ``enter`` (before dhclient-script acts) or ``exit`` (after)."""
    reason = env.get("reason", "")
    ifname = checked_ifname(env.get("interface"))
    if ifname is None:
        return None
    if phase == "enter":
        kind = Kind.PREPARE if reason in PREPARE_REASONS else None
    else:
        kind = (Kind.CONFIGURE if reason in CONFIGURE_REASONS
                else Kind.TEARDOWN if reason in TEARDOWN_REASONS else None)
    if kind is None:
        return None
    return _lease_event("dhclient", kind, reason, ifname, env)


def from_rhel(env: Mapping[str, str], action: str) -> Optional[Event]:
    """RHEL's dhclient-script calls ``nethook_config`` after configuring the address
    (BOUND, RENEW, REBIND, REBOOT, TIMEOUT and their IPv6 forms) and ``nethook_restore``
    when the lease goes (EXPIRE, FAIL, RELEASE, STOP and EXPIRE6, RELEASE6, STOP6).
    ``_restore`` runs *before* the script flushes the interface (``flush_dev``), so it
    is the one moment to snapshot what the flush takes with it."""
    ifname = checked_ifname(env.get("interface"))
    kind = {"config": Kind.CONFIGURE, "restore": Kind.TEARDOWN}.get(action)
    if ifname is None or kind is None:
        return None
    event = _lease_event("dhclient-rhel", kind, env.get("reason", action)[:32], ifname, env)
    return dataclasses.replace(event, removal_pending=kind is Kind.TEARDOWN)


def _lease_event(source: str, kind: Kind, reason: str, ifname: str,
                 env: Mapping[str, str]) -> Event:
    six = reason.endswith("6")
    new = (interface_or_none(env.get("new_ip6_address"), env.get("new_ip6_prefixlen"))
           if six else interface_or_none(env.get("new_ip_address"), env.get("new_subnet_mask")))
    old = None
    if reason not in UNTRUSTED_OLD:
        old = (interface_or_none(env.get("old_ip6_address"), env.get("old_ip6_prefixlen"))
               if six else interface_or_none(env.get("old_ip_address"),
                                             env.get("old_subnet_mask")))
    return Event(source=source, kind=kind, reason=reason, ifname=ifname, new_address=new,
                 old_address=old, routers=addresses(env.get("new_routers")))

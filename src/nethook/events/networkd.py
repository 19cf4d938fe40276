"""networkd-dispatcher (env IFACE, STATE); installed in routable.d only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional

from nethook.events import Event, Kind, checked_ifname


def from_env(env: Mapping[str, str]) -> Optional[Event]:
    if env.get("STATE") != "routable":
        return None
    ifname = checked_ifname(env.get("IFACE"))
    if ifname is None:
        return None
    return Event(source="networkd", kind=Kind.CONFIGURE, reason="routable", ifname=ifname)

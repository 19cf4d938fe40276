"""ifupdown's if-up.d (env IFACE, LOGICAL, ADDRFAM, METHOD, MODE, PHASE)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional

from nethook.events import Event, Kind, checked_ifname


def from_env(env: Mapping[str, str]) -> Optional[Event]:
    iface = env.get("IFACE", "")
    # NetworkManager replays if-up.d with METHOD=NetworkManager (our NM script covers it);
    # `ifup -a` runs the directory once more with IFACE=--all.
    if env.get("METHOD") == "NetworkManager" or iface == "--all":
        return None
    if env.get("MODE") != "start" or env.get("PHASE", "post-up") != "post-up":
        return None
    if env.get("ADDRFAM") not in ("inet", "inet6"):
        return None
    # An alias stanza (iface eth0:0) configures eth0.
    ifname = checked_ifname(iface.split(":", 1)[0])
    if ifname is None:
        return None
    return Event(source="ifupdown", kind=Kind.CONFIGURE, reason="post-up", ifname=ifname)

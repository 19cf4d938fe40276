"""systemd's notification protocol (sd_notify), with the standard library.

``Type=notify`` units get ``$NOTIFY_SOCKET``, a unix datagram socket (``@`` marks the
abstract namespace); one datagram of ``KEY=VALUE`` lines per message. ``WatchdogSec=``
sets ``$WATCHDOG_USEC`` (and ``$WATCHDOG_PID``): ping ``WATCHDOG=1`` at least twice per
period. Outside systemd the variables are absent and every call does nothing.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Optional


def notify(state: str, env: Optional[Mapping[str, str]] = None) -> bool:
    """Send ``state`` (e.g. ``READY=1\\nSTATUS=...``); False when there is no manager."""
    address = (os.environ if env is None else env).get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode("utf-8"))
    except OSError:
        return False
    return True


def watchdog_interval(env: Optional[Mapping[str, str]] = None) -> Optional[float]:
    """Seconds between ``WATCHDOG=1`` pings (half the period), or None without one."""
    env = os.environ if env is None else env
    try:
        usec = int(env.get("WATCHDOG_USEC", "0"))
        pid = int(env.get("WATCHDOG_PID", "0"))
    except ValueError:
        return None
    if usec <= 0 or (pid and pid != os.getpid()):
        return None
    return usec / 1e6 / 2

"""One reader per daemon: ntpd, chrony and xinetd configuration, the kernel's listening
sockets and the processes of this network namespace. doctor and services both read here."""

from __future__ import annotations

from typing import Dict

# Each daemon's program name (/proc/PID/comm). Here, so that asking whether one runs loads
# none of the readers.
COMMS: Dict[str, str] = {"ntpd": "ntpd", "chrony": "chronyd", "xinetd": "xinetd"}

"""Check 5: dhclient-script needs ``ping``, and nothing installs it.

Debian's dhclient-script, on TIMEOUT (no server answers, a recorded lease is still
valid), pings the lease's router to decide whether the lease is usable. ``ping`` comes
from iputils-ping, which isc-dhcp-client does not depend on. Without it the test fails,
and the script flushes *every* IPv4 address of the interface, aliases included (lab
notes §3, "dhclient gotchas": ``ping: not found``, then ``ip -4 addr flush dev eth0``).

The script under the root is read to find the line that runs ``ping``, so the finding
points at it, and nothing is reported for a script that does not ping.
"""

from __future__ import annotations

import re
import stat
from typing import List, Optional, Tuple

from nethook.base.files import entry_names
from nethook.doctor.findings import Evidence, Finding, Severity
from nethook.doctor.inputs import Inspection
from nethook.model.objects import Origin

CHECK = "dhclient"
SCRIPTS = ("sbin/dhclient-script", "usr/sbin/dhclient-script")
PATH_DIRS = ("bin", "usr/bin", "sbin", "usr/sbin")
LEASE_DIRS = ("var/lib/dhcp", "var/lib/dhclient")
_PING = re.compile(r"(?:^|[\s;&|(!`])ping\s")


def check(inspection: Inspection) -> List[Finding]:
    found = _pinging_script(inspection)
    if found is None or _ping(inspection) is not None:
        return []
    origin, line = found
    in_use = _in_use(inspection)
    where = ", ".join(f"/{d}" for d in PATH_DIRS)
    return [Finding(
        CHECK, "no-ping", Severity.WARNING if in_use else Severity.INFO,
        f"dhclient-script runs ping on TIMEOUT, and there is no ping in {where}",
        (Evidence.at(origin, line),
         Evidence(str(inspection.root), f"no executable ping in {where}"),
         *((Evidence("in use", in_use),) if in_use else ())),
        "when no DHCP server answers and dhclient falls back to a recorded lease (TIMEOUT), "
        "the script tests the lease's router with ping; without ping the test fails and the "
        "script flushes every IPv4 address of the interface, aliases included",
        "install ping (`apt-get install iputils-ping`; isc-dhcp-client does not depend on "
        "it)")]


def _pinging_script(inspection: Inspection) -> Optional[Tuple[Origin, str]]:
    for relative in SCRIPTS:
        text = inspection.text(relative)
        for number, line in enumerate((text or "").splitlines(), start=1):
            code = line.split("#", 1)[0]
            if _PING.search(code):
                return Origin(str(inspection.path(relative)), number), line.strip()
    return None


def _ping(inspection: Inspection) -> Optional[str]:
    for directory in PATH_DIRS:
        path = inspection.path(directory) / "ping"
        try:
            info = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            continue
        if stat.S_ISREG(info.st_mode) and info.st_mode & 0o111:
            return str(path)
    return None


def _in_use(inspection: Inspection) -> str:
    """Why dhclient looks in use here, or "" when nothing says it is."""
    if inspection.dhcp_interfaces:
        return f"DHCP configured for {', '.join(sorted(inspection.dhcp_interfaces))}"
    for directory in LEASE_DIRS:
        leases = [n for n in entry_names(inspection.path(directory)) if ".lease" in n]
        if leases:
            return f"lease files in /{directory}: {', '.join(leases)}"
    running = inspection.live.processes()
    if running is not None and "dhclient" in running:
        return "dhclient is running"
    return ""

"""The lab's own dhclient-script hooks, and readers for what they record.

The hooks are sourced by Debian's dhclient-script: they run inside the script's shell,
see /etc/dhcp as the lab's directory, and must neither ``exit`` nor evaluate anything
the DHCP server sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

HOOK_NAME = re.compile(r"[A-Za-z0-9_-]+")  # what `run-parts --list` accepts

SAFETY_HOOK = """\
# nethook lab: keep dhclient-script away from the host's resolv.conf and hostname.
make_resolv_conf() { :; }
set_hostname() { :; }
"""

# Values reach printf as arguments and `env -0` prints the environment as it
# is: nothing received from the DHCP server is evaluated.  The env dump is
# written before the trace line, so a trace line means its dump is complete.
_TRACE_HOOK = """\
# nethook lab: record this dhclient-script run ({phase} hooks).
if [ -d /etc/dhcp/lab/env ]; then
    env -0 > "/etc/dhcp/lab/env/$$-{phase}.env0"
fi
printf '%s %s %s %s %s %s %s\\n' "$(date +%s.%N)" {phase} "${{reason:--}}" \\
    "${{interface:--}}" "$$" "${{old_ip_address:--}}" "${{new_ip_address:--}}" \\
    >> /etc/dhcp/lab/trace
"""


def trace_hook(phase: str) -> str:
    """The trace hook for the ``enter`` or ``exit`` hook directory."""
    if phase not in ("enter", "exit"):
        raise ValueError(f"phase must be enter or exit, not {phase!r}")
    return _TRACE_HOOK.format(phase=phase)


@dataclass(frozen=True)
class TraceEntry:
    """One line of the trace: a dhclient-script run reaching its enter or exit hooks."""

    index: int
    time: float
    phase: str
    reason: str
    interface: str
    script_pid: int
    old_ip: str | None
    new_ip: str | None


def parse_trace(text: str) -> list[TraceEntry]:
    """Parse the trace file; a last line without its newline is still being written."""
    entries: list[TraceEntry] = []
    for line in text.split("\n")[:-1]:
        stamp, phase, reason, iface, pid, old, new = line.split(" ")
        entries.append(TraceEntry(len(entries), float(stamp), phase, reason, iface, int(pid),
                                  None if old == "-" else old, None if new == "-" else new))
    return entries


def read_env0(path: Path) -> dict[str, str]:
    """Parse an `env -0` dump; bytes that are not UTF-8 survive as surrogates."""
    env: dict[str, str] = {}
    for record in path.read_bytes().split(b"\0"):
        if record:
            name, _, value = record.partition(b"=")
            env[name.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
    return env

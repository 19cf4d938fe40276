"""What ``doctor --fix`` copies from an old ifcfg file into the current one, and how.

The mac check (doctor/mac.py) offers to put the addressing of ``ifcfg-eth0.bak`` back into
``ifcfg-eth0`` after the kudzu rename. initscripts *sources* ifcfg files: whatever the fix
writes there runs as shell code at the next ``ifup``. So the old file is read as data, only
the keys below are taken from it, each value is checked against what its key means, and it
is written double-quoted in its plain form (``IPADDR="192.0.2.10"``), never as the old
line was written. A value that fails is not copied; the finding says which and why.

* ``BOOTPROTO``: none, static, dhcp or bootp (any case); ``ONBOOT``, only when the current
  file does not set it: the words initscripts' is_true and is_false know;
* ``IPADDRn``, ``GATEWAYn``, ``NETWORK``, ``BROADCAST``: an IPv4 address; ``PREFIXn``: 0 to
  32; ``NETMASKn``: an IPv4 netmask;
* the old file's ``HWADDR`` only appears in the comment above the copied lines, and only
  when it is a MAC address.

``IPADDRn``, ``PREFIXn`` and ``NETMASKn`` of one index make one address: when one of them
fails, the others of that index are not copied either.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from nethook.doctor.inputs import ShellFile
from nethook.importers.shellvars import Var
from nethook.model.objects import Origin

KNOWN = re.compile(r"(?:(BOOTPROTO|ONBOOT|NETWORK|BROADCAST)|"
                   r"(IPADDR|PREFIX|NETMASK|GATEWAY)([0-9]*))\Z")
BOOTPROTOS = ("none", "static", "dhcp", "bootp")
BOOLEANS = frozenset({"y", "yes", "true", "on", "1", "n", "no", "false", "off", "0"})
MAC = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}\Z")


@dataclass(frozen=True)
class Refused:
    """A key of the old file that is not copied, and why."""

    key: str
    origin: Origin
    why: str

    def __str__(self) -> str:
        return f"{self.key} ({self.origin}): {self.why}"


@dataclass(frozen=True)
class Selection:
    values: Tuple[Tuple[str, str], ...]  # (key, value to write), in the old file's order
    refused: Tuple[Refused, ...]

    @property
    def keys(self) -> Tuple[str, ...]:
        return tuple(key for key, _value in self.values)


def _ipv4(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise ValueError("not an IPv4 address") from None


def _prefix(value: str) -> str:
    if not (value.isascii() and value.isdigit() and len(value) <= 2 and int(value) <= 32):
        raise ValueError("not a prefix length from 0 to 32")
    return str(int(value))


def _netmask(value: str) -> str:
    try:
        return str(ipaddress.IPv4Network(f"0.0.0.0/{_ipv4(value)}").netmask)
    except ValueError:
        raise ValueError("not an IPv4 netmask") from None


def _bootproto(value: str) -> str:
    if value.lower() not in BOOTPROTOS:
        raise ValueError(f"not one of {', '.join(BOOTPROTOS)}")
    return value.lower()


def _boolean(value: str) -> str:
    if value.lower() not in BOOLEANS:
        raise ValueError("not yes or no")
    return value.lower()


CHECKS: Dict[str, Callable[[str], str]] = {
    "BOOTPROTO": _bootproto, "ONBOOT": _boolean, "NETWORK": _ipv4, "BROADCAST": _ipv4,
    "IPADDR": _ipv4, "PREFIX": _prefix, "NETMASK": _netmask, "GATEWAY": _ipv4,
}


def _shown(value: str) -> str:
    """A value as a report quotes it: in quotes, control characters escaped, cut if long."""
    return repr(value if len(value) <= 60 else value[:57] + "...")


def _checked(key: str, var: Var) -> str:
    """The value to write; ValueError saying why it is not copied."""
    match = KNOWN.match(key)
    assert match is not None
    if var.expands:
        raise ValueError(f"{_shown(var.value)} asks the shell to expand something; "
                         "nethook copies only plain values")
    try:
        return CHECKS[match.group(1) or match.group(2)](var.value)
    except ValueError as exc:
        raise ValueError(f"{_shown(var.value)} is {exc}") from None


def select(current: ShellFile, old: ShellFile) -> Selection:
    """The keys of ``old`` to copy, with their values checked, and those refused."""
    values: List[Tuple[str, str]] = []
    refused: List[Refused] = []
    for key, var in old.variables.variables.items():
        if KNOWN.match(key) is None or var.value == "":
            continue
        if key == "ONBOOT" and current.variables.var("ONBOOT") is not None:
            continue  # the current file's own choice stands
        try:
            values.append((key, _checked(key, var)))
        except ValueError as exc:
            refused.append(Refused(key, var.origin, str(exc)))
    return _whole_groups(old, values, refused)


def _group(key: str) -> Optional[str]:
    """The index of an address key (IPADDR, PREFIX, NETMASK), else None."""
    match = KNOWN.match(key)
    if match is None or match.group(2) not in ("IPADDR", "PREFIX", "NETMASK"):
        return None
    return match.group(3)


def _whole_groups(old: ShellFile, values: List[Tuple[str, str]],
                  refused: List[Refused]) -> Selection:
    """Drop the address keys whose index has a refused one: an address without its prefix
    (or a prefix without its address) is not what the old file said."""
    failed: Dict[str, List[str]] = {}
    for item in refused:
        index = _group(item.key)
        if index is not None:
            failed.setdefault(index, []).append(item.key)
    kept = []
    for key, value in values:
        index = _group(key)
        if index is None or index not in failed:
            kept.append((key, value))
        else:
            origin = old.variables.origin(key)
            refused.append(Refused(key, origin, f"goes with {', '.join(failed[index])}, "
                                                "which is not copied"))
    return Selection(tuple(kept), tuple(refused))


def merged(current: ShellFile, current_text: str, old: ShellFile,
           chosen: Selection) -> Optional[str]:
    """``current_text`` with the chosen values: replacing the line where the current file
    sets the same key, appended otherwise, ``BOOTPROTO`` set to none when the old file
    gives none. None when there is nothing safe to write: no address is copied, the old
    ``BOOTPROTO`` is refused, or a line to replace holds more than that assignment."""
    if not any(key.startswith("IPADDR") for key in chosen.keys) \
            or any(r.key == "BOOTPROTO" for r in chosen.refused):
        return None
    mine = current_text.splitlines()
    wanted = list(chosen.values)
    if "BOOTPROTO" not in chosen.keys and current.variables.var("BOOTPROTO") is not None:
        wanted.append(("BOOTPROTO", "none"))
    appended = []
    for key, value in wanted:
        here = current.variables.variables.get(key)
        line = f'{key}="{value}"'
        if here is None:
            appended.append(line)
        elif not _lone_assignment(mine, here.origin, key):
            return None
        else:
            mine[here.origin.line - 1] = line
    if appended:
        mac = old.variables.get("HWADDR") or ""
        was = f" (HWADDR {mac})" if MAC.match(mac) else ""
        mine += [f"# The addressing of {_printable(old.name)}{was}, put back by nethook "
                 "doctor --fix", *appended]
    return "\n".join(mine) + "\n"


def _printable(name: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in name)


def _lone_assignment(lines: List[str], origin: Origin, key: str) -> bool:
    """Whether the line at ``origin`` assigns ``key`` and nothing else."""
    if not 0 < origin.line <= len(lines):
        return False
    line = lines[origin.line - 1]
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return False
    return (not line.rstrip().endswith("\\") and len(words) == 1
            and words[0].startswith(f"{key}="))

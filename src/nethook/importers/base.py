"""What every importer shares: its result type, problem reports, and careful file reading.

An importer reads text under a filesystem root and returns model objects, each with the
file and line that declared it, plus the problems it met on the way. Reading is pure: no
netlink, sysfs or MAC lookups. Two kinds of trouble are kept apart:

* a line or file that cannot be understood is a :class:`Problem`: it is reported with its
  path and line and skipped, and everything else still counts;
* a file that exists but cannot be read (permission, I/O) raises ``ConfigError``: "could
  not read" is never taken for "declares nothing".
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from nethook.base.errors import ConfigError
from nethook.model.objects import IPAddress, KernelObject, Origin

# Backup and package-manager leftovers, skipped the way initscripts' is_ignored_file does.
BACKUP_SUFFIXES: Tuple[str, ...] = ("~", ".bak", ".old", ".orig", ".rpmnew", ".rpmorig",
                                    ".rpmsave")


@dataclass(frozen=True)
class Problem:
    """Something in a distro file that nethook did not take as written, and why."""

    origin: Origin
    message: str

    def __str__(self) -> str:
        return f"{self.origin}: {self.message}"


@dataclass(frozen=True)
class Imported:
    """What one source declares, in the order its own tools would apply it."""

    source: str
    objects: Tuple[KernelObject, ...] = ()
    problems: Tuple[Problem, ...] = ()
    files: Tuple[str, ...] = ()  # every file read


class Collector:
    """Accumulates one importer's objects, problems and files as it reads."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.objects: List[KernelObject] = []
        self.problems: List[Problem] = []
        self.files: List[str] = []

    def add(self, obj: KernelObject) -> None:
        self.objects.append(obj)

    def problem(self, origin: Origin, message: str) -> None:
        self.problems.append(Problem(origin, message))

    def result(self) -> Imported:
        return Imported(self.source, tuple(self.objects), tuple(self.problems),
                        tuple(self.files))


def read_text(path: Path) -> Optional[str]:
    """A file's text, or None when nothing is there (a dangling link counts as nothing).

    Any other failure raises ConfigError. Bytes that are not UTF-8 (a Latin-1 comment)
    become U+FFFD: the values nethook reads are ASCII.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(str(path), 0, "", f"cannot read: {exc.strerror or exc}") from exc
    return data.decode("utf-8", errors="replace")


def is_file(path: Path) -> bool:
    """A regular file (through links); raises ConfigError when it cannot even be looked at."""
    try:
        return path.is_file()
    except OSError as exc:
        raise ConfigError(str(path), 0, "", f"cannot read: {exc.strerror or exc}") from exc


def exists(path: Path) -> bool:
    """Anything at ``path``, even a dangling link; raises ConfigError when it cannot tell."""
    try:
        path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        raise ConfigError(str(path), 0, "", f"cannot read: {exc.strerror or exc}") from exc
    return True


def is_backup(name: str) -> bool:
    return name.endswith(BACKUP_SUFFIXES)


def prefix_of_netmask(text: str, family: int = 4) -> int:
    """A prefix length from a netmask: dotted quad (IPv4) or a number of bits."""
    if text.isdigit():
        bits = int(text)
        if bits <= (32 if family == 4 else 128):
            return bits
        raise ValueError(f"netmask '{text}' is out of range")
    try:
        mask = ipaddress.IPv4Address(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a netmask") from None
    value = int(mask)
    inverted = value ^ 0xFFFFFFFF
    if inverted & (inverted + 1):
        raise ValueError(f"netmask '{text}' is not contiguous")
    return 32 - inverted.bit_length()


def classful_prefix(addr: IPAddress) -> Optional[int]:
    """The class A/B/C prefix ipcalc gives an IPv4 address written without a mask."""
    if addr.version != 4:
        return None
    first = int(addr) >> 24
    if first < 128:
        return 8
    if first < 192:
        return 16
    if first < 224:
        return 24
    return None

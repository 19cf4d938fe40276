"""What a check reports: findings with evidence, and the fixes ``--fix`` may apply."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Optional, Protocol, Tuple

from nethook.base.context import RunContext
from nethook.model.objects import Origin
from nethook.model.ports import Netlink


class Severity(enum.Enum):
    ERROR = "error"  # broken now, or silently not working (a hook that is skipped)
    WARNING = "warning"  # a DHCP event, a reboot or a reload will break something
    INFO = "info"  # worth knowing; nothing to do unless it surprises you

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


@dataclass(frozen=True)
class Evidence:
    """Where the finding shows: a file and line, or a kernel object and how ``ip`` names it."""

    where: str  # "/etc/network/interfaces:14", "ip -4 route", "/proc/sys/.../promote_secondaries"
    what: str  # the line as written, or the object as ``ip`` prints it

    @classmethod
    def at(cls, origin: Origin, what: str) -> Evidence:
        return cls(str(origin), what)

    def __str__(self) -> str:
        return f"{self.where}: {self.what}" if self.what else self.where


class FixError(Exception):
    """A fix could not be applied; the message says why, and what it did before it failed."""


@dataclass(frozen=True)
class FixContext:
    """What a fix works with: the run's options (the root every file it writes must stay
    in, the run directory whose lock it holds while it changes the kernel), the stamp that
    names its backups, and the way to the kernel (the applier's Netlink port)."""

    ctx: RunContext
    stamp: str
    open_netlink: Callable[[], Netlink]


class Fix(Protocol):
    """One safe, unambiguous change ``--fix`` makes after printing it."""

    def describe(self) -> str:
        """The change in the words (or the command) an administrator would use."""
        ...

    def apply(self, fixing: FixContext) -> str:
        """Make the change; return what was done (a backup's path, ...). Raises FixError."""
        ...


@dataclass(frozen=True)
class Finding:
    check: str  # the family: "default-routes", "mac", ... (doctor.run.CHECKS)
    code: str  # what exactly, stable for machines: "shared-metric", "kudzu-rename", ...
    severity: Severity
    summary: str  # one line: what is wrong
    evidence: Tuple[Evidence, ...]
    why: str  # one sentence: why it matters
    fix: str  # what to do about it
    action: Optional[Fix] = None  # what --fix does, when that is safe and unambiguous

    @property
    def counts(self) -> bool:
        """Whether it makes the exit status 1."""
        return self.severity is not Severity.INFO

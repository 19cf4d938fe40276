"""The small interfaces behind which side effects live: the kernel's routing state and the
unit manager that restarts services. The real adapters are in ``adapters/``."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import List, Optional, Protocol, Tuple

from nethook.model.objects import Observed
from nethook.model.ops import Op

# (errno, kernel message); errno 0 means the kernel acknowledged the operation.
Outcome = Tuple[int, str]


class Netlink(Protocol):
    """The kernel's routing state, read and written over rtnetlink."""

    def observe(self, ifnames: Collection[str], tables: Optional[Collection[int]]) -> Observed:
        """Links present (by name), the addresses of ``ifnames`` (with which of them are
        dynamic), the routes of ``tables`` (all interfaces; None: every table), and every
        policy rule of both families.

        Raises ObserveError when anything cannot be read: never a partial result.
        """
        ...

    def execute(self, ops: Sequence[Op]) -> List[Outcome]:
        """Run the operations in order; return one outcome per operation.

        An outcome is (errno, the kernel's extended-ack message or ""); errno 0 is success.
        A refusal of one operation never raises; only a failure of the socket itself does
        (as NethookError), and then nothing more is sent.
        """
        ...

    def close(self) -> None: ...


# systemd ActiveStates of a unit that is not running: nethook leaves such a unit alone.
STOPPED_STATES = ("inactive", "failed", "deactivating", "maintenance")


@dataclass(frozen=True)
class UnitState:
    name: str  # the unit's own name (systemd resolves aliases), or the init script's
    # systemd's ActiveState; for an init script "running" (its daemon was found running)
    # or "unknown" (try-restart itself then leaves a stopped service alone)
    active: str

    @property
    def stopped(self) -> bool:
        return self.active in STOPPED_STATES


@dataclass(frozen=True)
class JobResult:
    ok: bool
    detail: str  # systemd's job result ("done", "failed", ...), or what the script said


class UnitError(Exception):
    """The unit manager could not be reached or refused a request."""


class UnitLibraryMissing(UnitError):
    """The library the unit manager is reached through is not installed."""

    def __init__(self, package: str) -> None:
        super().__init__(f"{package} is not installed")
        self.package = package


class UnitManager(Protocol):
    """Whatever restarts services on this system."""

    kind: str  # "systemd" or "init scripts", for messages

    def find(self, candidates: Sequence[str], pid: Optional[int]) -> Optional[UnitState]:
        """The unit running ``pid`` (when known and it is a service), else the first of
        ``candidates`` that exists. None when there is none."""
        ...

    def try_restart(self, unit: str) -> JobResult:
        """Restart ``unit`` if it is running; never start it."""
        ...

    def reload_or_try_restart(self, unit: str) -> JobResult:
        """Reload ``unit`` (restart it if it cannot reload) if it is running."""
        ...

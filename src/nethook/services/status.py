"""``nethook status``: per watched service, the listeners expected and the ones there.

Expected are the listeners on the addresses nethook keeps (declared, imported and
snapshotted), as a restore would expect them, and every listener of a ``services.units``
entry; an address a daemon's own configuration tells it to leave alone is listed as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Tuple

from nethook.config.services import ServicesConfig
from nethook.daemons import listeners, processes
from nethook.model.objects import Address
from nethook.services.check import missing, owned_inodes
from nethook.services.watches import DAEMON_COMMS, build


@dataclass(frozen=True)
class Row:
    state: str  # present, MISSING, or ignored (the daemon's own configuration says so)
    listener: str
    note: str = ""


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    detail: str  # the daemon's PID and configuration files
    rows: Tuple[Row, ...]

    @property
    def missing(self) -> int:
        return sum(1 for row in self.rows if row.state == "MISSING")


def assess(root: Path, settings: ServicesConfig,
           addresses: Sequence[Address]) -> Tuple[List[ServiceStatus], List[str]]:
    """Every watched service's status, and warnings about files not understood."""
    running = processes.find(set(DAEMON_COMMS.values()))
    watches, warnings = build(root, settings, addresses, running, every_unit_listener=True)
    if not watches:
        return [], warnings
    table = listeners.read()
    statuses = []
    for watch in watches:
        owned = owned_inodes(watch.comm) if watch.comm else None
        lacking = set(missing(watch, table, owned))
        rows = [Row("MISSING" if spec in lacking else "present", spec.describe())
                for spec in watch.expected]
        rows += [Row("ignored", spec.describe(), why) for spec, why in watch.not_expected]
        detail = "; ".join(([f"pid {watch.pid}"] if watch.pid else []) + list(watch.files))
        statuses.append(ServiceStatus(watch.service, detail, tuple(rows)))
    return statuses, warnings


def text(statuses: Sequence[ServiceStatus]) -> str:
    if not statuses:
        return ""
    lines = ["services"]
    for status in statuses:
        lines.append(f"  {status.service}" + (f"  ({status.detail})" if status.detail else ""))
        for row in status.rows:
            note = f"  ({row.note})" if row.note else ""
            lines.append(f"    {row.state:<8} {row.listener}{note}")
        if not status.rows:
            lines.append("    nothing expected on the addresses nethook keeps")
    return "\n".join(lines) + "\n"


def to_json(statuses: Sequence[ServiceStatus]) -> List[Dict[str, Any]]:
    return [{"service": s.service, "detail": s.detail,
             "listeners": [{"state": r.state.lower(), "listener": r.listener,
                            "note": r.note or None} for r in s.rows]}
            for s in statuses]

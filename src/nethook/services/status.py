"""``nethook status``: per watched service, the listeners expected and the ones there.

Expected are the listeners on the addresses nethook keeps (declared, imported and
snapshotted), as a restore would expect them, and every listener of a ``services.units``
entry; an address a daemon's own configuration tells it to leave alone is listed as such.
A daemon whose sockets cannot be read shows UNKNOWN, with the reason: neither present nor
missing. ``nethook doctor`` explains the same rows (:func:`assess` is its source too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

from nethook.base.errors import ObserveError
from nethook.config.services import DaemonSettings, ServicesConfig
from nethook.daemons.live import DaemonsLive, ProcLive
from nethook.model.objects import Address
from nethook.services.listening import hear
from nethook.services.watches import Watch, build, watched_comms


@dataclass(frozen=True)
class Row:
    # present, MISSING, UNKNOWN (could not be read), or ignored (the daemon's own
    # configuration says so)
    state: str
    listener: str
    note: str = ""


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    detail: str  # the daemon's PID and configuration files
    rows: Tuple[Row, ...]
    watch: Optional[Watch] = None
    unknown: Optional[str] = None  # why its sockets could not be read

    @property
    def missing(self) -> int:
        return sum(1 for row in self.rows if row.state == "MISSING")

    @property
    def complete(self) -> bool:
        """Every expected listener is there (and that could be read)."""
        return self.unknown is None and not self.missing


def assess(root: Path, settings: ServicesConfig, addresses: Sequence[Address],
           live: Optional[DaemonsLive] = None,
           every_unit_listener: bool = True) -> Tuple[List[ServiceStatus], List[str]]:
    """Every watched service's status, and warnings about files not understood."""
    live = live or ProcLive()
    running = live.running(watched_comms(settings))
    watches, warnings = build(root, settings, addresses, running, live.read_pid,
                              every_unit_listener)
    if not watches:
        return [], warnings
    table = live.table()
    statuses = []
    for watch in watches:
        heard = hear(watch, table, live)
        lacking = set(heard.missing)
        rows = [Row("UNKNOWN" if heard.unknown else "MISSING" if spec in lacking
                    else "present", spec.describe()) for spec in watch.expected]
        rows += [Row("ignored", spec.describe(), why) for spec, why in watch.not_expected]
        detail = "; ".join(([f"pid {watch.pid}"] if watch.pid else []) + list(watch.files))
        statuses.append(ServiceStatus(watch.service, detail, tuple(rows), watch,
                                      heard.unknown if watch.expected else None))
    return statuses, warnings


def assess_daemon(root: Path, settings: ServicesConfig, name: str,
                  addresses: Sequence[Address],
                  live: DaemonsLive) -> Tuple[Optional[ServiceStatus], List[str]]:
    """One daemon's status (ntpd, chrony or xinetd) whether or not ``services:`` watches
    it, as ``nethook doctor`` asks; None when it does not run here."""
    def pick(daemon: str) -> DaemonSettings:
        return replace(settings.daemon(daemon), enabled=daemon == name)

    only = ServicesConfig(settings.rate_limit, pick("ntpd"), pick("chrony"), pick("xinetd"))
    statuses, warnings = assess(root, only, addresses, live, every_unit_listener=False)
    return (statuses[0] if statuses else None), warnings


def missing_now(root: Path, settings: ServicesConfig, name: str, addresses: Sequence[Address],
                live: DaemonsLive) -> Tuple[Optional[Watch], FrozenSet[str]]:
    """doctor's question: which listeners of daemon ``name`` on ``addresses`` are missing
    now (as ``status`` says MISSING), with its watch; (None, nothing) when it does not run
    here. ObserveError when that cannot be told: never "nothing missing"."""
    status, _warnings = assess_daemon(root, settings, name, addresses, live)
    if status is None or status.watch is None:
        return None, frozenset()
    if status.unknown:
        raise ObserveError(f"cannot tell whether {name} listens: {status.unknown}")
    return status.watch, frozenset(r.listener for r in status.rows if r.state == "MISSING")


def text(statuses: Sequence[ServiceStatus]) -> str:
    if not statuses:
        return ""
    lines = ["services"]
    for status in statuses:
        lines.append(f"  {status.service}" + (f"  ({status.detail})" if status.detail else ""))
        if status.unknown:
            lines.append(f"    cannot tell whether it listens: {status.unknown}")
        for row in status.rows:
            note = f"  ({row.note})" if row.note else ""
            lines.append(f"    {row.state:<8} {row.listener}{note}")
        if not status.rows:
            lines.append("    nothing expected on the addresses nethook keeps")
    return "\n".join(lines) + "\n"


def to_json(statuses: Sequence[ServiceStatus]) -> List[Dict[str, Any]]:
    return [{"service": s.service, "detail": s.detail, "unknown": s.unknown,
             "listeners": [{"state": r.state.lower(), "listener": r.listener,
                            "note": r.note or None} for r in s.rows]}
            for s in statuses]

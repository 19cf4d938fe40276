"""``nethook check``: a monitoring plugin as the Nagios plugin guidelines describe one.

One line first, ``NETHOOK STATE - summary | perfdata``, then one line per problem (the
long output), and the exit status monitoring systems read (NRPE, Icinga, Nagios):

* 0 OK: everything nethook keeps is in the kernel, every watched service listens;
* 1 WARNING: a watched service does not listen on a kept address (yet);
* 2 CRITICAL: something nethook keeps is missing from the kernel;
* 3 UNKNOWN: the check could not run (an invalid configuration, nethook's directories or
  the kernel unreadable, not root).

Performance data: ``kept`` (what nethook keeps: declared, imported and pending
snapshots), ``present``, ``missing`` (critical at 1), ``restored_24h`` and
``watcher_up`` (1 when the watcher answers on its socket).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Dict, List, Tuple

from nethook.monitor.facts import Facts


class Status(enum.IntEnum):
    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


SHOWN = 3  # objects named on the first line; the long output names every one


@dataclass(frozen=True)
class Result:
    status: Status
    summary: str
    perfdata: Tuple[Tuple[str, str], ...] = ()  # (label, value with thresholds)
    details: Tuple[str, ...] = ()

    def text(self) -> str:
        perf = " ".join(f"{label}={value}" for label, value in self.perfdata)
        first = f"NETHOOK {self.status.name} - {self.summary}" + (f" | {perf}" if perf else "")
        return "\n".join((first, *self.details)) + "\n"

    def to_json(self) -> Dict[str, Any]:
        return {"state": self.status.name, "summary": self.summary,
                "perfdata": {label: value for label, value in self.perfdata},
                "details": list(self.details), "exit": int(self.status)}


def evaluate(facts: Facts) -> Result:
    if not facts.config_valid:
        return unknown(f"invalid configuration: {facts.assembly.error}")
    perfdata = _perfdata(facts)
    missing = facts.missing
    details = tuple(f"{a.target.ifname or '(global)'}: {a.state.value} "
                    f"{type(a.target).__name__.lower()} {a.target.describe()}"
                    + (f" ({a.reason})" if a.reason else "") for a in missing)
    deaf = tuple(f"{s.service}: not listening on {row.listener}" for s in facts.deaf
                 for row in s.rows if row.state == "MISSING")
    deaf += tuple(f"{s.service}: its sockets could not be read: {s.unknown}"
                  for s in facts.deaf if s.unknown)
    if missing:
        return Result(Status.CRITICAL, _missing_summary(facts), perfdata, details + deaf)
    if deaf:
        return Result(Status.WARNING, "; ".join(deaf[:SHOWN])
                      + ("; ..." if len(deaf) > SHOWN else ""), perfdata, deaf)
    kept = len(facts.assessments)
    where = f" on {facts.scope}" if facts.scope else ""
    summary = (f"{kept} object(s) kept{where}, all present" if kept
               else f"nothing kept{where}")
    return Result(Status.OK, summary, perfdata)


def unknown(why: str) -> Result:
    return Result(Status.UNKNOWN, why.splitlines()[0] if why else "cannot check")


def _missing_summary(facts: Facts) -> str:
    by_interface: Dict[str, List[str]] = {}
    for item in facts.missing:
        by_interface.setdefault(item.target.ifname or "(global)", []).append(
            item.target.describe())
    total: Dict[str, int] = {}
    for item in facts.assessments:
        name = item.target.ifname or "(global)"
        total[name] = total.get(name, 0) + 1
    parts = []
    for name, objects in sorted(by_interface.items()):
        shown = ", ".join(objects[:SHOWN]) + (", ..." if len(objects) > SHOWN else "")
        parts.append(f"{name}: {len(objects)} of {total[name]} missing ({shown})")
    return "; ".join(parts)


def _perfdata(facts: Facts) -> Tuple[Tuple[str, str], ...]:
    kept = len(facts.assessments)
    missing = len(facts.missing)
    return (("kept", f"{kept};;;0"), ("present", f"{kept - missing};;;0"),
            ("missing", f"{missing};;1;0"),
            ("restored_24h", f"{sum(facts.restored_recent.values())};;;0"),
            ("watcher_up", f"{_watcher_up(facts)};;;0;1"))


def _watcher_up(facts: Facts) -> int:
    return 1 if facts.watcher.get("running") else 0

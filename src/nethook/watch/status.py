"""What ``nethook status`` says about the watcher: is it running, and what it restored.

Whether it runs is asked on its socket (a pid file could outlive it); what it restored
comes from the journal: the runs since it started that added something.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from nethook.base.context import RunContext
from nethook.engine import journal
from nethook.watch.client import WatcherUnavailable, call, socket_path

RECENT = 5
NOT_THE_WATCHERS = frozenset({"cli", "replay"})  # runs an administrator started


def report(ctx: RunContext) -> Dict[str, Any]:
    if not socket_path(ctx.run_dir).exists():
        return {"running": False}
    try:
        answer = call(ctx.run_dir, {"op": "status"})
    except WatcherUnavailable as exc:
        return {"running": False, "problem": str(exc)}
    answer.pop("ok", None)
    return dict(answer, running=True, recent=recent_restores(ctx, answer.get("started")))


def recent_restores(ctx: RunContext, since: Optional[str], limit: int = RECENT
                    ) -> List[Dict[str, Any]]:
    """The newest journal runs since ``since`` (ISO time) that restored something."""
    start = journal.time_of(since)
    found = []
    for entry in journal.entries(ctx.state_dir):
        stamp = journal.time_of(entry.get("time"))
        applied = [r.get("op") for r in entry.get("results") or []
                   if r.get("status") == "applied"]
        event = entry.get("event") or {}
        if applied and stamp and (start is None or stamp >= start) \
                and event.get("source") not in NOT_THE_WATCHERS:
            found.append({"time": entry.get("time"), "interface": event.get("ifname"),
                          "reason": event.get("reason"), "source": event.get("source"),
                          "applied": applied})
    return found[-limit:]


def text(report: Dict[str, Any]) -> str:
    if not report.get("running"):
        why = f" ({report['problem']})" if report.get("problem") else ""
        return f"watcher: not running{why}; hooks restore by themselves\n"
    followed = ", ".join(report.get("dbus") or []) or "none"
    if report.get("dbus_problem"):
        followed += f" ({report['dbus_problem']})"
    lines = [f"watcher: running, pid {report.get('pid')}, since {report.get('started')}; "
             f"D-Bus: {followed}"]
    if report.get("config_error"):
        lines.append(f"  configuration NOT reloaded: {report['config_error']}")
    for ifname, holds in sorted((report.get("holds") or {}).items()):
        lines.append(f"  {ifname}: waiting for {', '.join(holds)}")
    for obj, fight in sorted((report.get("contested") or {}).items()):
        lines.append(f"  contested: {obj}: removed {fight['removals']} times; next restore "
                     f"in {fight['next_restore_in_s']:.0f} s at the earliest")
    for run in report.get("recent") or []:
        lines.append(f"  {run['time']} {run['interface']}: restored {len(run['applied'])} "
                     f"after {run['reason']} from {run['source']}")
    if not report.get("recent"):
        lines.append("  nothing restored since it started")
    return "\n".join(lines) + "\n"

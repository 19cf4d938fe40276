"""Human and JSON renderings of status and run results. Pure: values in, text out."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import TYPE_CHECKING, Any, Dict, List, Mapping

from nethook.cli.parser import IMPORT_SOURCES
from nethook.engine.apply import Status
from nethook.engine.plan import Assessment, State
from nethook.engine.reconcile import RunResult
from nethook.model.objects import KernelObject

if TYPE_CHECKING:
    from nethook.monitor.facts import Facts

_MARK = {State.PRESENT: "present", State.MISSING: "MISSING",
         State.DIFFERENT: "DIFFERS", State.NO_LINK: "NO-LINK"}


def kind_of(obj: KernelObject) -> str:
    return type(obj).__name__.lower()


def group_of(obj: KernelObject) -> str:
    """The interface an object belongs to, for grouping output."""
    return obj.ifname or "(global)"


def origin_of(obj: KernelObject) -> str:
    return str(obj.origin) if obj.origin is not None else ""


def last_event_text(entry: Mapping[str, Any]) -> str:
    event = entry.get("event") or {}
    outcome = entry.get("action")
    if outcome is None:
        done = sum(1 for r in entry.get("results", []) if r.get("status") == "applied")
        failed = sum(1 for r in entry.get("results", []) if r.get("status") == "failed")
        outcome = f"{done} restored" + (f", {failed} failed" if failed else "")
    return (f"last event: {event.get('reason', '?')} from {event.get('source', '?')} "
            f"at {entry.get('time', '?')}: {outcome}")


def status_text(facts: Facts) -> str:
    from nethook.services import status as services
    from nethook.watch import status as watcher

    text = _objects_text(facts.assessments, facts.last_events)
    return text + watcher.text(dict(facts.watcher)) + services.text(list(facts.services))


def _objects_text(assessments: Sequence[Assessment],
                  events: Mapping[str, Mapping[str, Any]]) -> str:
    if not assessments:
        return "nothing declared\n"
    lines: List[str] = []
    ordered = sorted(assessments, key=lambda a: group_of(a.target))
    for ifname, items in groupby(ordered, key=lambda a: group_of(a.target)):
        lines.append(ifname)
        if ifname in events:
            lines.append(f"  {last_event_text(events[ifname])}")
        for item in items:
            text = f"{kind_of(item.target)} {item.target.describe()}"
            note = f"  ({item.reason})" if item.reason else ""
            origin = f"  # {origin_of(item.target)}" if item.target.origin else ""
            lines.append(f"  {_MARK[item.state]:<8} {text}{note}{origin}")
    return "\n".join(lines) + "\n"


def status_json(facts: Facts) -> Dict[str, Any]:
    from nethook.services import status as services

    interfaces: Dict[str, List[Dict[str, Any]]] = {}
    for item in facts.assessments:
        interfaces.setdefault(group_of(item.target), []).append({
            "kind": kind_of(item.target), "object": item.target.describe(),
            "state": item.state.name.lower(), "reason": item.reason or None,
            "origin": origin_of(item.target) or None})
    return {"interfaces": interfaces,
            "last_events": {name: dict(entry) for name, entry in facts.last_events.items()},
            "missing": len(facts.missing), "watcher": dict(facts.watcher),
            "services": services.to_json(list(facts.services))}


def import_header(names: Sequence[str], files: Sequence[str],
                  problems: Sequence[object]) -> List[str]:
    if not names:
        return [f"nethook import: no distro network files found ({', '.join(IMPORT_SOURCES)})"]
    lines = [f"nethook import --from {' --from '.join(names)}, from:"]
    lines += [f"  {path}" for path in files]
    if problems:
        lines.append("Not kept as written (also printed as warnings):")
        lines += [f"  {problem}" for problem in problems]
    lines += ["Once this file replaces the distro's files for nethook, turn their import off:",
              "import: none", ""]
    return lines


def run_text(result: RunResult) -> str:
    lines: List[str] = []
    for skipped in result.plan.skipped:
        lines.append(f"# skipped: {kind_of(skipped.target)} {skipped.target.describe()}: "
                     f"{skipped.reason}")
    if result.dry_run:
        for op in result.plan.ops:
            origin = f"  # {origin_of(op.target)}" if op.target.origin else ""
            lines.append(f"{op.describe()}{origin}")
        if not result.plan.ops:
            lines.append("# nothing to do")
        return "\n".join(lines) + "\n"
    for res in result.report.results:
        lines.append(f"{res.status.value:<8} {res.op.describe()}"
                     + (f": {res.reason}" if res.status is Status.FAILED else ""))
    if not result.report.results:
        lines.append("# nothing to do")
    return "\n".join(lines) + "\n"


def run_json(result: RunResult) -> Dict[str, Any]:
    return {
        "dry_run": result.dry_run,
        "plan": [{"op": op.describe(), "origin": origin_of(op.target) or None}
                 for op in result.plan.ops],
        "skipped": [{"object": s.target.describe(), "reason": s.reason}
                    for s in result.plan.skipped],
        "results": [{"op": r.op.describe(), "status": r.status.value,
                     "error": r.reason if r.status is Status.FAILED else None}
                    for r in result.report.results],
        "missing": len(result.missing),
        "exit": int(result.exit_code),
    }

"""The one use case every entry point ends in: lock, observe, plan, apply, record, journal."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Dict, FrozenSet, Optional, Tuple

from nethook.base.context import RunContext
from nethook.base.errors import StateError
from nethook.base.exit_codes import ExitCode
from nethook.base.lock import RunLock
from nethook.engine import coalesce, counters, journal, ownership
from nethook.engine.apply import ApplyReport, OpResult, Status, apply
from nethook.engine.lease import respect_lease
from nethook.engine.plan import plan as make_plan
from nethook.events import Event
from nethook.model.objects import Address, Desired, KernelObject, Observed, Route, Rule
from nethook.model.ops import Plan, Verb
from nethook.model.ports import Netlink

log = logging.getLogger(__name__)

NetlinkFactory = Callable[[], Netlink]


def open_kernel() -> Netlink:
    """The real adapter on a new rtnetlink socket, imported only when the kernel is read."""
    from nethook.adapters.netlink import open_netlink

    return open_netlink()


@dataclass(frozen=True)
class RunResult:
    plan: Plan
    report: ApplyReport
    dry_run: bool

    @property
    def missing(self) -> Tuple[KernelObject, ...]:
        """Declared objects the kernel still lacks after this run."""
        pending = [] if not self.dry_run else [op.target for op in self.plan.ops
                                               if op.verb is not Verb.DELETE]
        failed = [r.op.target for r in self.report.failed]
        return (*pending, *failed, *(s.target for s in self.plan.skipped))

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.INCOMPLETE if self.missing else ExitCode.OK


def observe_scope(netlink: Netlink, desired: Desired,
                  owned: Iterable[KernelObject] = ()) -> Observed:
    owned = tuple(owned)
    ifnames = set(desired.interfaces) | {o.ifname for o in owned if isinstance(o, Address)}
    tables = set(desired.tables) | {o.table for o in owned if isinstance(o, (Route, Rule))}
    return netlink.observe(sorted(ifnames), sorted(tables))


@contextmanager
def exclusive(ctx: RunContext, event: Event, arrival: Optional[int] = None) -> Iterator[bool]:
    """The run lock, held for a whole run: yields False when a run that started after this
    event already covered it (``arrival``: a hook's number from coalesce.arrive).

    Everything a run decides from is read while it is held: the desired state (a
    snapshot an enter hook wrote just before is seen), the kernel, the ownership record;
    and a snapshot is consumed under it, so one written after the run stays pending."""
    with RunLock(ctx.run_dir, ctx.lock_timeout):
        if arrival is not None and event.ifname:
            if coalesce.already_served(ctx.run_dir, event.ifname, arrival):
                log.debug("%s: %s already covered by a later run", event.ifname, event.reason)
                yield False
                return
            coalesce.start_serving(ctx.run_dir, event.ifname)
        yield True


def reconcile(ctx: RunContext, desired: Desired, event: Event, *, prune: bool = False,
              dry_run: bool = False,
              open_netlink: NetlinkFactory = open_kernel) -> RunResult:
    """Make the kernel hold ``desired`` (already narrowed to the event's interface). The
    caller holds the run lock (:func:`exclusive`)."""
    started = time.monotonic()
    record = _record(ctx)
    netlink = open_netlink()
    try:
        prunable = _in_scope(record.owned, event.ifname) if prune else frozenset()
        observed = observe_scope(netlink, desired, (*prunable, *record.pending))
        observed_at = time.monotonic()
        owned = _settle(ctx, record, observed, dry_run)
        leftovers = _in_scope(owned, event.ifname) if prune else frozenset()
        allowed, withheld = respect_lease(desired, observed, event)
        the_plan = make_plan(allowed, observed, leftovers)
        the_plan = Plan(the_plan.ops, the_plan.skipped + withheld)
        report = (ApplyReport() if dry_run
                  else _apply(ctx, the_plan, netlink, owned, event.describe()))
    finally:
        netlink.close()
    applied_at = time.monotonic()
    result = RunResult(the_plan, report, dry_run)
    if not dry_run:
        if report.results:
            ownership.save(ctx.state_dir, _owned_after(owned, report))
            counters.add(ctx.state_dir, _restored(report, event))
        durations = {"observe_ms": _ms(observed_at - started),
                     "apply_ms": _ms(applied_at - observed_at),
                     "total_ms": _ms(time.monotonic() - started)}
        journal.append(ctx.state_dir, _journal_entry(event, result, durations))
    _log_summary(event, result)
    return result


def _record(ctx: RunContext) -> ownership.Record:
    """The ownership record; an unreadable one is moved aside with one line, and the run
    goes on adding what is missing: only what was recorded in it can no longer be
    pruned."""
    try:
        return ownership.load_record(ctx.state_dir)
    except StateError as exc:
        aside = ownership.move_aside(ctx.state_dir)
        log.error("%s; moved aside to %s: what nethook added before can no longer be "
                  "pruned, the rest goes on", exc, aside)
        return ownership.Record()


def _settle(ctx: RunContext, record: ownership.Record, observed: Observed,
            dry_run: bool) -> FrozenSet[KernelObject]:
    """A run killed half way left its intent: what it added is nethook's now."""
    if not record.pending:
        return record.owned
    settled = record.settled(observed)
    adopted = len(settled.owned) - len(record.owned)
    log.warning("the previous run stopped before it finished; %d of the %d object(s) it "
                "meant to add are in the kernel and are nethook's own", adopted,
                len(record.pending))
    if not dry_run:
        ownership.save(ctx.state_dir, settled.owned)
    return settled.owned


def _apply(ctx: RunContext, the_plan: Plan, netlink: Netlink,
           owned: FrozenSet[KernelObject], why: str) -> ApplyReport:
    """Record the intent (flushed to disk) before the kernel changes, then apply."""
    intent = [op.target for op in the_plan.ops
              if op.verb is Verb.ADD and _from_a_file(op.target)]
    if intent:
        ownership.save(ctx.state_dir, owned, pending=intent)
    return apply(the_plan, netlink, why)


def _restored(report: ApplyReport, event: Event) -> Dict[Tuple[str, str], int]:
    """How many objects this run put back, per interface and the event's source."""
    found: Dict[Tuple[str, str], int] = {}
    for result in report.applied:
        if result.op.verb is not Verb.DELETE:
            key = (result.op.ifname or "", event.source)
            found[key] = found.get(key, 0) + 1
    return found


def _from_a_file(obj: KernelObject) -> bool:
    return not (obj.origin is not None and obj.origin.from_snapshot)


def _in_scope(owned: FrozenSet[KernelObject], ifname: Optional[str]) -> FrozenSet[KernelObject]:
    if ifname is None:
        return owned
    return frozenset(o for o in owned if getattr(o, "ifname", None) == ifname)


def _owned_after(owned: FrozenSet[KernelObject], report: ApplyReport) -> FrozenSet[KernelObject]:
    """Ownership by origin: what nethook added from a file (its configuration or an
    import) is its own, and ``--prune`` may remove it once no file declares it; what it
    put back from a snapshot was the administrator's, and is never recorded."""
    added = {r.op.target for r in report.applied
             if r.op.verb is Verb.ADD and _from_a_file(r.op.target)}
    gone = {r.op.target for r in report.results
            if r.op.verb is Verb.DELETE and r.status is not Status.FAILED}
    return frozenset((owned - gone) | added)


def _journal_entry(event: Event, result: RunResult,
                   durations: Dict[str, float]) -> Dict[str, object]:
    return {
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "event": event.to_dict(),
        "plan": list(result.plan.describe()),
        "skipped": [f"{s.target.describe()}: {s.reason}" for s in result.plan.skipped],
        "results": [_result_dict(r) for r in result.report.results],
        "durations": durations,
        "exit": int(result.exit_code),
    }


def _result_dict(result: OpResult) -> Dict[str, object]:
    entry: Dict[str, object] = {"op": result.op.describe(), "status": result.status.value}
    if result.op.ifname:
        entry["ifname"] = result.op.ifname
    if result.status is Status.FAILED:
        entry["error"] = result.reason
    return entry


def _log_summary(event: Event, result: RunResult) -> None:
    scope = event.ifname or "all interfaces"
    for skipped in result.plan.skipped:
        log.warning("%s: cannot restore %s: %s", scope, skipped.target.describe(), skipped.reason)
    if result.dry_run:
        log.info("%s: %d operation(s) would run after %s", scope, len(result.plan.ops),
                 event.describe())
        return
    done = _count_kinds(r for r in result.report.applied)
    if done:
        log.info("%s: %s after %s", scope, done, event.describe())
    elif not result.plan.ops and not result.plan.skipped:
        log.info("%s: nothing missing after %s", scope, event.describe())
    elif not result.plan.ops:
        log.info("%s: nothing restored now after %s; %d object(s) held back", scope,
                 event.describe(), len(result.plan.skipped))
    if result.report.failed:
        log.warning("%s: %d operation(s) failed", scope, len(result.report.failed))


_PLURAL = {"address": "addresses", "route": "routes", "rule": "rules"}


def _count_kinds(results: Iterable[OpResult]) -> str:
    """``restored 2 addresses, 1 rule``: what an administrator reads in syslog."""
    counts = Counter(("removed" if r.op.verb is Verb.DELETE else "restored",
                      type(r.op.target).__name__.lower()) for r in results)
    phrases = []
    for verb in ("restored", "removed"):
        kinds = [f"{n} {kind if n == 1 else _PLURAL[kind]}"
                 for kind in _PLURAL for (v, k), n in counts.items() if (v, k) == (verb, kind)]
        if kinds:
            phrases.append(f"{verb} {', '.join(kinds)}")
    return "; ".join(phrases)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)

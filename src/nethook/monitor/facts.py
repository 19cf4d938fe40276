"""What ``status``, ``check`` and ``metrics`` report: gathered once, from the one assembly.

:func:`gather` assembles the desired state (``engine.desired.assemble``), reads the kernel
for it, assesses every object as the planner does, asks the services what they listen
on, reads the journal, the restore counters and the watcher. A check that cannot run
(the kernel, or nethook's directories, unreadable) raises; an invalid configuration does
not: it is a fact of its own, and the snapshots still count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Mapping, Optional, Tuple

from nethook.base.context import RunContext
from nethook.base.errors import UsageError
from nethook.engine import counters, journal
from nethook.engine.desired import Assembly, assemble
from nethook.engine.plan import Assessment, State, assess
from nethook.engine.reconcile import NetlinkFactory, observe_scope, open_kernel
from nethook.services import status as services
from nethook.services.status import ServiceStatus
from nethook.watch import status as watcher

RECENT = timedelta(hours=24)


@dataclass(frozen=True)
class Facts:
    scope: Optional[str]
    assembly: Assembly
    assessments: Tuple[Assessment, ...]
    services: Tuple[ServiceStatus, ...]
    warnings: Tuple[str, ...]  # the services' configuration files not understood
    last_events: Mapping[str, Mapping[str, Any]]  # the newest journal entry per interface
    restored_recent: Mapping[str, int]  # objects restored in the last 24 h, per interface
    restores_total: Mapping[Tuple[str, str], int]  # (interface, source) -> objects
    watcher: Mapping[str, Any] = field(default_factory=dict)

    @property
    def missing(self) -> Tuple[Assessment, ...]:
        return tuple(a for a in self.assessments if a.state is not State.PRESENT)

    @property
    def deaf(self) -> Tuple[ServiceStatus, ...]:
        """Watched services not heard on every kept address: missing, or unreadable."""
        return tuple(s for s in self.services if not s.complete)

    @property
    def config_valid(self) -> bool:
        return self.assembly.error is None


def gather(ctx: RunContext, scope: Optional[str] = None, *,
           open_netlink: NetlinkFactory = open_kernel,
           now: Optional[datetime] = None) -> Facts:
    """Everything the monitoring verbs report, for one interface or for all."""
    assembly = assemble(ctx, scope)
    desired = assembly.desired
    netlink = open_netlink()
    try:
        observed = observe_scope(netlink, desired)
    finally:
        netlink.close()
    if scope is not None and scope not in assembly.interfaces and not observed.has_link(scope):
        raise UsageError(f"{scope}: no such interface, and nothing is kept on it")
    listening, warnings = services.assess(ctx.root, assembly.config.services, sorted(
        desired.addresses, key=lambda a: (a.ifname, a.family, a.interface)))
    entries = list(journal.entries(ctx.state_dir))
    since = (now or datetime.now(timezone.utc)) - RECENT
    return Facts(scope, assembly, assess(desired, observed), tuple(listening),
                 tuple(warnings), _last_events(entries, scope),
                 _restored_since(entries, since, scope), counters.load(ctx.state_dir),
                 watcher.report(ctx))


def _interfaces_of(entry: Mapping[str, Any], scope: Optional[str]) -> List[str]:
    """The interfaces in scope an entry is about: its event's, or (a run over every
    interface) those its operations touched."""
    named = (entry.get("event") or {}).get("ifname")
    names = [named] if isinstance(named, str) and named else sorted(
        {r["ifname"] for r in entry.get("results") or []
         if isinstance(r, dict) and isinstance(r.get("ifname"), str)})
    return [n for n in names if scope is None or n == scope]


def _last_events(entries: List[Dict[str, Any]],
                 scope: Optional[str]) -> Dict[str, Dict[str, Any]]:
    last: Dict[str, Dict[str, Any]] = {}
    for entry in entries:
        for ifname in _interfaces_of(entry, scope):
            last[ifname] = entry
    return last


def _restored_since(entries: List[Dict[str, Any]], since: datetime,
                    scope: Optional[str]) -> Dict[str, int]:
    found: Dict[str, int] = {}
    for entry in entries:
        when = entry_time(entry)
        if when is None or when < since:
            continue
        named = (entry.get("event") or {}).get("ifname")
        for result in entry.get("results") or []:
            if not isinstance(result, dict) or result.get("status") != "applied" \
                    or " del " in str(result.get("op")):
                continue
            ifname = result.get("ifname") or named
            if isinstance(ifname, str) and (scope is None or ifname == scope):
                found[ifname] = found.get(ifname, 0) + 1
    return found


def entry_time(entry: Mapping[str, Any]) -> Optional[datetime]:
    return journal.time_of(entry.get("time"))

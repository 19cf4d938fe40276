"""When the watcher restores which interface, and with which event (pure: times passed in).

* **No quiet period.** A loss seen on netlink makes the interface due at once. The
  daemon reads the netlink socket until it has nothing pending before it runs anything,
  so everything the kernel had said by then (a flush is one message per address, a
  lease change several) is covered by the one run; what is lost while a run is in
  flight is covered by one more run right after it.
* **Stack events** (a hook's event, a D-Bus lease change or activation) are due at once
  and carry the lease facts the planner respects. They are the same restore a hook
  would run without a watcher: neither holds nor loop protection delay them. The newest
  stack event of a burst is the one the run records.
* **Holds.** While a network stack is in the middle of its own change, netlink losses
  on that interface wait: between dhclient's enter and exit hooks (at most
  ``PREPARE_HOLD``), after a teardown (EXPIRE, RELEASE, NetworkManager's ``down``) until
  the next configure event, while NetworkManager's device is not activated or networkd
  is configuring the link, and while the link is down.
* **Lease.** A netlink-triggered run carries the interface's last known lease (the newest
  dynamic address seen, or a stack event's), so a same-subnet alias never goes back
  before the lease is up, where it would become the subnet's primary address. When a
  run leaves something missing, the next address the interface gains triggers another.
* **Loop protection** (``backoff``) holds back objects another program keeps deleting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, List, Optional, Set

from nethook.events import Event, Kind
from nethook.model.objects import IPInterface, KernelObject
from nethook.watch.backoff import Backoff

PREPARE_HOLD = 30.0
ERROR_RETRY = (1.0, 60.0)  # first and longest wait after a run that raised
NETLINK_SOURCE = "netlink"


@dataclass
class Pending:
    due: float
    reason: str
    event: Optional[Event] = None  # a stack event; None: a netlink-triggered run
    lost: Set[KernelObject] = field(default_factory=set)
    unspecific: bool = False  # a trigger that names no object (link up, an address gone)
    waiters: List[object] = field(default_factory=list)


@dataclass(frozen=True)
class Job:
    """One restore to run: ``event`` as the hooks would get it, minus ``withhold``."""

    ifname: str
    event: Event
    withhold: FrozenSet[KernelObject]
    waiters: List[object]


class Schedule:
    def __init__(self, backoff: Optional[Backoff] = None) -> None:
        self.backoff = backoff or Backoff()
        self.pending: Dict[str, Pending] = {}
        self.holds: Dict[str, Dict[str, float]] = {}
        self.running: Set[str] = set()
        # What a run in flight is putting back: a competitor's removal of it may well be
        # read before the run's end is, and is a removal right after a restore all the same.
        self.restoring: Dict[str, FrozenSet[KernelObject]] = {}
        self.leases: Dict[str, IPInterface] = {}
        self.incomplete: Set[str] = set()
        self.errors: Dict[str, int] = {}

    # -- what happened ---------------------------------------------------------------------

    def lost(self, ifname: str, obj: Optional[KernelObject], reason: str,
             now: float) -> Optional[str]:
        """A kept object (or, ``obj`` None, something its routes may depend on) went
        away on netlink. Returns the loop-protection warning to log, once per fight."""
        warning = None
        if obj is not None and not self.held(ifname, now):
            if obj in self.restoring.get(ifname, ()):
                self.backoff.restored([obj], now)
            warning = self.backoff.removed(obj, now)
        pending = self._pend(ifname, now, reason)
        if obj is not None:
            pending.lost.add(obj)
        else:
            pending.unspecific = True
        return warning

    def stack_event(self, event: Event, now: float, waiter: Optional[object] = None) -> None:
        """A hook's or a D-Bus event for ``event.ifname``, by kind."""
        assert event.ifname is not None
        ifname = event.ifname
        if event.kind is Kind.PREPARE:
            self.hold(ifname, "dhclient", now + PREPARE_HOLD)
            return
        if event.kind is Kind.TEARDOWN:
            self.release(ifname, "dhclient")
            self.hold(ifname, "teardown")
            return
        self.release(ifname, "dhclient")
        self.release(ifname, "teardown")
        if event.new_address is not None and event.new_address.version == 4:
            self.leases[ifname] = event.new_address
        pending = self._pend(ifname, now, event.reason)
        pending.due = min(pending.due, now)
        pending.event = event
        if waiter is not None:
            pending.waiters.append(waiter)

    def address_seen(self, ifname: str, interface: IPInterface, dynamic: bool,
                     now: float) -> None:
        """An address appeared: a new lease, or what a withheld alias waited for."""
        if dynamic and interface.version == 4:
            self.leases[ifname] = interface
        if ifname in self.incomplete:
            self._pend(ifname, now, "address added").unspecific = True

    def hold(self, ifname: str, why: str, until: float = math.inf) -> None:
        self.holds.setdefault(ifname, {})[why] = until

    def release(self, ifname: str, why: str) -> None:
        self.holds.get(ifname, {}).pop(why, None)

    def held(self, ifname: str, now: float) -> bool:
        holds = self.holds.get(ifname)
        if not holds:
            return False
        for why in [w for w, until in holds.items() if until <= now]:
            del holds[why]
        return bool(holds)

    def _pend(self, ifname: str, due: float, reason: str) -> Pending:
        """The interface's pending run; a new one is due at ``due``. One already pending
        keeps its time: a retry after an error or a backoff wait is not hurried."""
        pending = self.pending.get(ifname)
        if pending is None:
            pending = self.pending[ifname] = Pending(due=due, reason=reason)
        return pending

    # -- what to run -------------------------------------------------------------------------

    def _ready_at(self, ifname: str, pending: Pending, now: float) -> float:
        """When ``pending`` may run (inf: only when a hold is released)."""
        if pending.event is not None or not self.held(ifname, now):
            return pending.due
        return min(self.holds[ifname].values())  # an expiring hold; inf if none expires

    def next_due(self, now: float) -> Optional[float]:
        times = [self._ready_at(name, p, now) for name, p in self.pending.items()
                 if name not in self.running]
        finite = [t for t in times if t != math.inf]
        return min(finite) if finite else None

    def take_due(self, now: float) -> List[Job]:
        jobs = []
        for ifname, pending in list(self.pending.items()):
            if ifname in self.running or self._ready_at(ifname, pending, now) > now:
                continue
            del self.pending[ifname]
            job = self._job(ifname, pending, now)
            if job is not None:
                self.running.add(ifname)
                jobs.append(job)
        return jobs

    def _job(self, ifname: str, pending: Pending, now: float) -> Optional[Job]:
        """The run ``pending`` asks for; None when loop protection holds back all of it
        (it is pending again for when the wait is over)."""
        withhold: FrozenSet[KernelObject] = frozenset()
        if pending.event is not None:
            event = pending.event
        else:
            event = Event(source=NETLINK_SOURCE, kind=Kind.CONFIGURE, reason=pending.reason,
                          ifname=ifname, new_address=self.leases.get(ifname))
            withhold = self.backoff.held(pending.lost, now)
        if withhold:  # come back for them when the wait is over
            later = self._pend(ifname, self.backoff.release_time(withhold) or now,
                               "backoff over")
            later.lost.update(withhold)
            if withhold == pending.lost and not pending.unspecific:
                later.waiters.extend(pending.waiters)
                return None
        self.restoring[ifname] = frozenset(pending.lost - withhold)
        return Job(ifname, event, withhold, pending.waiters)

    def finished(self, job: Job, restored: FrozenSet[KernelObject], missing: bool,
                 now: float) -> None:
        """The job ran: what it added, and whether anything is still missing."""
        self.running.discard(job.ifname)
        self.restoring.pop(job.ifname, None)
        self.errors.pop(job.ifname, None)
        self.backoff.restored(restored, now)
        if missing:
            self.incomplete.add(job.ifname)
        else:
            self.incomplete.discard(job.ifname)

    def failed(self, job: Job, now: float) -> float:
        """The job raised: try again later, waiting longer each time; returns the wait."""
        self.running.discard(job.ifname)
        self.restoring.pop(job.ifname, None)
        count = self.errors[job.ifname] = self.errors.get(job.ifname, 0) + 1
        wait = min(ERROR_RETRY[0] * (1 << (count - 1)), ERROR_RETRY[1])
        pending = self._pend(job.ifname, now + wait, job.event.reason)
        pending.due = max(pending.due, now + wait)
        if job.event.source != NETLINK_SOURCE and pending.event is None:
            pending.event = job.event
        return wait

    def forget(self, ifname: str) -> None:
        """Nothing on the interface is kept any more (after a reload)."""
        self.pending.pop(ifname, None)
        self.incomplete.discard(ifname)

    def describe_holds(self, now: float) -> Dict[str, List[str]]:
        return {name: sorted(holds) for name, holds in self.holds.items()
                if self.held(name, now)}

    def snapshot(self) -> Dict[str, object]:
        return {"pending": sorted(self.pending), "running": sorted(self.running),
                "incomplete": sorted(self.incomplete),
                "leases": {k: v.with_prefixlen for k, v in self.leases.items()}}

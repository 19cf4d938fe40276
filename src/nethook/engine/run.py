"""The one use case: an event arrived. Every hook, the watcher and ``replay`` end here.

The sequence, whoever calls:

1. scope: the event's interface;
2. a call that comes before a removal (Debian's enter hook, RHEL's ``_restore``,
   ``nethook snapshot``) takes the snapshot, under the run lock, and stops;
3. a teardown after the removal restores nothing: the snapshot waits for the next lease;
4. anything else restores: count the event in (a burst is coalesced), assemble the
   desired state once (configuration, imports, the pending snapshot), then lock,
   observe, respect the lease, plan, apply, record what nethook owns, journal;
5. a snapshot that is all back in the kernel is consumed;
6. the services step: daemons that must listen on the interface's addresses are
   checked by a detached process.

Nothing here knows which stack sent the event.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import FrozenSet, Optional

from nethook.base.context import RunContext
from nethook.base.errors import StateError
from nethook.base.lock import RunLock
from nethook.engine import coalesce, journal, ownership, snapshot, snapshot_file
from nethook.engine.desired import Assembly, assemble
from nethook.engine.reconcile import (
    NetlinkFactory,
    RunResult,
    exclusive,
    open_kernel,
    reconcile,
)
from nethook.events import Event, Kind
from nethook.model.objects import Address, Desired, KernelObject
from nethook.model.ops import Verb

log = logging.getLogger(__name__)


def handle(ctx: RunContext, event: Event, *, open_netlink: NetlinkFactory = open_kernel,
           base: Optional[Assembly] = None,
           deadline: Optional[float] = None) -> Optional[RunResult]:
    """Everything after translation, shared by every source. ``base``: the watcher's
    assembly of configuration and imports; ``deadline``: see :func:`take_snapshot`."""
    if event.snapshot_first:
        take_snapshot(ctx, event, open_netlink=open_netlink, base=base, deadline=deadline)
        return None
    if event.kind is Kind.TEARDOWN:
        log.info("%s: %s: nothing to restore now; the snapshot is kept for the next lease",
                 event.ifname, event.describe())
        journal_only(ctx, event, "kept snapshot")
        return None
    return restore(ctx, event, open_netlink=open_netlink, base=base)


def restore(ctx: RunContext, event: Event, *, dry_run: bool = False, replay: bool = False,
            open_netlink: NetlinkFactory = open_kernel, base: Optional[Assembly] = None,
            withhold: FrozenSet[KernelObject] = frozenset()) -> Optional[RunResult]:
    """Reconcile one interface. A hook's run is coalesced with a burst of others; a
    replay is not, and may use the snapshot a previous run consumed.

    ``withhold``: objects the watcher's loop protection holds back this time; they
    count as missing. Returns None when a later run already covered this event.
    """
    assert event.ifname is not None
    arrival = None if replay else coalesce.arrive(ctx.run_dir, event.ifname)
    with exclusive(ctx, event, arrival) as go:
        if not go:
            return None
        assembly = assemble(ctx, event.ifname, base=base, consumed_too=replay)
        if assembly.config_error is not None:
            log.error("invalid configuration, restoring the snapshot only: %s",
                      assembly.config_error)
        elif assembly.import_error is not None:
            log.error("%s; restoring nethook.yaml's objects and the snapshot only",
                      assembly.import_error)
        desired = assembly.desired.without(withhold)
        result = reconcile(ctx, desired, event, dry_run=dry_run, open_netlink=open_netlink)
        if not dry_run:
            settle_snapshots(ctx, assembly, result, withhold)
    if not dry_run:
        services_step(ctx, assembly, event.ifname, result)
    return result


def apply_all(ctx: RunContext, assembly: Assembly, event: Event, *, prune: bool,
              dry_run: bool, open_netlink: NetlinkFactory = open_kernel) -> RunResult:
    """``nethook apply`` and ``plan``: the whole assembly (or one interface of it). Its
    snapshots are read again under the run lock, with the configuration as it was."""
    with exclusive(ctx, event) as go:
        assert go  # only a coalesced hook run is ever covered by another
        assembly = assemble(ctx, assembly.scope, base=assembly)
        result = reconcile(ctx, assembly.desired, event, prune=prune, dry_run=dry_run,
                           open_netlink=open_netlink)
        if not dry_run:
            settle_snapshots(ctx, assembly, result)
    if not dry_run:
        for ifname in sorted(assembly.interfaces):
            services_step(ctx, assembly, ifname, result)
    return result


def settle_snapshots(ctx: RunContext, assembly: Assembly, result: RunResult,
                     withhold: FrozenSet[KernelObject] = frozenset()) -> None:
    """Consume every pending snapshot whose objects are all in the kernel now."""
    still_missing = set(result.missing) | set(withhold)
    for name, taken in assembly.snapshots.items():
        if not still_missing & set(taken.objects()):
            snapshot_file.consume(ctx.run_dir, name)
            log.debug("%s: snapshot restored in full, consumed", name)


def services_step(ctx: RunContext, assembly: Assembly, ifname: str,
                  result: RunResult) -> None:
    """Daemons that must listen on the interface's addresses: verified now, and checked by
    a detached process when one is deaf or an address came back (services.trigger)."""
    from nethook.services import trigger

    missing = set(result.missing)
    present = [a for a in assembly.desired.addresses
               if a.ifname == ifname and a not in missing]
    restored = [r.op.target for r in result.report.applied
                if isinstance(r.op.target, Address) and r.op.verb is not Verb.DELETE
                and r.op.target.ifname == ifname]
    settings = assembly.config.services if assembly.error is None else None
    trigger.after_run(ctx, ifname, present, restored, settings)


def take_snapshot(ctx: RunContext, event: Event, *,
                  open_netlink: NetlinkFactory = open_kernel,
                  base: Optional[Assembly] = None, deadline: Optional[float] = None) -> None:
    """Record what the coming removal may take. ``deadline`` (``time.monotonic()``): the
    watcher's, when a hook waits for it; past it, the hook has taken the snapshot itself
    and this one is not taken.

    Only the family the event concerns is taken (a DHCPv4 event never removes IPv6
    state); the pending snapshot's other family is kept as it was.
    """
    assert event.ifname is not None
    ifname = event.ifname
    config = (base or assemble(ctx, ifname, imports=False)).config
    if not config.snapshot_enabled(ifname):
        return
    families = (event.family,) if event.family is not None else snapshot.BOTH_FAMILIES
    wait = ctx.lock_timeout if deadline is None else max(deadline - time.monotonic(), 0.0)
    with RunLock(ctx.run_dir, wait):
        if deadline is not None and time.monotonic() > deadline:
            log.debug("%s: the hook stopped waiting; it takes the snapshot", ifname)
            return
        netlink = open_netlink()
        try:
            observed = netlink.observe([ifname], None)
        finally:
            netlink.close()
        if snapshot.is_stripped(observed, ifname, families):
            # After EXPIRE the kernel has already dropped the aliases: keep what we had.
            log.debug("%s: no address left before %s; keeping the previous snapshot",
                      ifname, event.reason)
            journal_only(ctx, event, "kept snapshot (interface already stripped)")
            return
        lease = [a for a in (event.old_address, event.new_address) if a is not None]
        state = snapshot.take(observed, ifname, lease, families, owned=_owned(ctx))
        previous = _previous(ctx, ifname) if len(families) == 1 else None
        for other in (f for f in snapshot.BOTH_FAMILIES if f not in families):
            if previous is not None:
                state = state.merged(previous.of_family(other))
        snapshot_file.check_size(state, ifname)
        snapshot_file.save(ctx.run_dir, ifname, state, event.reason)
        count = len(state.objects())
        log.debug("%s: snapshot of %d object(s) before %s", ifname, count, event.reason)
        journal_only(ctx, event, f"snapshot of {count} object(s)")


def _previous(ctx: RunContext, ifname: str) -> Optional[Desired]:
    """The pending snapshot (read under the run lock), whose other family is kept."""
    try:
        return snapshot_file.load(ctx.run_dir, ifname)
    except StateError as exc:
        log.error("%s: %s; a new one is taken", ifname, exc)
        return None


def _owned(ctx: RunContext) -> FrozenSet[KernelObject]:
    try:
        return ownership.load(ctx.state_dir)
    except StateError as exc:
        log.warning("%s; the snapshot may hold objects nethook added", exc)
        return frozenset()


def journal_only(ctx: RunContext, event: Event, action: str) -> None:
    journal.append(ctx.state_dir, {
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "event": event.to_dict(), "action": action})

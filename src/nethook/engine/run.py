"""The hook boundary: one Event in, the shared core after it, status 0 out whatever happens.

Network stacks call this through the shims in ``hooks/``. A hook must never break or hang
its caller: every failure is logged (syslog, ident ``nethook``) and swallowed here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Dict, FrozenSet, Optional, Tuple

from nethook.base.context import RunContext
from nethook.base.errors import ConfigError
from nethook.engine import journal
from nethook.events import Event, Kind
from nethook.model.objects import Desired, KernelObject

if TYPE_CHECKING:
    from nethook.config.load import Config
    from nethook.engine.reconcile import NetlinkFactory, RunResult

log = logging.getLogger(__name__)
HOOK_LOCK_TIMEOUT = 8.0  # the shims allow 15 s in all; a hook gives up on the lock first

Translator = Callable[[Sequence[str], Mapping[str, str]], Optional[Event]]


def _dhclient_enter(argv: Sequence[str], env: Mapping[str, str]) -> Optional[Event]:
    from nethook.events import dhclient
    return dhclient.from_env(env, "enter")


def _dhclient_exit(argv: Sequence[str], env: Mapping[str, str]) -> Optional[Event]:
    from nethook.events import dhclient
    return dhclient.from_env(env, "exit")


def _dhclient_rhel(argv: Sequence[str], env: Mapping[str, str]) -> Optional[Event]:
    from nethook.events import dhclient
    return dhclient.from_rhel(env, argv[0] if argv else "")


def _networkmanager(argv: Sequence[str], env: Mapping[str, str]) -> Optional[Event]:
    from nethook.events import networkmanager
    return networkmanager.from_argv(argv, env)


def _ifupdown(argv: Sequence[str], env: Mapping[str, str]) -> Optional[Event]:
    from nethook.events import ifupdown
    return ifupdown.from_env(env)


def _networkd(argv: Sequence[str], env: Mapping[str, str]) -> Optional[Event]:
    from nethook.events import networkd
    return networkd.from_env(env)


TRANSLATORS: Dict[str, Translator] = {
    "dhclient-enter": _dhclient_enter,
    "dhclient-exit": _dhclient_exit,
    "dhclient-rhel": _dhclient_rhel,
    "networkmanager": _networkmanager,
    "ifupdown": _ifupdown,
    "networkd": _networkd,
}


def run_hook(source: str, argv: Sequence[str], env: Mapping[str, str],
             ctx: RunContext) -> int:
    """Translate and handle one hook call. Always returns 0."""
    try:
        event = TRANSLATORS[source](argv, env)
        if event is None or _forwarded(ctx, event):
            return 0
        handle(ctx, event)
    except Exception:  # the hook boundary: never fail the caller
        log.exception("hook %s failed; the interface was left as it was", source)
    return 0


def _forwarded(ctx: RunContext, event: Event) -> bool:
    """A running watcher took the event (it answers in milliseconds, or not at all)."""
    from nethook.watch import client

    return client.forward(ctx.run_dir, event) is not None


def handle(ctx: RunContext, event: Event,
           open_netlink: Optional[NetlinkFactory] = None) -> None:
    """Everything after translation is shared by every source (and by replay)."""
    if event.kind is Kind.PREPARE:
        take_snapshot(ctx, event, open_netlink)
    elif event.kind is Kind.TEARDOWN:
        log.info("%s: %s: nothing to restore now; the snapshot is kept for the next lease",
                 event.ifname, event.describe())
        _journal_only(ctx, event, "kept snapshot")
    else:
        restore(ctx, event, open_netlink=open_netlink)


def restore(ctx: RunContext, event: Event, *, dry_run: bool = False, replay: bool = False,
            open_netlink: Optional[NetlinkFactory] = None, config: Optional[Config] = None,
            withhold: FrozenSet[KernelObject] = frozenset()) -> Optional[RunResult]:
    """Reconcile one interface. A hook's run is coalesced with a burst of others, and
    consumes the snapshot once all of it is back; a replay does neither.

    The watcher passes its loaded ``config``, and in ``withhold`` the objects its loop
    protection holds back this time; they count as missing.
    """
    from nethook.engine import coalesce, snapshot
    from nethook.engine.reconcile import open_kernel, reconcile

    assert event.ifname is not None
    arrival = None if replay else coalesce.arrive(ctx.run_dir, event.ifname)
    declared, taken = desired_parts(ctx, event.ifname, config, consumed_too=replay)
    desired = declared if taken is None else declared.merged(taken)
    if withhold:
        desired = Desired(addresses=desired.addresses - withhold,
                          routes=desired.routes - withhold, rules=desired.rules - withhold)
    result = reconcile(ctx, desired, event, dry_run=dry_run, arrival=arrival,
                       open_netlink=open_netlink or open_kernel)
    if not (dry_run or replay) and _fully_restored(result, taken, withhold):
        snapshot.consume(ctx.run_dir, event.ifname)
    if result is not None and not dry_run:
        from nethook.services import trigger

        # Daemons bound to what came back are checked by a detached process.
        trigger.after_restore(ctx, event.ifname, result)
    return result


def _fully_restored(result: Optional[RunResult], taken: Optional[Desired],
                    withhold: FrozenSet[KernelObject] = frozenset()) -> bool:
    """Every snapshot object is in the kernel after this run (a coalesced run: unknown)."""
    if result is None or taken is None:
        return False
    return not (set(result.missing) | withhold) & set(taken.objects())


def desired_for(ctx: RunContext, ifname: str, config: Optional[Config] = None) -> Desired:
    """What a hook would restore on ``ifname`` now: declared state and a fresh snapshot."""
    declared, taken = desired_parts(ctx, ifname, config)
    return declared if taken is None else declared.merged(taken)


def desired_parts(ctx: RunContext, ifname: str, config: Optional[Config] = None,
                  consumed_too: bool = False) -> Tuple[Desired, Optional[Desired]]:
    """Declared and imported state, and the snapshot (``config``: already loaded).

    A bad configuration, or a distro file that cannot be read, still lets the snapshot
    restore: nothing declared is taken for absent, and nothing is ever removed here.
    """
    from nethook.engine import snapshot
    from nethook.engine.desired import load_config

    declared = Desired()
    use_snapshot = True
    try:
        config = config or load_config(ctx)
        declared = config.desired.scoped(ifname)
        use_snapshot = config.snapshot_interfaces.get(ifname, config.snapshot)
    except ConfigError as exc:
        log.error("invalid configuration, restoring the snapshot only: %s", exc)
    taken = snapshot.load(ctx.run_dir, ifname, consumed_too) if use_snapshot else None
    return declared, taken


def take_snapshot(ctx: RunContext, event: Event,
                  open_netlink: Optional[NetlinkFactory] = None,
                  config: Optional[Config] = None, deadline: Optional[float] = None) -> None:
    """``deadline`` (``time.monotonic()``): the watcher's, when a hook waits for it; past
    it, the hook has taken the snapshot itself and this one is not taken."""
    from nethook.base.lock import RunLock
    from nethook.engine import snapshot
    from nethook.engine.reconcile import open_kernel

    assert event.ifname is not None
    if not (config.snapshot_enabled(event.ifname) if config is not None
            else _snapshot_enabled(ctx, event.ifname)):
        return
    wait = ctx.lock_timeout if deadline is None else max(deadline - time.monotonic(), 0.0)
    with RunLock(ctx.run_dir, wait):
        if deadline is not None and time.monotonic() > deadline:
            log.debug("%s: the hook stopped waiting; it takes the snapshot", event.ifname)
            return
        netlink = (open_netlink or open_kernel)()
        try:
            observed = netlink.observe([event.ifname], None)
        finally:
            netlink.close()
        if snapshot.is_stripped(observed, event.ifname):
            # After EXPIRE the kernel has already dropped the aliases: keep what we had.
            log.debug("%s: no address left before %s; keeping the previous snapshot",
                      event.ifname, event.reason)
            _journal_only(ctx, event, "kept snapshot (interface already stripped)")
            return
        lease = [a for a in (event.old_address, event.new_address) if a is not None]
        state = snapshot.take(observed, event.ifname, lease)
        snapshot.save(ctx.run_dir, event.ifname, state, event.reason)
        log.debug("%s: snapshot of %d object(s) before %s", event.ifname,
                  len(state.objects()), event.reason)
        _journal_only(ctx, event, f"snapshot of {len(state.objects())} object(s)")


def _snapshot_enabled(ctx: RunContext, ifname: str) -> bool:
    from nethook.engine.desired import load_config

    try:
        config = load_config(ctx, imports=False)  # only the snapshot setting is needed
    except ConfigError as exc:
        log.error("invalid configuration (snapshot still taken): %s", exc)
        return True
    return bool(config.snapshot_interfaces.get(ifname, config.snapshot))


def _journal_only(ctx: RunContext, event: Event, action: str) -> None:
    journal.append(ctx.state_dir, {
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "event": event.to_dict(), "action": action})

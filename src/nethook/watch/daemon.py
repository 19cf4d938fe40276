"""The watcher's process: one asyncio loop, one worker thread, no state but memory.

The loop reads rtnetlink notifications, answers hooks on the unix socket, follows D-Bus
and keeps the schedule; the worker runs the restores (``engine.run.restore``, the hooks' own)
and the snapshots. Signals: SIGHUP re-reads the configuration (a bad one is reported and
the previous one kept), SIGTERM and SIGINT stop after the run in hand. Under systemd
(``Type=notify``) it says READY=1 once netlink, the socket and the bus are set up, and
pings the watchdog when the unit has one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import signal
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set

from nethook.base import spawn
from nethook.base.context import RunContext
from nethook.base.errors import NethookError
from nethook.base.optional import DBUS_NEXT, DBUS_NEXT_PACKAGE, is_missing
from nethook.engine import run
from nethook.engine.desired import Assembly, assemble
from nethook.engine.reconcile import RunResult, open_kernel
from nethook.events import Event, Kind
from nethook.model.objects import KernelObject
from nethook.model.ops import Verb
from nethook.watch import rtnl, sdnotify, server
from nethook.watch.kept import Kept
from nethook.watch.schedule import Job, Schedule
from nethook.watch.worker import SNAPSHOT, Worker

log = logging.getLogger(__name__)

WATCH_LOCK_TIMEOUT = 5.0  # a hook that found no watcher may hold the run lock
STOP_TIMEOUT = 10.0
DBUS_SETTLE = 5.0  # how long READY=1 waits for the first D-Bus connection attempt


@dataclasses.dataclass(frozen=True)
class Options:
    dbus: bool = True


class Watcher:
    def __init__(self, ctx: RunContext, options: Options = Options()) -> None:
        self.ctx = dataclasses.replace(ctx, lock_timeout=WATCH_LOCK_TIMEOUT)
        self.options = options
        self.config_error: Optional[str] = None
        self.assembly = self._first_assembly()
        self.kept = Kept(self.ctx, self.assembly)
        self.schedule = Schedule()
        self.started = datetime.now(timezone.utc)
        self.runs = 0
        self._up: Dict[str, bool] = {}
        self._timer: Optional[asyncio.TimerHandle] = None
        self._tasks: List[asyncio.Future[Any]] = []
        self.dbus: Any = None  # a DBusWatch once D-Bus is followed
        self._unwritable: Set[Path] = set()  # textfile directories already warned about
        self.dbus_problem: Optional[str] = None  # why D-Bus is not followed, if it cannot be

    def _first_assembly(self) -> Assembly:
        assembly = assemble(self.ctx)
        if assembly.error is not None:
            self.config_error = str(assembly.error)
            log.error("invalid configuration: %s; keeping snapshots only until it is fixed "
                      "and the watcher reloaded", assembly.error)
        return assembly

    # -- life cycle ------------------------------------------------------------------------

    async def run(self) -> int:
        self.loop = loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.sub = rtnl.Subscription(lambda ifname: ifname in self.schedule.incomplete)
        try:
            self._initial_state()
            self.worker = Worker(loop)
            loop.add_reader(self.sub.fileno(), self._on_netlink)
            self.server = await server.start(self.ctx.run_dir, self._on_request)
            await self._start_dbus()
            for signum, handler in ((signal.SIGHUP, self.reload), (signal.SIGTERM, self.stop),
                                    (signal.SIGINT, self.stop)):
                loop.add_signal_handler(signum, handler)
            self._start_watchdog()
            sdnotify.notify(f"READY=1\nSTATUS={self.status_line()}")
            log.info("watching: %s", self.status_line())
            await self._stop.wait()
        finally:
            await self._shutdown()
        return 0

    def stop(self) -> None:
        log.info("stopping")
        sdnotify.notify("STOPPING=1")
        self._stop.set()

    async def _shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._timer is not None:
            self._timer.cancel()
        if hasattr(self, "server"):
            self.server.close()
            server.remove_socket(self.ctx.run_dir)
        if hasattr(self, "worker") and not self.worker.stop(STOP_TIMEOUT):
            log.warning("a restore was still running after %.0f s", STOP_TIMEOUT)
        self.loop.remove_reader(self.sub.fileno())
        self.sub.close()

    def _initial_state(self) -> None:
        """Links that are down hold their restores; dynamic addresses are the leases."""
        self._up = dict(self.sub.up)
        names = sorted(self.kept.by_interface)
        for name in names:
            if not self._up.get(name, True):
                self.schedule.hold(name, "link down")
        netlink = open_kernel()  # also loads the adapter before the first restore needs it
        try:
            observed = netlink.observe(names, [])
        finally:
            netlink.close()
        for ifname, interface in observed.dynamic:
            if interface.version == 4:
                self.schedule.leases[ifname] = interface

    async def _start_dbus(self) -> None:
        if not self.options.dbus:
            return
        try:
            from nethook.watch.dbus_bus import DBusWatch
            from nethook.watch.dbus_networkd import NETWORK1, NetworkdFollower
            from nethook.watch.dbus_nm import NM, NMFollower
        except ImportError as exc:
            if not is_missing(exc, DBUS_NEXT):
                raise
            self.dbus_problem = f"{DBUS_NEXT_PACKAGE} is not installed"
            log.warning("NetworkManager and systemd-networkd events are not followed: %s; "
                        "watching netlink and the hooks only (install %s for them, or "
                        "run with --no-dbus)", self.dbus_problem, DBUS_NEXT_PACKAGE)
            return

        self.dbus = DBusWatch(self, {NM: NMFollower, NETWORK1: NetworkdFollower})
        self._tasks.append(asyncio.ensure_future(self.dbus.run()))
        try:
            await asyncio.wait_for(self.dbus.connected.wait(), DBUS_SETTLE)
        except asyncio.TimeoutError:
            log.warning("D-Bus did not answer within %.0f s; going on without it for now",
                        DBUS_SETTLE)

    def _start_watchdog(self) -> None:
        interval = sdnotify.watchdog_interval()
        if interval is None:
            return

        async def ping() -> None:
            while True:
                sdnotify.notify("WATCHDOG=1")
                await asyncio.sleep(interval)

        self._tasks.append(asyncio.ensure_future(ping()))

    def reload(self) -> None:
        """SIGHUP: the configuration afresh; a bad one keeps the one in use."""
        sdnotify.notify("RELOADING=1")
        assembly = assemble(self.ctx)
        if assembly.error is not None:
            self.config_error = str(assembly.error)
            log.error("invalid configuration, the watcher keeps the previous one: %s",
                      assembly.error)
        else:
            self.assembly, self.config_error = assembly, None
            self.kept = Kept(self.ctx, assembly)
            self.schedule.backoff.forget(self.kept.objects())
            for name in list(self.schedule.pending):
                if not self.kept.keeps(name):
                    self.schedule.forget(name)
            log.info("configuration reloaded: %s", self.status_line())
        sdnotify.notify(f"READY=1\nSTATUS={self.status_line()}")

    def status_line(self) -> str:
        counts = self.kept.summary()
        kept = ", ".join(f"{name} ({n})" for name, n in counts.items()) or "nothing yet"
        followed = ", ".join(self.dbus.watching() if self.dbus else []) or "none"
        return f"keeps {kept}; D-Bus: {followed}"

    # -- netlink -------------------------------------------------------------------------------

    def _on_netlink(self) -> None:
        try:
            changes = self.sub.read()
        except rtnl.Overrun:
            log.warning("the kernel dropped notifications; checking every kept interface")
            self.sub.resync()
            changes = []
            for name in self.kept.by_interface:
                self.schedule.lost(name, None, "resync", self.loop.time())
        except (OSError, ValueError) as exc:
            log.error("cannot read rtnetlink notifications: %s", exc)
            return
        if changes:
            self.kept.refresh_if_changed()
            now = self.loop.time()
            for change in changes:
                _HANDLERS[type(change)](self, change, now)
        self._arm()

    def _link(self, change: rtnl.LinkChange, now: float) -> None:
        name = change.name
        was_up = self._up.get(name)
        self._up[name] = change.up
        if not self.kept.keeps(name) or was_up == change.up:
            return
        if not change.up:
            self.schedule.hold(name, "link down")
            return
        self.schedule.release(name, "link down")
        self.schedule.lost(name, None, "link up", now)  # IPv4 routes went with the link

    def _address(self, change: rtnl.AddressChange, now: float) -> None:
        ifname = change.address.ifname
        if not self.kept.keeps(ifname):
            return
        owner = self.kept.owner_of_address(change.address)
        if change.deleted:
            if owner is not None:
                self._lost(ifname, owner[1], now)
            elif self.kept.keeps_routes(ifname):  # routes may have gone with it, unannounced
                self.schedule.lost(ifname, None, "address removed", now)
        elif owner is None:
            self.schedule.address_seen(ifname, change.address.interface,
                                       not change.permanent, now)

    def _route(self, change: rtnl.RouteChange, now: float) -> None:
        owner = self.kept.owner_of_route(change.route) if change.deleted else None
        if owner is not None:
            self._lost(owner[0], owner[1], now)

    def _rule(self, change: rtnl.RuleChange, now: float) -> None:
        owner = self.kept.owner_of_rule(change.rule) if change.deleted else None
        if owner is not None:
            self._lost(owner[0], owner[1], now)

    def _lost(self, ifname: str, obj: KernelObject, now: float) -> None:
        log.debug("%s: lost %s", ifname, obj.describe())
        warning = self.schedule.lost(ifname, obj, "removal", now)
        if warning:
            log.warning("%s: %s", ifname, warning)

    # -- running restores ------------------------------------------------------------------

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        when = self.schedule.next_due(self.loop.time())
        self._timer = None if when is None else self.loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer = None
        for job in self.schedule.take_due(self.loop.time()):
            self._reading(False)
            future = self.worker.submit(functools.partial(self._restore, job))
            future.add_done_callback(functools.partial(self._ran, job))
        self._arm()

    def _reading(self, on: bool) -> None:
        """Netlink is not read while a restore runs: its own notices (two or more per
        object) would compete with it for the interpreter. They wait in the socket's
        buffer, with anything else that happened meanwhile, and are read right after."""
        if on and not self.schedule.running:
            self.loop.add_reader(self.sub.fileno(), self._on_netlink)
            self._on_netlink()
        elif not on:
            self.loop.remove_reader(self.sub.fileno())

    def _restore(self, job: Job) -> Optional[RunResult]:
        """In the worker thread: exactly the hooks' restore, with the loaded config."""
        return run.restore(self.ctx, job.event, base=self.assembly, withhold=job.withhold)

    def _ran(self, job: Job, future: asyncio.Future[Optional[RunResult]]) -> None:
        now = self.loop.time()
        error = future.exception()
        if error is not None:
            wait = self.schedule.failed(job, now)
            if isinstance(error, NethookError):
                log.error("%s: %s; trying again in %.0f s", job.ifname, error, wait)
            else:
                log.error("%s: internal error; trying again in %.0f s", job.ifname, wait,
                          exc_info=error)
            answer: Dict[str, Any] = {"ok": False, "error": str(error)}
        else:
            result = future.result()
            restored = frozenset() if result is None else frozenset(
                r.op.target for r in result.report.applied if r.op.verb is not Verb.DELETE)
            self.schedule.finished(job, restored, bool(result and result.missing), now)
            self.runs += 1
            self.kept.refresh(job.ifname)  # the restore may have consumed the snapshot
            answer = _summary(result)
            if restored:
                self._refresh_textfile()
        for waiter in job.waiters:
            if isinstance(waiter, asyncio.Future) and not waiter.done():
                waiter.set_result(answer)
        if self._stop.is_set():  # a restore that ended during the shutdown: netlink is closed
            return
        self._reading(True)
        self._arm()

    def _refresh_textfile(self) -> None:
        """``metrics: {textfile: DIR}``: node_exporter sees the restore at its next scrape.
        ``nethook metrics --textfile DIR`` runs detached, as a hook's services check does."""
        directory = self.assembly.config.metrics_textfile
        if directory is None:
            return
        if not os.access(directory, os.W_OK):
            if directory not in self._unwritable:
                self._unwritable.add(directory)
                log.warning("metrics.textfile %s is not writable for the watcher (under "
                            "nethook-watch.service: add ReadWritePaths=%s in a drop-in)",
                            directory, directory)
            return
        try:
            spawn.detached(self.ctx, ("metrics", "--textfile", str(directory)))
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("cannot refresh the metrics in %s: %s", directory, exc)

    # -- hooks, on the socket ------------------------------------------------------------

    async def _on_request(self, request: Dict[str, Any]) -> Dict[str, Any]:
        if request.get("op") == "status":
            return self.status()
        if request.get("op") != "event":
            return {"ok": False, "error": f"unknown request {request.get('op')!r}"}
        event = Event.from_dict(request["event"])
        if event.ifname is None:
            return {"ok": False, "error": "an event without an interface"}
        deadline = float(request.get("deadline", self.loop.time() + 1.0))
        if event.snapshot_first:
            return await self._prepare(event, deadline)
        waiter = self.loop.create_future() if request.get("wait") else None
        self.schedule.stack_event(event, self.loop.time(), waiter)
        if event.kind is Kind.TEARDOWN:  # a hold, and the journal line a hook writes
            self.worker.submit(functools.partial(run.handle, self.ctx, event))
        self._arm()
        if waiter is not None:
            answer: Dict[str, Any] = await waiter
            return answer
        return {"ok": True, "queued": event.kind is not Kind.TEARDOWN}

    async def _prepare(self, event: Event, deadline: float) -> Dict[str, Any]:
        """A call before a removal waits (Debian's enter hook, RHEL's ``_restore``): a hold,
        then the snapshot, then the answer."""
        assert event.ifname is not None
        self.schedule.stack_event(event, self.loop.time())
        if self.loop.time() > deadline:
            return {"ok": False, "error": "too late: the hook stopped waiting"}
        work = functools.partial(run.take_snapshot, self.ctx, event, base=self.assembly,
                                 deadline=deadline)
        try:
            await self.worker.submit(work, SNAPSHOT)
        except NethookError as exc:
            return {"ok": False, "error": str(exc)}
        self.kept.refresh(event.ifname)
        return {"ok": True, "snapshot": True}

    # -- what D-Bus followers report (dbus_bus.Sink) ------------------------------------------

    def stack_event(self, event: Event) -> None:
        self.schedule.stack_event(event, self.loop.time())
        self._arm()

    def stack_hold(self, ifname: str, why: str, on: bool) -> None:
        if on:
            self.schedule.hold(ifname, why)
        else:
            self.schedule.release(ifname, why)
            self._arm()

    def ifname_of(self, index: int) -> Optional[str]:
        return self.sub.names.get(index)

    def status(self) -> Dict[str, Any]:
        now = self.loop.time()
        return {"ok": True, "pid": os.getpid(),
                "started": self.started.isoformat(timespec="milliseconds"),
                "interfaces": self.kept.summary(), "runs": self.runs,
                "holds": self.schedule.describe_holds(now),
                "contested": self.schedule.backoff.contested(now),
                "dbus": self.dbus.watching() if self.dbus else [],
                "dbus_problem": self.dbus_problem,
                "config_error": self.config_error, **self.schedule.snapshot()}


def _summary(result: Optional[RunResult]) -> Dict[str, Any]:
    if result is None:
        return {"ok": True, "coalesced": True}
    return {"ok": True, "ops": len(result.plan.ops), "applied": len(result.report.applied),
            "failed": len(result.report.failed),
            "missing": [o.describe() for o in result.missing]}


_HANDLERS: Dict[type, Callable[[Watcher, Any, float], None]] = {
    rtnl.LinkChange: Watcher._link,
    rtnl.AddressChange: Watcher._address,
    rtnl.RouteChange: Watcher._route,
    rtnl.RuleChange: Watcher._rule,
}


def main(ctx: RunContext, options: Options = Options()) -> int:
    """``nethook watch``: run until SIGTERM."""
    logging.getLogger("asyncio").setLevel(logging.INFO)  # not its selector's name at -v
    watcher = Watcher(ctx, options)
    return asyncio.run(watcher.run())

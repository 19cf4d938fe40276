"""The services check: wait for each daemon's own recovery, then remedy, once, and journal.

For every :class:`~nethook.services.watches.Watch` the socket table is polled until all its
listeners are there or its ``wait`` is over; only then is it remedied, in order: ntpd's
``ntpq :config`` when possible, else (or when that did not bring it back) a restart, or a
reload, through the unit manager. Each remedy is verified the same way, for up to
``REMEDY_WAIT`` seconds. A service gets at most one remedy per rate-limit interval, all
escalation steps of one check included.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Set, Tuple

from nethook.adapters.units import PATH, open_units
from nethook.base.context import RunContext
from nethook.base.errors import ObserveError, StateError
from nethook.base.exit_codes import ExitCode
from nethook.base.lock import RunLock
from nethook.config.services import ListenerSpec, ServicesConfig
from nethook.daemons import listeners, processes
from nethook.daemons.listeners import Listener
from nethook.engine import journal
from nethook.model.objects import Address
from nethook.model.ports import UnitError, UnitLibraryMissing, UnitManager
from nethook.services import trigger
from nethook.services.ratelimit import RateLimit
from nethook.services.watches import DAEMON_COMMS, Remedy, Watch, build

log = logging.getLogger(__name__)
POLL_INTERVAL = 0.1
REMEDY_WAIT = 10.0
COMMAND_TIMEOUT = 15.0
CHECK_LOCK_TIMEOUT = 180.0  # one check lasts at most a minute or two
MAX_ROUNDS = 10
RESULTS = {"ntpq": "rebound", "restart": "restarted", "reload": "reloaded"}
# What an administrator types for a remedy nethook could not run itself.
SYSTEMCTL = {"restart": "try-restart", "reload": "try-reload-or-restart"}


@dataclass
class Outcome:
    """What became of one watch; a journal entry's ``services`` item."""

    service: str
    expected: List[str]
    # listening, or rebound, restarted, reloaded, rate-limited, failed; "nothing expected"
    # when no restored address is one the service must listen on
    result: str = "listening"
    after_ms: Optional[float] = None  # from the check's start until all were there
    missing: List[str] = field(default_factory=list)
    remedies: List[str] = field(default_factory=list)  # what was tried, with its answer

    def to_json(self) -> Dict[str, Any]:
        return {"service": self.service, "expected": self.expected, "result": self.result,
                "after_ms": self.after_ms, "missing": self.missing, "remedies": self.remedies}


def run_command(argv: Sequence[str], timeout: float) -> Tuple[int, str]:
    """Exit status and output (stdout, then stderr) of a command; -1 if it could not run."""
    try:
        done = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout, check=False, env={"PATH": PATH})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return -1, str(exc)
    return done.returncode, (done.stdout + done.stderr).strip()


def owned_inodes(comm: str) -> FrozenSet[int]:
    found = processes.find({comm}).get(comm, [])
    return listeners.socket_inodes(p.pid for p in found)


@dataclass
class Ports:
    """The check's side effects, replaceable in tests."""

    units: Callable[[], UnitManager]
    observe: Callable[[], Sequence[Listener]] = listeners.read
    owned: Callable[[str], FrozenSet[int]] = owned_inodes
    run: Callable[[Sequence[str], float], Tuple[int, str]] = run_command
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def missing(watch: Watch, table: Sequence[Listener],
            owned: Optional[FrozenSet[int]]) -> List[ListenerSpec]:
    """The expected listeners the table lacks (only ``owned`` sockets count, when given)."""
    present = set()
    wildcards = set()
    for entry in table:
        if owned is not None and entry.inode not in owned:
            continue
        present.add(entry.key)
        if entry.address.is_unspecified:
            wildcards.add((entry.proto, entry.port))
    return [spec for spec in watch.expected
            if (spec.proto, spec.port, spec.address) not in present
            and not (watch.wildcard_ok and (spec.proto, spec.port) in wildcards)]


class Checker:
    """Checks watches against the socket table; remedies the ones still missing.

    ``wait`` may run more than once (a burst of restores adds addresses while a check
    waits); outcomes are kept per service, their times from the first ``wait``.
    """

    def __init__(self, scope: str, limiter: RateLimit, ports: Ports) -> None:
        self.scope = scope
        self.limiter = limiter
        self.ports = ports
        self.started: Optional[float] = None
        self.outcomes: Dict[str, Outcome] = {}
        self._ran_before: Set[Tuple[str, ...]] = set()
        self._manager: Optional[UnitManager] = None

    def run(self, watches: Sequence[Watch]) -> List[Outcome]:
        """One whole check: wait for every watch, then remedy the late ones."""
        self.remedy(self.wait(watches))
        return list(self.outcomes.values())

    def wait(self, watches: Sequence[Watch]) -> List[Watch]:
        """Run the watches' ``before`` commands (once per check), then poll the socket table
        until each watch is complete or its ``wait`` is over; the ones still missing."""
        now = self.ports.clock()
        if self.started is None:
            self.started = now
        for watch in watches:
            self.outcomes[watch.service] = Outcome(
                watch.service, [s.describe() for s in watch.expected],
                "listening" if watch.expected else "nothing expected")
            for argv in watch.before:
                if argv not in self._ran_before:
                    self._ran_before.add(argv)
                    self._run_before(argv)
        late = self._poll([w for w in watches if w.expected], now, lambda w: float(w.wait))
        for watch in watches:
            if watch.expected and watch not in late:
                log.info("%s: %s listens on %s after %.2f s", self.scope, watch.service,
                         _addresses(watch.expected),
                         (self.outcomes[watch.service].after_ms or 0) / 1000)
        return late

    def _run_before(self, argv: Sequence[str]) -> None:
        status, output = self.ports.run(argv, COMMAND_TIMEOUT)
        log.info("%s: %s: %s", self.scope, " ".join(argv),
                 output.splitlines()[-1] if output else f"exit status {status}")

    def _poll(self, watches: Sequence[Watch], start: float,
              budget: Callable[[Watch], float]) -> List[Watch]:
        """Poll until each watch is complete or over budget; the ones over budget."""
        remaining, late = list(watches), []
        while remaining:
            table = self.ports.observe()
            now = self.ports.clock()
            still = []
            for watch in remaining:
                owned = self.ports.owned(watch.comm) if watch.comm else None
                lacking = missing(watch, table, owned)
                outcome = self.outcomes[watch.service]
                outcome.missing = [s.describe() for s in lacking]
                if not lacking:
                    outcome.after_ms = round((now - (self.started or start)) * 1000, 1)
                elif now - start >= budget(watch):
                    late.append(watch)
                else:
                    still.append(watch)
            remaining = still
            if remaining:
                self.ports.sleep(POLL_INTERVAL)
        return late

    def remedy(self, late: Sequence[Watch]) -> None:
        for watch in late:
            self._remedy(watch)

    def _remedy(self, watch: Watch) -> None:
        outcome = self.outcomes[watch.service]
        log.warning("%s: %s does not listen on %s after %d s", self.scope, watch.service,
                    ", ".join(outcome.missing), watch.wait)
        try:
            verdict = self.limiter.check(watch.service)
        except StateError as exc:
            outcome.result = "failed"
            log.error("%s: %s: not acting: %s", self.scope, watch.service, exc)
            return
        if not verdict.allowed:
            outcome.result = "rate-limited"
            log.warning("%s: %s: not acting now: %s", self.scope, watch.service,
                        verdict.describe(self.limiter.interval))
            return
        outcome.result = "failed"
        for remedy in watch.remedies:
            self.limiter.record(watch.service, remedy.describe())
            started = self.ports.clock()
            done, detail = self._apply(watch, remedy)
            outcome.remedies.append(f"{remedy.describe()}: {detail}")
            if not done:
                log.warning("%s: %s: %s failed: %s", self.scope, watch.service,
                            remedy.describe(), detail)
                continue
            if not self._poll([watch], started, lambda _: REMEDY_WAIT):
                outcome.result = RESULTS[remedy.kind]
                log.info("%s: %s listens on %s %.2f s after %s", self.scope, watch.service,
                         _addresses(watch.expected), self.ports.clock() - started,
                         remedy.describe())
                return
            log.warning("%s: %s still does not listen on %s after %s", self.scope,
                        watch.service, ", ".join(outcome.missing), remedy.describe())
        log.error("%s: %s: no remedy brought %s back", self.scope, watch.service,
                  ", ".join(outcome.missing))

    def _apply(self, watch: Watch, remedy: Remedy) -> Tuple[bool, str]:
        if remedy.kind == "ntpq":
            from nethook.daemons.ntpd import ntpq_succeeded

            log.info("%s: %s: %s", self.scope, watch.service, " ".join(remedy.argv))
            _status, output = self.ports.run(remedy.argv, COMMAND_TIMEOUT)
            last = output.splitlines()[-1] if output else "no output"
            return ntpq_succeeded(output), last
        try:
            manager = self._units()
            state = manager.find(watch.units, watch.pid)
            if state is None:
                return False, f"no unit found ({manager.kind}; tried {', '.join(watch.units)})"
            if state.stopped:
                return False, (f"{state.name} is {state.active}: nethook never starts a "
                               "service that was not running")
            log.info("%s: %s: %s %s (%s)", self.scope, watch.service, remedy.kind,
                     state.name, manager.kind)
            job = (manager.try_restart(state.name) if remedy.kind == "restart"
                   else manager.reload_or_try_restart(state.name))
        except UnitLibraryMissing as exc:
            return False, (f"{exc.package} is not installed, and systemd is reached through "
                           f"it: install {exc.package}, or run: systemctl "
                           f"{SYSTEMCTL[remedy.kind]} {' or '.join(watch.units)}")
        except UnitError as exc:
            return False, str(exc)
        return job.ok, job.detail

    def _units(self) -> UnitManager:
        if self._manager is None:
            self._manager = self.ports.units()
        return self._manager


def _addresses(specs: Sequence[ListenerSpec]) -> str:
    return ", ".join(spec.describe() for spec in specs)


def check_pending(ctx: RunContext, ifname: str, ports: Optional[Ports] = None) -> ExitCode:
    """``nethook services-check IFACE``: check what the hooks queued for ``ifname``.

    One check runs at a time (``RUN_DIR/services/lock``). It keeps the "queued" marker while
    it waits, so the hooks of a burst only add to its queue; whatever they add is taken
    after each wait and waited for in turn (ntpd's own rescan restarts with every change
    too), up to ``MAX_ROUNDS``; only then are the late services remedied. Journaled as one
    entry when anything was checked.
    """
    with RunLock(ctx.run_dir / trigger.SERVICES_DIR, CHECK_LOCK_TIMEOUT):
        restored: List[Address] = []
        if not _take(ctx, ifname, restored):
            return ExitCode.OK
        started = time.monotonic()
        settings = trigger.watched_settings(ctx)
        checker = Checker(ifname, RateLimit(ctx.state_dir, settings.rate_limit),
                          ports or Ports(units=lambda: open_units(ctx.root)))
        error = None
        try:
            late = _rounds(ctx, ifname, settings, checker, restored)
            checker.remedy(late)
        except ObserveError as exc:
            log.error("%s: services not checked: %s", ifname, exc)
            error = str(exc)
        finally:
            trigger.release(ctx.run_dir, ifname)
        outcomes = list(checker.outcomes.values())
        if not outcomes and error is None:
            log.debug("%s: nothing watched on %d restored address(es)", ifname, len(restored))
            return ExitCode.OK
        entry = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                 "services_check": {"ifname": ifname, "error": error,
                                    "addresses": [a.interface.with_prefixlen for a in restored],
                                    "duration_ms": round((time.monotonic() - started) * 1000, 1)},
                 "services": [o.to_json() for o in outcomes]}
        with RunLock(ctx.run_dir, ctx.lock_timeout):
            journal.append(ctx.state_dir, entry)
    failed = error or any(o.result in ("failed", "rate-limited") for o in outcomes)
    return ExitCode.INCOMPLETE if failed else ExitCode.OK


def _take(ctx: RunContext, ifname: str, restored: List[Address]) -> bool:
    """Add what is queued now to ``restored``; whether anything was (an address restored
    again counts: it was lost and came back once more). With nothing queued, the marker
    goes first and the queue is read once more, so an address queued in between is taken
    here or starts a check of its own."""
    more = trigger.take(ctx.run_dir, ifname)
    if not more:
        trigger.release(ctx.run_dir, ifname)
        more = trigger.take(ctx.run_dir, ifname)
    restored.extend(a for a in more if a not in restored)
    return bool(more)


def _rounds(ctx: RunContext, ifname: str, settings: ServicesConfig, checker: Checker,
            restored: List[Address]) -> List[Watch]:
    """Wait for the services on ``restored``, and on what is queued meanwhile."""
    late: List[Watch] = []
    for _ in range(MAX_ROUNDS):
        running = processes.find(set(DAEMON_COMMS.values()))
        watches, warnings = build(ctx.root, settings, restored, running)
        for warning in warnings:
            log.warning("%s", warning)
        late = checker.wait(watches)
        if not _take(ctx, ifname, restored):
            break
        log.info("%s: addresses restored again meanwhile; waiting once more", ifname)
    return late

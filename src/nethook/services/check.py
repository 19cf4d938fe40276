"""The services check: wait for each daemon's own recovery, then remedy, once.

For every :class:`~nethook.services.watches.Watch` the socket table is polled until all its
listeners are there or its ``wait`` is over; only then is it remedied, in order: ntpd's
``ntpq :config`` when possible, else (or when that did not bring it back) a restart, or a
reload, through the unit manager. Each remedy is verified the same way, for up to
``REMEDY_WAIT`` seconds. A service gets at most one remedy per rate-limit interval, all
escalation steps of one check included. A service whose sockets cannot be read ends as
"could not read": it is logged, and never remedied (nor counted as listening).

The ``services-check`` verb around it (its lock, the queue, the journal) is
:mod:`nethook.engine.services_check`.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from nethook.adapters.units import PATH
from nethook.base.errors import StateError
from nethook.config.services import ListenerSpec
from nethook.daemons.live import DaemonsLive, ProcLive
from nethook.daemons.processes import identify
from nethook.model.ports import UnitError, UnitLibraryMissing, UnitManager
from nethook.services.listening import hear
from nethook.services.ratelimit import RateLimit
from nethook.services.watches import Remedy, Watch

log = logging.getLogger(__name__)
POLL_INTERVAL = 0.1
REMEDY_WAIT = 10.0
COMMAND_TIMEOUT = 15.0
RESULTS = {"ntpq": "rebound", "restart": "restarted", "reload": "reloaded"}
# What an administrator types for a remedy nethook could not run itself.
SYSTEMCTL = {"restart": "try-restart", "reload": "try-reload-or-restart"}
UNKNOWN = "could not read"
FAILED = ("failed", "rate-limited", UNKNOWN)  # the results that make the check incomplete


@dataclass
class Outcome:
    """What became of one watch; a journal entry's ``services`` item."""

    service: str
    expected: List[str]
    # listening, or rebound, restarted, reloaded, rate-limited, failed, "could not read";
    # "nothing expected" when no address in question is one the service must listen on
    result: str = "listening"
    after_ms: Optional[float] = None  # from the check's start until all were there
    missing: List[str] = field(default_factory=list)
    remedies: List[str] = field(default_factory=list)  # what was tried, with its answer
    unknown: Optional[str] = None  # why its sockets could not be read

    def to_json(self) -> Dict[str, Any]:
        data = {"service": self.service, "expected": self.expected, "result": self.result,
                "after_ms": self.after_ms, "missing": self.missing, "remedies": self.remedies}
        if self.unknown is not None:
            data["unknown"] = self.unknown
        return data


def run_command(argv: Sequence[str], timeout: float) -> Tuple[int, str]:
    """Exit status and output (stdout, then stderr) of a command; -1 if it could not run."""
    try:
        done = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout, check=False, env={"PATH": PATH})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return -1, str(exc)
    return done.returncode, (done.stdout + done.stderr).strip()


@dataclass
class Ports:
    """The check's side effects, replaceable in tests."""

    units: Callable[[], UnitManager]
    live: DaemonsLive = field(default_factory=ProcLive)
    run: Callable[[Sequence[str], float], Tuple[int, str]] = run_command
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


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
            if (watch.expected and watch not in late
                    and self.outcomes[watch.service].unknown is None):
                log.info("%s: %s listens on %s after %.2f s", self.scope, watch.service,
                         _addresses(watch.expected),
                         (self.outcomes[watch.service].after_ms or 0) / 1000)
        return late

    def _run_before(self, argv: Sequence[str]) -> None:
        status, output = self.ports.run(argv, COMMAND_TIMEOUT)
        log.info("%s: %s: %s", self.scope, " ".join(argv),
                 output.splitlines()[-1] if output else f"exit status {status}")

    def _poll(self, watches: Sequence[Watch], start: float,
              budget: Callable[[Watch], float], refresh: bool = False) -> List[Watch]:
        """Poll until each watch is complete, unknown or over budget; the ones over budget.
        ``refresh``: find the daemon's main process again each time (after a restart)."""
        remaining, late = list(watches), []
        while remaining:
            table = self.ports.live.table()
            now = self.ports.clock()
            still = []
            for watch in remaining:
                current = self._identified(watch) if refresh else watch
                heard = hear(current, table, self.ports.live)
                outcome = self.outcomes[watch.service]
                outcome.missing = [s.describe() for s in heard.missing]
                outcome.unknown = heard.unknown
                if heard.complete:
                    outcome.after_ms = round((now - (self.started or start)) * 1000, 1)
                elif now - start < budget(watch):
                    still.append(watch)  # unknown may pass too: a daemon mid-restart
                elif heard.unknown is not None:
                    outcome.result = UNKNOWN
                    log.error("%s: %s: cannot tell whether it listens on %s: %s", self.scope,
                              watch.service, _addresses(watch.expected), heard.unknown)
                else:
                    late.append(watch)
            remaining = still
            if remaining:
                self.ports.sleep(POLL_INTERVAL)
        return late

    def _identified(self, watch: Watch) -> Watch:
        """``watch`` with its daemon's main process as it is now."""
        if watch.comm is None:
            return watch
        found = self.ports.live.running({watch.comm}).get(watch.comm, [])
        identified = identify(found, watch.pidfiles, self.ports.live.read_pid)
        return replace(watch, pid=identified.main.pid if identified.main else None,
                       unidentified=identified.problem)

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
            if not self._poll([watch], started, lambda _: REMEDY_WAIT, refresh=True):
                if outcome.unknown is not None:
                    return
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

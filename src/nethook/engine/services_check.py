"""``nethook services-check IFACE``: the detached process a hook (or any run) starts.

It takes what :mod:`nethook.services.trigger` queued for the interface, reads the
``services:`` settings, has :class:`nethook.services.check.Checker` wait for each daemon and
remedy the late ones, and journals the outcome. One check runs at a time
(``RUN_DIR/services/lock``). It keeps the "queued" marker while it waits, so the hooks of a
burst only add to its queue; whatever they add is taken after each wait and waited for in
turn (ntpd's own rescan restarts with every change too), up to ``MAX_ROUNDS``; only then are
the late services remedied.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import List, Optional

from nethook.adapters.units import open_units
from nethook.base.context import RunContext
from nethook.base.errors import ObserveError
from nethook.base.exit_codes import ExitCode
from nethook.base.lock import RunLock
from nethook.config.services import ServicesConfig
from nethook.engine import journal
from nethook.model.objects import Address
from nethook.services import trigger
from nethook.services.check import FAILED, Checker, Ports
from nethook.services.ratelimit import RateLimit
from nethook.services.watches import Watch, build, watched_comms

log = logging.getLogger(__name__)
CHECK_LOCK_TIMEOUT = 180.0  # one check lasts at most a minute or two
MAX_ROUNDS = 10


def watched_settings(ctx: RunContext) -> ServicesConfig:
    """The ``services:`` settings; with an invalid configuration, the defaults."""
    from nethook.engine.desired import assemble

    assembly = assemble(ctx, imports=False)
    if assembly.error is not None:
        log.warning("invalid configuration, services checked with the defaults: %s",
                    assembly.error)
        return ServicesConfig()
    return assembly.config.services


def check_pending(ctx: RunContext, ifname: str, ports: Optional[Ports] = None,
                  settings: Optional[ServicesConfig] = None) -> ExitCode:
    """Check what is queued for ``ifname``; journaled as one entry when anything was
    checked. INCOMPLETE when a service failed, was rate-limited or could not be read."""
    with RunLock(ctx.run_dir / trigger.SERVICES_DIR, CHECK_LOCK_TIMEOUT):
        addresses: List[Address] = []
        if not _take(ctx, ifname, addresses):
            return ExitCode.OK
        started = time.monotonic()
        settings = settings or watched_settings(ctx)
        ports = ports or Ports(units=lambda: open_units(ctx.root))
        checker = Checker(ifname, RateLimit(ctx.state_dir, settings.rate_limit), ports)
        error = None
        try:
            checker.remedy(_rounds(ctx, ifname, settings, checker, addresses))
        except ObserveError as exc:
            log.error("%s: services not checked: %s", ifname, exc)
            error = str(exc)
        finally:
            trigger.release(ctx.run_dir, ifname)
        outcomes = list(checker.outcomes.values())
        if not outcomes and error is None:
            log.debug("%s: nothing watched on %d address(es)", ifname, len(addresses))
            return ExitCode.OK
        entry = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                 "services_check": {"ifname": ifname, "error": error,
                                    "addresses": [a.interface.with_prefixlen for a in addresses],
                                    "duration_ms": round((time.monotonic() - started) * 1000, 1)},
                 "services": [o.to_json() for o in outcomes]}
        with RunLock(ctx.run_dir, ctx.lock_timeout):
            journal.append(ctx.state_dir, entry)
    failed = error or any(o.result in FAILED for o in outcomes)
    return ExitCode.INCOMPLETE if failed else ExitCode.OK


def _take(ctx: RunContext, ifname: str, addresses: List[Address]) -> bool:
    """Add what is queued now to ``addresses``; whether anything was (an address queued
    again counts: it was lost and came back once more). With nothing queued, the marker
    goes first and the queue is read once more, so an address queued in between is taken
    here or starts a check of its own."""
    more = trigger.take(ctx.run_dir, ifname)
    if not more:
        trigger.release(ctx.run_dir, ifname)
        more = trigger.take(ctx.run_dir, ifname)
    addresses.extend(a for a in more if a not in addresses)
    return bool(more)


def _rounds(ctx: RunContext, ifname: str, settings: ServicesConfig, checker: Checker,
            addresses: List[Address]) -> List[Watch]:
    """Wait for the services on ``addresses``, and on what is queued meanwhile."""
    late: List[Watch] = []
    live = checker.ports.live
    for _ in range(MAX_ROUNDS):
        running = live.running(watched_comms(settings))
        watches, warnings = build(ctx.root, settings, addresses, running, live.read_pid)
        for warning in warnings:
            log.warning("%s", warning)
        late = checker.wait(watches)
        if not _take(ctx, ifname, addresses):
            break
        log.info("%s: addresses queued again meanwhile; waiting once more", ifname)
    return late

"""From a hook to one detached services check: the queue in the run directory.

A hook must return at once, and a check waits seconds for daemons to come back, so the hook
only queues what it restored and starts ``nethook services-check IFACE`` in a new session
with its standard streams closed (the shims' ``timeout`` kills its own process group, and a
caller reading the hook's output must see it end). A burst of events makes one check:

* ``RUN_DIR/services/pending/IFACE``: restored addresses, one JSON line each, appended
  and taken under an flock of the file itself;
* ``RUN_DIR/services/queued/IFACE``: made with O_EXCL by the hook that starts a check; the
  next hooks see it and only append. The check removes it once it holds the services lock
  and before it takes the queue, so an address queued after the take always finds the
  marker gone and starts a check of its own (which waits for the lock). A marker older
  than ``STALE_AFTER`` (its check died) is taken over.

A run starts a check only when one could find something to do (:func:`after_run`): it
restored addresses, or a watched daemon is deaf on one that is present.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import logging
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from nethook.base.context import RunContext
from nethook.base.errors import ConfigError, ObserveError
from nethook.base.safefiles import TrustedDir, open_path
from nethook.config.services import ServicesConfig
from nethook.daemons import COMMS
from nethook.daemons.live import DaemonsLive, ProcLive
from nethook.model.objects import Address

log = logging.getLogger(__name__)
SERVICES_DIR = "services"
PENDING, QUEUED = "pending", "queued"
STALE_AFTER = 300.0  # a check takes at most about two minutes
MAX_QUEUE = 1 << 20  # a queue is a few lines; more is not read

Spawner = Callable[[RunContext, str], None]
_MENTIONS_SERVICES = re.compile(r"(^|[{,\s])services\s*:", re.MULTILINE)


def _folder(run_dir: Path, name: str) -> TrustedDir:
    """``RUN_DIR/services/pending`` or ``.../queued``, checked like every folder of ours."""
    return open_path(run_dir, [SERVICES_DIR, name])


def marker_path(run_dir: Path, ifname: str) -> Path:
    return run_dir / SERVICES_DIR / QUEUED / ifname


def after_run(ctx: RunContext, ifname: str, present: Sequence[Address],
              restored: Sequence[Address], settings: Optional[ServicesConfig], *,
              live: Optional[DaemonsLive] = None, spawn: Optional[Spawner] = None) -> bool:
    """The services step of every run on ``ifname`` (a hook's, a replay's, the watcher's).

    ``present``: the desired addresses on ``ifname`` now, the restored ones included;
    ``restored``: the ones this run added; ``settings``: the ``services:`` settings the run
    loaded (None: it did not, and a cheap look at the configuration's text stands in).

    Decides whether a services check is needed, queues the addresses it is needed for,
    and starts one detached ``nethook services-check IFACE`` unless one is queued already.
    The check then waits for each daemon's own recovery (its ``wait``), and only then
    remedies: so this verifies, then remedies, whoever asks and whatever restored what.

    * nothing present, nothing restored: nothing to do;
    * no watched daemon runs in this network namespace and no ``services.units`` entry
      exists: nothing to do, decided from /proc alone (no configuration file is parsed);
    * addresses restored: they are queued (a daemon needs its seconds to bind them);
    * nothing restored: the present addresses are verified now, with one read of the
      socket table, and the ones a watched daemon is deaf on are queued. A daemon whose
      sockets cannot be read is logged, and queues nothing.

    True when a check was started. Never raises for a file or process problem: the run
    is done, and this only logs.
    """
    if not (present or restored):
        return False
    live = live or ProcLive()
    try:
        if not _worth_checking(ctx, settings, live):
            return False
        queued = list(restored) or _deaf(ctx, present, settings, live)
        if not queued:
            return False
        append(ctx.run_dir, ifname, queued)
        if not claim(ctx.run_dir, ifname):
            log.debug("%s: a services check is already queued", ifname)
            return False
    except (OSError, ObserveError) as exc:
        log.warning("%s: cannot queue the services check: %s", ifname, exc)
        return False
    import subprocess  # only when a check is started

    try:
        (spawn or spawn_check)(ctx, ifname)
    except (OSError, subprocess.SubprocessError) as exc:
        release(ctx.run_dir, ifname)  # the next run tries again
        log.warning("%s: cannot start the services check: %s", ifname, exc)
        return False
    return True


def _worth_checking(ctx: RunContext, settings: Optional[ServicesConfig],
                    live: DaemonsLive) -> bool:
    """Whether a check could find anything to do: a watched daemon runs here, or a unit
    is watched. Without ``settings``, erring towards checking: any daemon nethook can
    watch runs, or a configuration file mentions ``services``."""
    if settings is not None:
        watched = {COMMS[name] for name in settings.watched()}
        return bool(settings.units) or bool(live.running(watched))
    if live.running(set(COMMS.values())):
        return True
    return _mentions_services(ctx)


def _mentions_services(ctx: RunContext) -> bool:
    from nethook.config.load import discover

    try:
        paths = discover(ctx.root, ctx.config)
    except ConfigError:
        return False
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if _MENTIONS_SERVICES.search(text):
            return True
    return False


def _deaf(ctx: RunContext, present: Sequence[Address], settings: Optional[ServicesConfig],
          live: DaemonsLive) -> List[Address]:
    """The present addresses a watched service does not listen on now."""
    if settings is None or not present:
        return []
    from nethook.services.listening import deaf_addresses

    return deaf_addresses(ctx.root, settings, present, live, log)


def append(run_dir: Path, ifname: str, addresses: Iterable[Address]) -> None:
    lines = "".join(json.dumps(_to_json(a), sort_keys=True) + "\n" for a in addresses)
    with _folder(run_dir, PENDING) as pending:
        fd = pending.open_file(ifname, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, lines.encode())
    finally:
        os.close(fd)


def take(run_dir: Path, ifname: str) -> List[Address]:
    """Everything queued for ``ifname``, each address once, in order; the queue is emptied."""
    try:
        with _folder(run_dir, PENDING) as pending:
            fd = pending.open_file(ifname, os.O_RDWR)
    except FileNotFoundError:
        return []
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with os.fdopen(os.dup(fd), "r", encoding="utf-8") as handle:
            text = handle.read(MAX_QUEUE)
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)
    found: Dict[Address, None] = {}
    for line in text.splitlines():
        try:
            found.setdefault(_from_json(json.loads(line), ifname))
        except (ValueError, KeyError, TypeError):
            log.warning("%s: skipping an unreadable queued address: %r", ifname, line[:200])
    return list(found)


def claim(run_dir: Path, ifname: str) -> bool:
    """Mark a check as queued; False when one already is (and is not stale)."""
    with _folder(run_dir, QUEUED) as queued:
        for _attempt in range(3):
            try:
                os.close(queued.open_file(ifname, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
                return True
            except FileExistsError:
                pass
            try:
                age = time.time() - os.stat(ifname, dir_fd=queued.fd,
                                            follow_symlinks=False).st_mtime
            except FileNotFoundError:
                continue  # the check removed it just now
            if age < STALE_AFTER:
                return False
            log.warning("%s: the queued services check never ran (%.0f s); starting "
                        "another", ifname, age)
            queued.remove(ifname)
    return False


def release(run_dir: Path, ifname: str) -> None:
    with _folder(run_dir, QUEUED) as queued:
        queued.remove(ifname)


def spawn_check(ctx: RunContext, ifname: str) -> None:
    """``nethook services-check IFACE`` with this run's paths, detached from the hook."""
    from nethook.base import spawn

    spawn.detached(ctx, ("services-check",), (ifname,))


def _to_json(address: Address) -> Dict[str, object]:
    return {"address": address.interface.with_prefixlen, "label": address.label}


def _from_json(data: Dict[str, object], ifname: str) -> Address:
    label = data.get("label")
    return Address(ifname, ipaddress.ip_interface(str(data["address"])),
                   str(label) if label else None)

"""Whether a watched service listens where it must: one answer for every caller.

The services check polls it, ``nethook status`` prints it and ``nethook doctor`` explains
it. A daemon's listeners count only when its main process holds them (a forked child's
copy of a socket does not make the daemon listen); a ``services.units`` entry is not a
process nethook can tell, so any socket serves it, a wildcard one too. When the daemon's
sockets cannot be read, or its main process cannot be told, the answer is "unknown": it
is never taken for "listening", nor for "not listening".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import FrozenSet, List, Optional, Set, Tuple

from nethook.config.services import ListenerSpec, ServicesConfig
from nethook.daemons.listeners import CannotRead, Listener
from nethook.daemons.live import DaemonsLive
from nethook.model.objects import Address, IPAddress
from nethook.services.watches import Watch, build, watched_comms


@dataclass(frozen=True)
class Heard:
    missing: Tuple[ListenerSpec, ...] = ()
    unknown: Optional[str] = None  # why it could not be told

    @property
    def complete(self) -> bool:
        return self.unknown is None and not self.missing


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


def hear(watch: Watch, table: Sequence[Listener], live: DaemonsLive) -> Heard:
    """What ``watch`` lacks in ``table``, or why that cannot be told."""
    if not watch.expected:
        return Heard()
    if watch.comm is None:
        return Heard(tuple(missing(watch, table, None)))
    if watch.pid is None:
        return Heard(unknown=watch.unidentified or f"{watch.comm}: no main process")
    try:
        owned = live.sockets_of(watch.pid)
    except CannotRead as exc:
        return Heard(unknown=str(exc))
    return Heard(tuple(missing(watch, table, owned)))


def deaf_addresses(root: Path, settings: ServicesConfig, present: Sequence[Address],
                   live: DaemonsLive, log: logging.Logger) -> List[Address]:
    """The addresses of ``present`` a watched service does not listen on now: one look,
    no waiting (the check that follows waits, then remedies). A service whose sockets
    cannot be read is logged and adds none."""
    running = live.running(watched_comms(settings))
    watches, _warnings = build(root, settings, present, running, live.read_pid)
    if not any(w.expected for w in watches):
        return []
    table = live.table()
    lacking: Set[IPAddress] = set()
    for watch in watches:
        heard = hear(watch, table, live)
        if heard.unknown is not None:
            log.warning("%s: cannot tell whether it listens on %s: %s", watch.service,
                        ", ".join(s.describe() for s in watch.expected), heard.unknown)
        lacking.update(spec.address for spec in heard.missing)
    return [a for a in present if a.interface.ip in lacking]

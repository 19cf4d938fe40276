"""The pre-event snapshot: what an interface carried before DHCP touched it.

Taken by a call that comes before a removal (Debian's enter hook, RHEL's ``_restore``
before EXPIRE/RELEASE/STOP, ``nethook snapshot``), restored by the next configure event.
It holds the interface's permanent secondary addresses, the routes through it in tables
other than main/local/default, and the rules that lead to those tables or name its
addresses, of the address family the event can destroy. Objects nethook added from its
own configuration are left out: the configuration keeps those. It lives in the run
directory: a reboot forgets it, as it should.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import json
import logging
import os
from collections.abc import Collection, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import FrozenSet, Optional, TypeVar

from nethook.base.errors import StateError
from nethook.base.files import write_atomic
from nethook.engine.plan import route_satisfied
from nethook.model.codec import from_dict, to_dict
from nethook.model.objects import (
    Address,
    Desired,
    IPInterface,
    KernelObject,
    Observed,
    Origin,
    Route,
    Rule,
)

log = logging.getLogger(__name__)
SNAPSHOT_VERSION = 1
SYSTEM_TABLES = frozenset({0, 253, 254, 255})
BOTH_FAMILIES = (4, 6)
_Object = TypeVar("_Object", Address, Route, Rule)


def snapshot_dir(run_dir: Path) -> Path:
    return run_dir / "snapshot"


def snapshot_path(run_dir: Path, ifname: str) -> Path:
    return snapshot_dir(run_dir) / f"{ifname}.json"


def consumed_path(run_dir: Path, ifname: str) -> Path:
    return snapshot_dir(run_dir) / "restored" / f"{ifname}.json"


def pending_names(run_dir: Path) -> FrozenSet[str]:
    """The interfaces with a snapshot not restored yet."""
    try:
        return frozenset(p.stem for p in snapshot_dir(run_dir).glob("*.json") if p.is_file())
    except OSError:
        return frozenset()


def consume(run_dir: Path, ifname: str) -> None:
    """The snapshot has been restored in full: hooks stop applying it.

    From now on the kernel's state is the truth, so an alias the administrator removes
    after the restore stays removed. The next call before a removal takes a fresh
    snapshot; until then ``nethook replay`` can still put the consumed one back by hand.
    """
    fresh = snapshot_path(run_dir, ifname)
    target = consumed_path(run_dir, ifname)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.replace(fresh, target)


def take(observed: Observed, ifname: str, lease: Iterable[IPInterface] = (),
         families: Collection[int] = BOTH_FAMILIES,
         owned: Collection[KernelObject] = ()) -> Desired:
    """The part of ``observed`` an event on ``ifname`` may destroy (pure).

    ``families``: the address families the event touches; ``owned``: what nethook added
    from its configuration, which is never the administrator's own state.
    """
    lease_ips = {i.ip for i in lease}
    mine = _Owned(owned)
    addresses = frozenset(
        a for a in observed.addresses
        if a.ifname == ifname and a.family in families and a.key not in observed.dynamic
        and a.interface.ip not in lease_ips and not a.interface.ip.is_link_local
        and not mine.has(a))
    routes = frozenset(r for r in observed.routes
                       if r.ifname == ifname and r.family in families
                       and r.table not in SYSTEM_TABLES and not mine.has(r))
    tables = {r.table for r in routes}
    ips = [a.interface.ip for a in addresses]
    rules = frozenset(_owned_by(r, ifname) for r in observed.rules
                      if r.family in families and r.table not in SYSTEM_TABLES
                      and not mine.has(r)
                      and (r.table in tables or ifname in (r.iif, r.oif)
                           or _names_any(r, ips)))
    return Desired(addresses=addresses, routes=routes, rules=rules)


class _Owned:
    """nethook's own objects, matched as the kernel holds them: an address or a rule by
    its key, a route by its key and every attribute nethook recorded for it."""

    def __init__(self, owned: Collection[KernelObject]) -> None:
        self.keys = {(type(o), o.key) for o in owned if not isinstance(o, Route)}
        self.routes = {r.key: r for r in owned if isinstance(r, Route)}

    def has(self, obj: KernelObject) -> bool:
        if isinstance(obj, Route):
            recorded = self.routes.get(obj.key)
            return recorded is not None and route_satisfied(recorded, obj)
        return (type(obj), obj.key) in self.keys


def is_stripped(observed: Observed, ifname: str,
                families: Collection[int] = BOTH_FAMILIES) -> bool:
    """No global address of ``families`` left: the kernel already dropped what a snapshot
    should hold."""
    return not any(a.ifname == ifname and a.family in families
                   and not a.interface.ip.is_link_local for a in observed.addresses)


def _names_any(rule: Rule, ips: Iterable[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> bool:
    return any(net is not None and ip.version == net.version and ip in net
               for ip in ips for net in (rule.src, rule.dst))


def _owned_by(rule: Rule, ifname: str) -> Rule:
    return Rule(table=rule.table, family=rule.family, priority=rule.priority, src=rule.src,
                dst=rule.dst, fwmark=rule.fwmark, fwmask=rule.fwmask, iif=rule.iif,
                oif=rule.oif, ifname=ifname)


def save(run_dir: Path, ifname: str, state: Desired, reason: str) -> None:
    taken = datetime.now(timezone.utc).isoformat(timespec="seconds")
    data = {"version": SNAPSHOT_VERSION, "ifname": ifname, "taken": taken, "reason": reason,
            "objects": [to_dict(o) for o in sorted(state.objects(), key=_stable)]}
    write_atomic(snapshot_path(run_dir, ifname), json.dumps(data, indent=1) + "\n")


def load(run_dir: Path, ifname: str, consumed_too: bool = False) -> Optional[Desired]:
    """The interface's pending snapshot, each object's origin naming it; None if there is
    none. ``consumed_too`` (replay) falls back to the last one already restored."""
    path = snapshot_path(run_dir, ifname)
    if consumed_too and not path.exists():
        path = consumed_path(run_dir, ifname)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StateError(f"cannot read snapshot {path}: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != SNAPSHOT_VERSION:
        raise StateError(f"{path}: not a version {SNAPSHOT_VERSION} snapshot")
    origin = Origin.snapshot(str(data.get("reason", "?")), str(data.get("taken", "?")))
    objects = [from_dict(item) for item in data.get("objects", [])]
    return Desired(
        addresses=frozenset(_at(o, origin) for o in objects if isinstance(o, Address)),
        routes=frozenset(_at(o, origin) for o in objects if isinstance(o, Route)),
        rules=frozenset(_at(o, origin) for o in objects if isinstance(o, Rule)))


def _at(obj: _Object, origin: Origin) -> _Object:
    return dataclasses.replace(obj, origin=origin)


def _stable(obj: KernelObject) -> str:
    return json.dumps(to_dict(obj), sort_keys=True)

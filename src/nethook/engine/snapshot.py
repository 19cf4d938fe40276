"""The pre-event snapshot: what an interface carried before DHCP touched it.

Taken by the dhclient enter hook (or ``nethook snapshot``), restored by the exit hook.
It holds the interface's permanent secondary addresses, the routes through it in tables
other than main/local/default, and the rules that lead to those tables or name its
addresses. It lives in the run directory: a reboot forgets it, as it should.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import json
import logging
import os
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from nethook.base.errors import StateError
from nethook.base.files import write_atomic
from nethook.model.codec import from_dict, to_dict
from nethook.model.objects import Address, Desired, IPInterface, Observed, Origin, Route, Rule

log = logging.getLogger(__name__)
SNAPSHOT_VERSION = 1
SYSTEM_TABLES = frozenset({0, 253, 254, 255})


def snapshot_path(run_dir: Path, ifname: str) -> Path:
    return run_dir / "snapshot" / f"{ifname}.json"


def consumed_path(run_dir: Path, ifname: str) -> Path:
    return run_dir / "snapshot" / "restored" / f"{ifname}.json"


def consume(run_dir: Path, ifname: str) -> None:
    """The snapshot has been restored in full: hooks stop applying it.

    From now on the kernel's state is the truth, so an alias the administrator removes
    after the restore stays removed. The next enter hook takes a fresh snapshot; until
    then ``nethook replay`` can still put the consumed one back by hand.
    """
    fresh = snapshot_path(run_dir, ifname)
    target = consumed_path(run_dir, ifname)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.replace(fresh, target)


def take(observed: Observed, ifname: str, lease: Iterable[IPInterface] = ()) -> Desired:
    """The part of ``observed`` a DHCP event on ``ifname`` may destroy (pure)."""
    lease_ips = {i.ip for i in lease}
    addresses = frozenset(
        a for a in observed.addresses
        if a.ifname == ifname and a.key not in observed.dynamic
        and a.interface.ip not in lease_ips and not a.interface.ip.is_link_local)
    routes = frozenset(r for r in observed.routes
                       if r.ifname == ifname and r.table not in SYSTEM_TABLES)
    tables = {r.table for r in routes}
    ips = [a.interface.ip for a in addresses]
    rules = frozenset(_owned_by(r, ifname) for r in observed.rules
                      if r.table not in SYSTEM_TABLES
                      and (r.table in tables or ifname in (r.iif, r.oif)
                           or _names_any(r, ips)))
    return Desired(addresses=addresses, routes=routes, rules=rules)


def is_stripped(observed: Observed, ifname: str) -> bool:
    """No global address left: the kernel already dropped what a snapshot should hold."""
    return not any(a.ifname == ifname and not a.interface.ip.is_link_local
                   for a in observed.addresses)


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
    """The interface's snapshot with its objects' origin set, or None if there is none.

    Hooks use only a fresh snapshot; ``consumed_too`` (replay) falls back to the last one
    already restored.
    """
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
    origin = Origin(f"snapshot {data.get('reason', '?')} {data.get('taken', '?')}")
    objects = [_with_origin(from_dict(item), origin) for item in data.get("objects", [])]
    return Desired(addresses=frozenset(o for o in objects if isinstance(o, Address)),
                   routes=frozenset(o for o in objects if isinstance(o, Route)),
                   rules=frozenset(o for o in objects if isinstance(o, Rule)))


def _with_origin(obj: Address | Route | Rule, origin: Origin) -> Address | Route | Rule:
    return dataclasses.replace(obj, origin=origin)


def _stable(obj: Address | Route | Rule) -> str:
    return json.dumps(to_dict(obj), sort_keys=True)

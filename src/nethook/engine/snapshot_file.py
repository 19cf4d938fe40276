"""Snapshot files: ``RUN_DIR/snapshot/IFACE.json``, validated before anything is restored.

A snapshot tells a root process what to add to the kernel, so it is never trusted
blindly. Reading it checks, in order:

* the file: a regular file of nethook's in its trusted directory (see
  :mod:`nethook.base.safefiles`), at most ``MAX_BYTES``;
* the document: JSON, version 1, for this interface, at most ``MAX_OBJECTS`` objects.
  A snapshot that fails here is moved aside (``IFACE.json.bad``) with one error line,
  and the declared state is restored all the same;
* every object: it belongs to the snapshot's own interface; no route or rule in the
  tables ``unspec`` (0), ``default`` (253), ``main`` (254) or ``local`` (255); no rule at
  priority 0, 32766 or 32767 (the kernel's own rules); no link-local address. An
  invalid object is skipped, the skipped ones are counted in one warning, and the
  valid rest is restored.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, FrozenSet, List, Optional, Tuple, TypeVar

from nethook.base.errors import StateError
from nethook.base.safefiles import TrustedDir, UntrustedError, open_path
from nethook.engine.snapshot import SYSTEM_TABLES
from nethook.model.codec import from_dict, to_dict
from nethook.model.objects import Address, Desired, KernelObject, Origin, Route, Rule

log = logging.getLogger(__name__)
SNAPSHOT_VERSION = 1
FOLDER = "snapshot"
RESTORED = "restored"  # the ones a run restored in full (consumed), for replay
SUFFIX = ".json"
BAD_SUFFIX = ".bad"
MAX_BYTES = 1 << 20
MAX_OBJECTS = 4096
KERNEL_RULE_PRIORITIES = frozenset({0, 32766, 32767})
_Object = TypeVar("_Object", Address, Route, Rule)


def snapshot_dir(run_dir: Path) -> Path:
    return run_dir / FOLDER


def _file(ifname: str) -> str:
    return f"{ifname}{SUFFIX}"


def pending_names(run_dir: Path) -> FrozenSet[str]:
    """The interfaces with a snapshot not restored yet."""
    with open_path(run_dir, [FOLDER]) as folder:
        return frozenset(n[: -len(SUFFIX)] for n in folder.names() if n.endswith(SUFFIX))


def check_size(state: Desired, ifname: str) -> None:
    """A snapshot nethook could not read back is not written: StateError, one line, and
    the previous snapshot stays as it was."""
    count = len(state.objects())
    if count > MAX_OBJECTS:
        raise StateError(f"{ifname}: {count} objects to snapshot, more than the "
                         f"{MAX_OBJECTS} a snapshot holds; not taken (declare them in "
                         "nethook.yaml instead)")


def save(run_dir: Path, ifname: str, state: Desired, reason: str) -> None:
    taken = datetime.now(timezone.utc).isoformat(timespec="seconds")
    data = {"version": SNAPSHOT_VERSION, "ifname": ifname, "taken": taken, "reason": reason,
            "objects": [to_dict(o) for o in sorted(state.objects(), key=_stable)]}
    with open_path(run_dir, [FOLDER]) as folder:
        folder.write(_file(ifname), (json.dumps(data, indent=1) + "\n").encode(),
                     durable=False)  # the run directory is a tmpfs: a reboot forgets it


def consume(run_dir: Path, ifname: str) -> None:
    """The snapshot has been restored in full: hooks stop applying it.

    From now on the kernel's state is the truth, so an alias the administrator removes
    after the restore stays removed. The next call before a removal takes a fresh
    snapshot; until then ``nethook replay`` can still put the consumed one back by hand.
    """
    with open_path(run_dir, [FOLDER]) as folder, folder.subdir(RESTORED) as restored:
        folder.move(_file(ifname), restored, _file(ifname))


def load(run_dir: Path, ifname: str, consumed_too: bool = False) -> Optional[Desired]:
    """The interface's pending snapshot, validated, each object's origin naming it; None
    if there is none. ``consumed_too`` (replay) falls back to the last one restored.

    StateError (one line) for a snapshot that cannot be used at all; it has been moved
    aside by then."""
    with open_path(run_dir, [FOLDER]) as folder:
        found = _read(folder, ifname)
        if found is None and consumed_too:
            with folder.subdir(RESTORED) as restored:
                found = _read(restored, ifname)
    if found is None:
        return None
    data, origin = found
    kept, skipped = _valid_objects(data["objects"], ifname)
    if skipped:
        log.warning("%s: %d object(s) of its snapshot are not restored: %s", ifname,
                    len(skipped), "; ".join(skipped[:3]) + ("; ..." if len(skipped) > 3 else ""))
    return Desired(
        addresses=frozenset(_at(o, origin, ifname) for o in kept if isinstance(o, Address)),
        routes=frozenset(_at(o, origin, ifname) for o in kept if isinstance(o, Route)),
        rules=frozenset(_at(o, origin, ifname) for o in kept if isinstance(o, Rule)))


def _read(folder: TrustedDir, ifname: str) -> Optional[Tuple[Any, Origin]]:
    """The document and its origin; None when there is no file."""
    name = _file(ifname)
    try:
        raw = folder.read(name, MAX_BYTES)
        if raw is None:
            return None
        data = json.loads(raw)
        _check_document(data, ifname)
    except (UntrustedError, ValueError) as exc:
        moved = folder.move(name, folder, name + BAD_SUFFIX)
        aside = f"; moved aside to {name}{BAD_SUFFIX}" if moved else ""
        raise StateError(f"snapshot {folder.path / name} not used: {exc}{aside}") from None
    origin = Origin.snapshot(str(data.get("reason", "?"))[:32], str(data.get("taken", "?"))[:32])
    return data, origin


def _check_document(data: Any, ifname: str) -> None:
    if not isinstance(data, dict) or data.get("version") != SNAPSHOT_VERSION:
        raise ValueError(f"not a version {SNAPSHOT_VERSION} snapshot")
    if data.get("ifname") != ifname:
        raise ValueError(f"it is for interface {str(data.get('ifname'))[:16]!r}")
    objects = data.get("objects")
    if not isinstance(objects, list):
        raise ValueError("no list of objects")
    if len(objects) > MAX_OBJECTS:
        raise ValueError(f"{len(objects)} objects, more than the {MAX_OBJECTS} nethook takes")


def _valid_objects(items: List[Any], ifname: str) -> Tuple[List[KernelObject], List[str]]:
    kept: List[KernelObject] = []
    skipped: List[str] = []
    for item in items:
        try:
            obj = from_dict(item) if isinstance(item, dict) else None
        except StateError:
            obj = None
        why = "not an object nethook reads" if obj is None else invalid_reason(obj, ifname)
        if why:
            skipped.append(why if obj is None else f"{obj.describe()}: {why}")
        elif obj is not None:
            kept.append(obj)
    return kept, skipped


def invalid_reason(obj: KernelObject, ifname: str) -> Optional[str]:
    """Why a snapshot of ``ifname`` may not hold ``obj``; None when it may."""
    if isinstance(obj, Address):
        if obj.ifname != ifname:
            return f"on {obj.ifname}, not {ifname}"
        if obj.interface.ip.is_link_local:
            return "a link-local address (the kernel's own)"
        return None
    if obj.table in SYSTEM_TABLES:
        return f"table {obj.table} is the system's (main, local, default), never a snapshot's"
    if isinstance(obj, Route):
        return None if obj.ifname == ifname else f"through {obj.ifname}, not {ifname}"
    if obj.priority in KERNEL_RULE_PRIORITIES:
        return f"priority {obj.priority} belongs to the kernel's own rules"
    if any(name not in (None, ifname) for name in (obj.iif, obj.oif)):
        return f"names another interface than {ifname}"
    return None


def _at(obj: _Object, origin: Origin, ifname: str) -> _Object:
    """With its origin; a rule also with the interface it is restored with."""
    if isinstance(obj, Rule):
        return dataclasses.replace(obj, origin=origin, ifname=ifname)
    return dataclasses.replace(obj, origin=origin)


def _stable(obj: KernelObject) -> str:
    return json.dumps(to_dict(obj), sort_keys=True)

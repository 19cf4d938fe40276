"""What nethook added itself: the only objects it may ever delete, kept across a crash.

The record is a versioned JSON file in the state directory: the objects nethook owns,
and the objects a run is about to add (its intent). A run writes its intent, flushed
to disk, *before* it changes the kernel, and the owned set without the intent after.
A run that finds an intent left behind (the previous one was killed half way) settles
it against the kernel: an object that is there and matches was added by that run, and
is owned; the others were never added. So what nethook added can always be pruned.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Tuple

from nethook.base.errors import StateError
from nethook.base.safefiles import TrustedDir
from nethook.engine.plan import route_satisfied
from nethook.model.codec import from_dict, to_dict
from nethook.model.objects import KernelObject, Observed, Route

RECORD_NAME = "owned.json"
RECORD_VERSION = 2
BAD_SUFFIX = ".bad"
READ_LIMIT = 64 << 20  # a record of a million objects is far beyond any real host


class ObjectIndex:
    """Objects by kernel identity, to ask whether a recorded object is among them: an
    address or a rule by its key, a route by its key and every attribute recorded."""

    def __init__(self, objects: Iterable[KernelObject]) -> None:
        self._by_key: Dict[Tuple[object, ...], List[KernelObject]] = {}
        for obj in objects:
            self._by_key.setdefault((type(obj).__name__, *obj.key), []).append(obj)

    def holds(self, recorded: KernelObject, *, recorded_side: bool = True) -> bool:
        """Whether ``recorded`` matches one of the objects (``recorded_side=False``: the
        objects are the recorded ones and ``recorded`` is what the kernel has)."""
        for other in self._by_key.get((type(recorded).__name__, *recorded.key), ()):
            if not (isinstance(recorded, Route) and isinstance(other, Route)):
                return True
            wanted, current = (recorded, other) if recorded_side else (other, recorded)
            if route_satisfied(wanted, current):
                return True
        return False


@dataclass(frozen=True)
class Record:
    owned: FrozenSet[KernelObject] = frozenset()
    pending: FrozenSet[KernelObject] = frozenset()  # a run's intent, not yet confirmed

    def settled(self, observed: Observed) -> Record:
        """The intent of a run that did not finish, resolved: what it added is owned."""
        if not self.pending:
            return self
        present = ObjectIndex(observed.objects())
        return Record(self.owned | frozenset(o for o in self.pending if present.holds(o)))


def record_path(state_dir: Path) -> Path:
    return state_dir / RECORD_NAME


def load_record(state_dir: Path) -> Record:
    """The record; an absent one is empty, a corrupt or foreign one is an error."""
    try:
        state = TrustedDir.open(state_dir, create=False)
    except FileNotFoundError:
        return Record()
    with state:
        raw = state.read(RECORD_NAME, READ_LIMIT)
    if raw is None:
        return Record()
    path = record_path(state_dir)
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise StateError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise StateError(f"{path}: not a nethook record")
    version = data.get("version")
    if version not in (1, RECORD_VERSION):
        raise StateError(f"{path}: unsupported record version {version!r}")
    return Record(_objects(data.get("objects", []), path),
                  _objects(data.get("pending", []), path))


def load(state_dir: Path) -> FrozenSet[KernelObject]:
    """The owned objects (an intent left behind is not settled here)."""
    return load_record(state_dir).owned


def move_aside(state_dir: Path) -> Path:
    """An unreadable record out of the way (``owned.json.bad``), kept for the
    administrator; a new one starts empty."""
    with TrustedDir.open(state_dir) as state:
        state.move(RECORD_NAME, state, RECORD_NAME + BAD_SUFFIX)
    return state_dir / (RECORD_NAME + BAD_SUFFIX)


def save(state_dir: Path, owned: Iterable[KernelObject],
         pending: Iterable[KernelObject] = ()) -> None:
    """Replace the record, flushed to disk before this returns."""
    text = (f'{{"version": {RECORD_VERSION},\n"objects": {_json_lines(owned)},\n'
            f'"pending": {_json_lines(pending)}}}\n')
    with TrustedDir.open(state_dir) as state:
        state.write(RECORD_NAME, text.encode())


def _objects(items: Any, path: Path) -> FrozenSet[KernelObject]:
    if not isinstance(items, list):
        raise StateError(f"{path}: a list of objects was expected")
    return frozenset(from_dict(item) for item in items)


def _json_lines(objects: Iterable[KernelObject]) -> str:
    """A JSON list of the objects, one per line in a stable order. Each is encoded once,
    by the C encoder (``indent`` would take the pure-Python one: 20 µs an object)."""
    lines = sorted(json.dumps(to_dict(obj), sort_keys=True) for obj in objects)
    return "[\n" + ",\n".join(lines) + "\n]" if lines else "[]"


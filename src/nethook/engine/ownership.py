"""What nethook added itself: the only objects it may ever delete.

The record is a versioned JSON file in the state directory, replaced atomically.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import FrozenSet

from nethook.base.errors import StateError
from nethook.base.files import write_atomic
from nethook.model.codec import from_dict, to_dict
from nethook.model.objects import KernelObject

RECORD_NAME = "owned.json"
RECORD_VERSION = 1


def record_path(state_dir: Path) -> Path:
    return state_dir / RECORD_NAME


def load(state_dir: Path) -> FrozenSet[KernelObject]:
    """The owned objects; an absent record is empty, a corrupt one is an error."""
    path = record_path(state_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return frozenset()
    except OSError as exc:
        raise StateError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise StateError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != RECORD_VERSION:
        raise StateError(f"{path}: unsupported record version {data.get('version')!r}"
                         if isinstance(data, dict) else f"{path}: not a nethook record")
    return frozenset(from_dict(item) for item in data.get("objects", []))


def save(state_dir: Path, owned: Iterable[KernelObject]) -> None:
    items = sorted((to_dict(obj) for obj in owned), key=lambda d: json.dumps(d, sort_keys=True))
    write_atomic(record_path(state_dir),
                 json.dumps({"version": RECORD_VERSION, "objects": items}, indent=1) + "\n")

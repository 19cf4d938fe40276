"""At most one remedy per service per interval, remembered in the state directory.

A flapping link restores an alias again and again; without a limit every restore could
restart ntpd. The record (``STATE_DIR/services/remedies.json``) keeps, per service, the
wall-clock time and the action of its last remedy; it is written atomically, and only by
the services check, which runs one at a time. Wall-clock time because the record outlives
the process (and a reboot): a record dated in the future (the clock was set back) is
ignored rather than trusted to block remedies for that long. A record that cannot be read
is an error, never "no remedy yet".
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional

from nethook.base.errors import StateError
from nethook.base.safefiles import UntrustedError, open_path

FOLDER, RECORD_NAME = "services", "remedies.json"  # in the state directory
READ_LIMIT = 1 << 20
VERSION = 1


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    last_action: Optional[str] = None
    ago: Optional[float] = None  # seconds since the last remedy
    wait: float = 0.0  # seconds until the next one is allowed

    def describe(self, interval: int) -> str:
        if self.ago is None:
            return "no remedy yet"
        return (f"last remedy ({self.last_action}) {self.ago:.0f} s ago; at most one per "
                f"{interval} s, the next in {self.wait:.0f} s")


class RateLimit:
    def __init__(self, state_dir: Path, interval: int,
                 now: Callable[[], float] = time.time) -> None:
        self.state_dir = state_dir
        self.path = state_dir / FOLDER / RECORD_NAME
        self.interval = interval
        self.now = now

    def _load(self) -> Dict[str, Any]:
        try:
            with open_path(self.state_dir, [FOLDER]) as folder:
                raw = folder.read(RECORD_NAME, READ_LIMIT)
            if raw is None:
                return {}
            data = json.loads(raw)
        except (OSError, ValueError, UntrustedError) as exc:
            raise StateError(f"cannot read {self.path}: {exc}; delete it to reset the "
                             "services' rate limit") from None
        if not (isinstance(data, dict) and data.get("version") == VERSION
                and isinstance(data.get("remedies"), dict)):
            raise StateError(f"{self.path} is not a version {VERSION} remedy record")
        remedies: Dict[str, Any] = data["remedies"]
        return remedies

    def check(self, service: str) -> Verdict:
        entry = self._load().get(service)
        if not isinstance(entry, dict) or not isinstance(entry.get("time"), (int, float)):
            return Verdict(True)
        ago = self.now() - float(entry["time"])
        action = str(entry.get("action", "?"))
        if ago < 0 or ago >= self.interval:
            return Verdict(True, action, ago if ago >= 0 else None)
        return Verdict(False, action, ago, self.interval - ago)

    def record(self, service: str, action: str) -> None:
        remedies = self._load()
        remedies[service] = {"time": round(self.now(), 3), "action": action}
        data = json.dumps({"version": VERSION, "remedies": remedies}, sort_keys=True, indent=1)
        with open_path(self.state_dir, [FOLDER]) as folder:
            folder.write(RECORD_NAME, (data + "\n").encode())

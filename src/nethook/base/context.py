"""The run context: every option a run needs, resolved once and passed explicitly."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

DEFAULT_STATE_DIR = Path("/var/lib/nethook")
DEFAULT_RUN_DIR = Path("/run/nethook")
DEFAULT_LOCK_TIMEOUT = 30.0


@dataclass(frozen=True)
class RunContext:
    root: Path = Path("/")  # prefixed to every file nethook reads
    config: Optional[Path] = None  # a file or directory overriding the default config
    state_dir: Path = DEFAULT_STATE_DIR
    run_dir: Path = DEFAULT_RUN_DIR
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT

    @classmethod
    def from_options(cls, env: Mapping[str, str], *, root: Optional[str] = None,
                     config: Optional[str] = None, state_dir: Optional[str] = None,
                     run_dir: Optional[str] = None,
                     lock_timeout: Optional[float] = None) -> RunContext:
        """Command-line options win over NETHOOK_* environment variables over defaults."""
        def pick(option: Optional[str], name: str) -> Optional[str]:
            return option if option else (env.get(name) or None)

        chosen_config = pick(config, "NETHOOK_CONFIG")
        return cls(
            root=Path(pick(root, "NETHOOK_ROOT") or "/"),
            config=Path(chosen_config) if chosen_config else None,
            state_dir=Path(pick(state_dir, "NETHOOK_STATE_DIR") or DEFAULT_STATE_DIR),
            run_dir=Path(pick(run_dir, "NETHOOK_RUN_DIR") or DEFAULT_RUN_DIR),
            lock_timeout=DEFAULT_LOCK_TIMEOUT if lock_timeout is None else lock_timeout,
        )

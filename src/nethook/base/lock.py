"""One run at a time: an flock in the run directory, waited on for a bounded time."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path
from types import TracebackType
from typing import Optional, Type

from nethook.base.errors import LockTimeout
from nethook.base.safefiles import TrustedDir

log = logging.getLogger(__name__)
POLL_INTERVAL = 0.02


class RunLock:
    """``with RunLock(run_dir, timeout):`` holds ``run_dir/lock`` exclusively."""

    def __init__(self, run_dir: Path, timeout: float) -> None:
        self.path = run_dir / "lock"
        self.timeout = timeout
        self._fd: Optional[int] = None

    def __enter__(self) -> RunLock:
        with TrustedDir.open(self.path.parent) as directory:
            fd = directory.open_file(self.path.name, os.O_RDWR | os.O_CREAT)
        deadline = time.monotonic() + self.timeout
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockTimeout(
                        f"another nethook run held {self.path} for {self.timeout:g} s") from None
                if not waited:
                    log.debug("waiting for %s", self.path)
                    waited = True
                time.sleep(POLL_INTERVAL)
        self._fd = fd
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

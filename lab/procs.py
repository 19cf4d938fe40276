"""Bounded process handling for the labs: every wait has a timeout.

Processes are only ever signalled by PID.  A zombie counts as gone: `kill -0`
succeeds on one, so the state letter in /proc/PID/stat is checked instead.
Children of ours are reaped through their Popen object; a process that was
re-parented away (a daemon that forked) can only be waited for until it is a
zombie, which its new parent reaps.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable


def process_state(pid: int) -> str | None:
    """The state letter of a process (``Z`` for a zombie), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def is_running(pid: int) -> bool:
    """True unless the process is gone or a zombie."""
    return process_state(pid) not in (None, "Z")


def poll_until(check: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Call ``check`` until it returns True (then True) or ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def terminate(proc: subprocess.Popen[bytes], timeout: float = 3.0) -> bool:
    """SIGTERM a child, then SIGKILL it, reaping it; False if it survived both."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            return True
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            continue
    return proc.poll() is not None


def kill_and_wait(pids: Iterable[int], timeout: float = 3.0) -> bool:
    """SIGTERM, then SIGKILL, processes that are not our children; True once all are gone."""
    targets = list(pids)

    def all_gone() -> bool:
        return not any(is_running(pid) for pid in targets)

    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in targets:
            if is_running(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
        if poll_until(all_gone, timeout):
            return True
    return False

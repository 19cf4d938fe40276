"""Talking to the watcher over its unix socket. Standard library only: hooks import this.

The protocol is one JSON object per line each way on a fresh connection:

* ``{"v": 1, "op": "event", "event": {...Event.to_dict()...}, "deadline": MONO}``: a
  hook's event. The watcher answers ``{"ok": true}`` as soon as it has queued a restore
  or a teardown, so the hook returns in milliseconds. For a call before a removal (the
  dhclient enter hook, RHEL's ``_restore``) it answers only once the snapshot is
  written, and only if it could start before ``deadline`` (``time.monotonic()``,
  CLOCK_MONOTONIC, which every process on the machine shares): a hook that gave up has
  taken the snapshot itself. With
  ``"wait": true`` a restore is answered once it is done, with its summary (tests, bench).
* ``{"v": 1, "op": "status"}``: the watcher's pid, start time, what it keeps and holds.

Any failure (no socket, refused, a timeout, a malformed answer) reads as "no watcher":
the hook then does the work itself, as it does when no watcher is installed.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path
from typing import Any, Dict, Optional

from nethook.events import Event

log = logging.getLogger(__name__)

SOCKET_NAME = "watch.sock"
PROTOCOL = 1
REPLY_TIMEOUT = 0.2  # connect, send, and the answer to a queued event
SNAPSHOT_TIMEOUT = 1.0  # the answer to PREPARE comes after the snapshot
MAX_MESSAGE = 1 << 16

Message = Dict[str, Any]


class WatcherUnavailable(Exception):
    """No watcher answered in time; the message says why."""


def socket_path(run_dir: Path) -> Path:
    return run_dir / SOCKET_NAME


def call(run_dir: Path, message: Message, timeout: float = REPLY_TIMEOUT) -> Message:
    """Send one request and return the answer; WatcherUnavailable on any failure."""
    path = socket_path(run_dir)
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(json.dumps(dict(message, v=PROTOCOL)).encode() + b"\n")
            answer = _read_line(sock, deadline)
    except FileNotFoundError:
        raise WatcherUnavailable(f"{path} does not exist") from None
    except (OSError, ValueError) as exc:  # refused, timed out, reset, not JSON
        raise WatcherUnavailable(f"{path}: {exc or type(exc).__name__}") from None
    if not isinstance(answer, dict):
        raise WatcherUnavailable(f"{path}: an answer that is not an object")
    return answer


def _read_line(sock: socket.socket, deadline: float) -> Any:
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no answer in time")
        sock.settimeout(left)
        chunk = sock.recv(MAX_MESSAGE)
        if not chunk:
            raise ConnectionResetError("the watcher closed the connection")
        data += chunk
        if len(data) > MAX_MESSAGE:
            raise ValueError("an over-long answer")
    return json.loads(data)


def forward(run_dir: Path, event: Event, *, wait: bool = False,
            timeout: Optional[float] = None) -> Optional[Message]:
    """Hand ``event`` to a running watcher: its answer, or None when the hook must do the
    work itself (no watcher, or none that answered within the bound)."""
    if not socket_path(run_dir).exists():
        return None  # the common case without a watcher: no connect attempt at all
    if timeout is None:
        timeout = SNAPSHOT_TIMEOUT if event.snapshot_first else REPLY_TIMEOUT
    request: Message = {"op": "event", "event": event.to_dict(),
                        "deadline": time.monotonic() + timeout}
    if wait:
        request["wait"] = True
    try:
        answer = call(run_dir, request, timeout)
    except WatcherUnavailable as exc:
        log.warning("%s: the watcher did not take %s (%s); handling it here",
                    event.ifname, event.describe(), exc)
        return None
    if not answer.get("ok"):
        log.warning("%s: the watcher refused %s: %s; handling it here", event.ifname,
                    event.describe(), answer.get("error", "no reason given"))
        return None
    return answer

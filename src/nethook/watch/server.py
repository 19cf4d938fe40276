"""The watcher's unix socket: hooks hand it their events (see ``client`` for the protocol).

``RUN_DIR/watch.sock``, mode 0600 in a 0700 directory, and every connection's peer
credentials are checked: only root (or the watcher's own user) may talk to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import struct
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional

from nethook.base.errors import NethookError
from nethook.base.safefiles import TrustedDir
from nethook.watch.client import MAX_MESSAGE, PROTOCOL, WatcherUnavailable, call, socket_path

log = logging.getLogger(__name__)

Handler = Callable[[Dict[str, Any]], Awaitable[Dict[str, Any]]]
READ_TIMEOUT = 2.0
_UCRED = struct.Struct("3i")  # pid, uid, gid


class AlreadyRunning(NethookError):
    """Another watcher answers on the socket."""


async def start(run_dir: Path, handler: Handler) -> asyncio.AbstractServer:
    TrustedDir.open(run_dir).close()  # nethook's own, and writable by no one else
    path = socket_path(run_dir)
    _clear_stale(run_dir, path)
    old_umask = os.umask(0o177)
    try:
        server = await asyncio.start_unix_server(
            lambda r, w: _serve(r, w, handler), path=str(path), limit=MAX_MESSAGE)
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    return server


def remove_socket(run_dir: Path) -> None:
    """At a clean stop: hooks then see no socket and do not even try to connect."""
    with contextlib.suppress(FileNotFoundError):
        socket_path(run_dir).unlink()


def _clear_stale(run_dir: Path, path: Path) -> None:
    if not path.exists():
        return
    try:
        answer = call(run_dir, {"op": "status"})
    except WatcherUnavailable:
        path.unlink()  # left by a watcher that died: nobody listens
        return
    raise AlreadyRunning(f"another watcher (pid {answer.get('pid')}) listens on {path}")


def _peer_allowed(writer: asyncio.StreamWriter) -> bool:
    sock: Optional[socket.socket] = writer.get_extra_info("socket")
    if sock is None:
        return False
    _pid, uid, _gid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                    _UCRED.size))
    return uid in (0, os.geteuid())


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 handler: Handler) -> None:
    try:
        if not _peer_allowed(writer):
            log.warning("refused a connection to the watcher's socket from a non-root user")
            return
        line = await asyncio.wait_for(reader.readline(), READ_TIMEOUT)
        answer = await _answer(line, handler)
        writer.write(json.dumps(answer).encode() + b"\n")
        await writer.drain()
    except (asyncio.TimeoutError, ConnectionError, ValueError) as exc:
        log.debug("a watcher client went away: %s", exc or type(exc).__name__)
    finally:
        writer.close()


async def _answer(line: bytes, handler: Handler) -> Dict[str, Any]:
    try:
        request = json.loads(line)
    except ValueError:
        return {"ok": False, "error": "not a JSON line"}
    if not isinstance(request, dict) or request.get("v") != PROTOCOL:
        return {"ok": False, "error": f"not a version {PROTOCOL} request"}
    try:
        return await handler(request)
    except (KeyError, TypeError, ValueError) as exc:
        return {"ok": False, "error": f"bad request: {exc}"}

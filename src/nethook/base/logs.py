"""Logging: stderr for people at a terminal, syslog (ident ``nethook``) under hooks, and
one syslog line per kernel change from any command.

Changes are logged by the applier to the ``nethook.change`` logger. Under a hook (or a
detached services check) everything goes to syslog. At a terminal the messages go to
stderr and the changes, which the command prints on stdout anyway, go to syslog alone,
so that the system log holds every change nethook made, whoever asked for it.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from typing import Optional

SYSLOG_SOCKET = "/dev/log"
CHANGES = "nethook.change"


def setup(verbosity: int, *, syslog: bool, socket: str = SYSLOG_SOCKET) -> None:
    """Configure logging once per process; ``verbosity`` is -1 (quiet) to 2; ``socket``
    is syslog's (``NETHOOK_SYSLOG_SOCKET`` names another one)."""
    level = {-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    to_syslog = _syslog_handler(socket)
    root = logging.getLogger()
    root.handlers[:] = [to_syslog if syslog and to_syslog else _stderr_handler()]
    root.setLevel(level)
    changes = logging.getLogger(CHANGES)
    changes.setLevel(logging.INFO)
    if syslog or to_syslog is None:
        changes.handlers[:] = []
        changes.propagate = syslog  # at a terminal without syslog: stdout shows them
    else:
        changes.handlers[:] = [to_syslog]
        changes.propagate = False


def _stderr_handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("nethook: %(message)s"))
    return handler


def _syslog_handler(socket: str) -> Optional[logging.Handler]:
    if not os.path.exists(socket):
        return None
    try:
        handler = logging.handlers.SysLogHandler(
            address=socket, facility=logging.handlers.SysLogHandler.LOG_DAEMON)
    except OSError:
        return None
    handler.setFormatter(logging.Formatter(f"nethook[{os.getpid()}]: %(message)s"))
    return handler

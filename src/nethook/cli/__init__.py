"""The ``nethook`` command. Imports stay light here: heavy modules load when a run needs them.

``main`` parses the command line, sets logging up, runs the verb (:mod:`nethook.cli.verbs`)
and prints what it returns: text, or with ``--json`` one JSON document, errors included,
each carrying ``schema_version`` and ``kind`` (the JSON Schemas are in ``schemas/``).
The exit status is the verb's; an error maps to 2 (usage, configuration) or 3 (cannot
check), the same with ``--json`` or without.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, Dict, Optional, Tuple

from nethook.base.context import RunContext
from nethook.base.errors import ConfigError, NethookError, UsageError
from nethook.base.exit_codes import ExitCode
from nethook.cli.parser import hook_call, parser

log = logging.getLogger("nethook")
SCHEMA_VERSION = 1
_DENIED = frozenset({errno.EACCES, errno.EPERM})


def main(argv: Optional[Sequence[str]] = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    args = hook_call(words) or parser().parse_args(words)
    from nethook.base import logs
    from nethook.cli.verbs import NO_DOCUMENT, VERBS, Output, option

    verb: str = args.verb
    quiet_run = verb in ("hook", "services-check")  # nobody reads their stderr
    logs.setup(option(args, "verbose", 0) - option(args, "quiet", 0), syslog=quiet_run,
               socket=os.environ.get("NETHOOK_SYSLOG_SOCKET") or logs.SYSLOG_SOCKET)
    ctx = RunContext.from_options(
        os.environ, root=option(args, "root"), config=option(args, "config"),
        state_dir=option(args, "state_dir"), run_dir=option(args, "run_dir"),
        lock_timeout=_hook_lock_timeout() if verb == "hook" else None)
    as_json = bool(option(args, "json")) and verb not in NO_DOCUMENT
    try:
        output = VERBS[verb](args, ctx)
    except Exception as exc:  # the one broad boundary: one line, never a bare traceback
        code, error = _failure(exc)
        output = Output(code, "error", {"command": verb, "error": error})
    if as_json:
        _print_json(dict(output.document, schema_version=SCHEMA_VERSION,
                         kind=output.kind or verb, exit=int(output.code)))
    elif output.text:
        sys.stdout.write(output.text)
    return output.code


def _failure(exc: Exception) -> Tuple[int, Dict[str, Any]]:
    """The exit status and the JSON ``error`` of a verb that failed, logged in one line."""
    if isinstance(exc, ConfigError):
        log.error("invalid configuration, nothing applied: %s", exc)
        return ExitCode.USAGE, {"class": "configuration", "file": exc.source,
                                "line": exc.line or None, "key": exc.key or None,
                                "message": exc.message}
    if isinstance(exc, UsageError):
        log.error("%s", exc)
        return ExitCode.USAGE, _error("usage", str(exc))
    if isinstance(exc, (NethookError, OSError)):
        message = str(exc)
        if os.geteuid() != 0 and (isinstance(exc, PermissionError) or
                                  getattr(exc, "errno", None) in _DENIED
                                  or "owned by uid 0" in message):
            message = f"{message}; nethook must run as root"
        log.error("cannot check: %s", message)
        return ExitCode.CANNOT_CHECK, _error("cannot-check", message)
    log.exception("internal error")
    return ExitCode.CANNOT_CHECK, _error("internal", f"{type(exc).__name__}: {exc}")


def _error(kind: str, message: str) -> Dict[str, Any]:
    return {"class": kind, "file": None, "line": None, "key": None, "message": message}


def _hook_lock_timeout() -> float:
    from nethook.cli.hook import HOOK_LOCK_TIMEOUT

    return HOOK_LOCK_TIMEOUT


def _print_json(data: Dict[str, Any]) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")

"""The timing child: runs inside the benchmark's namespace and private mount namespace.

Standard library only. It reads one JSON request per line on stdin, starts the command
with ``posix_spawn``, waits for it with ``wait4`` and answers one JSON line on stdout:
the wall time from just before the spawn to the reaped exit, the exit status, and the
child's resource usage (``ru_maxrss`` covers the child and the descendants it waited
for, so a shim's figure is its Python's). Every method a benchmark compares is started
the same way by this one process, so they pay the same spawn cost.

Request: ``{"argv": [...], "env": {...}, "stdout": PATH, "stderr": PATH}``; ``argv[0]``
is an absolute path.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Dict

_OUT = os.O_WRONLY | os.O_CREAT | os.O_TRUNC


def run(request: Dict[str, Any]) -> Dict[str, Any]:
    argv = [str(arg) for arg in request["argv"]]
    env = {str(k): str(v) for k, v in request["env"].items()}
    actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, request.get("stdout") or os.devnull, _OUT, 0o644),
               (os.POSIX_SPAWN_OPEN, 2, request.get("stderr") or os.devnull, _OUT, 0o644)]
    started = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    _pid, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "status": os.waitstatus_to_exitcode(status),
            "maxrss_kib": usage.ru_maxrss, "user_s": usage.ru_utime,
            "system_s": usage.ru_stime}


def main() -> int:
    for line in sys.stdin:
        try:
            answer = run(json.loads(line))
        except Exception as exc:  # report to the parent, which decides; keep serving
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

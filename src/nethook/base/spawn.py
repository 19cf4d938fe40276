"""Starting ``nethook VERB ...`` detached: in a new session, standard streams closed.

What a hook or the watcher starts and does not wait for (the services check, a metrics
textfile refresh) runs with the same paths as the run that starts it, and is not its
child for long: ``setsid --fork`` returns at once, so a long-running caller is left no
zombie to reap.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from typing import List

from nethook.base.context import RunContext

PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
SPAWN_TIMEOUT = 5.0


def nethook_argv(ctx: RunContext, verb: Sequence[str],
                 arguments: Sequence[str] = ()) -> List[str]:
    """``nethook [this run's root, configuration, directories] VERB -- ARGUMENTS``: an
    argument (an interface may be named ``-x``) is never read as an option."""
    argv = [sys.executable, "-m", "nethook", "--root", str(ctx.root),
            "--state-dir", str(ctx.state_dir), "--run-dir", str(ctx.run_dir)]
    if ctx.config is not None:
        argv += ["--config", str(ctx.config)]
    return [*argv, *verb, *(["--", *arguments] if arguments else [])]


def detached(ctx: RunContext, verb: Sequence[str], arguments: Sequence[str] = ()) -> None:
    """Start ``nethook VERB ...`` and return at once. OSError when it cannot start."""
    argv = nethook_argv(ctx, verb, arguments)
    null = subprocess.DEVNULL
    setsid = shutil.which("setsid", path=PATH)
    if setsid:
        subprocess.run([setsid, "--fork", *argv], stdin=null, stdout=null, stderr=null,
                       cwd="/", check=False, timeout=SPAWN_TIMEOUT)
    else:
        subprocess.Popen(argv, stdin=null, stdout=null, stderr=null, cwd="/",
                         start_new_session=True)

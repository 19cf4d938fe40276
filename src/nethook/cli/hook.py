"""The hook boundary: ``nethook hook SOURCE ARGS...``, status 0 out whatever happens.

Network stacks call this through the shims in ``hooks/``. A hook must never break or hang
its caller: every failure is one log line (syslog, ident ``nethook``) and is swallowed
here. The event goes to a running watcher when there is one (it answers within
milliseconds), else to the engine in this process.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from nethook.base.context import RunContext
from nethook.base.errors import NethookError
from nethook.events import Event
from nethook.events.sources import TRANSLATORS

log = logging.getLogger(__name__)
HOOK_LOCK_TIMEOUT = 8.0  # the shims allow 15 s in all; a hook gives up on the lock first


def run_hook(source: str, argv: Sequence[str], env: Mapping[str, str],
             ctx: RunContext) -> int:
    """Translate and handle one hook call. Always returns 0."""
    try:
        event = TRANSLATORS[source](argv, env)
        if event is None or _forwarded(ctx, event):
            return 0
        from nethook.engine.run import handle

        handle(ctx, event)
    except NethookError as exc:  # an expected condition: one line, no traceback
        log.error("hook %s: %s; nothing was removed", source, exc)
    except OSError as exc:  # permission denied, no space left...: one line too
        log.error("hook %s: %s; nothing was removed", source, exc)
    except Exception:  # the hook boundary: never fail the caller
        log.exception("hook %s failed; the interface was left as it was", source)
    return 0


def _forwarded(ctx: RunContext, event: Event) -> bool:
    """A running watcher took the event (it answers in milliseconds, or not at all)."""
    from nethook.watch import client

    return client.forward(ctx.run_dir, event) is not None

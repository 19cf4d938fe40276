"""One thread that runs the watcher's restores and snapshots, one at a time.

Restores and snapshots block (the run lock, netlink round trips, fsync); running them
off the event loop keeps the loop reading the kernel's notifications and answering hooks
meanwhile. One thread, so runs never overlap (the run lock would serialise them anyway);
a snapshot a hook is waiting for goes ahead of queued restores.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
from typing import Any, Callable, Optional, Tuple

SNAPSHOT, RESTORE = 0, 1  # priorities: lower runs first

Task = Tuple[int, int, Optional[Callable[[], Any]], Optional[asyncio.Future[Any]]]


class Worker:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: queue.PriorityQueue[Task] = queue.PriorityQueue()
        self._order = itertools.count()
        self._thread = threading.Thread(target=self._serve, name="nethook-worker", daemon=True)
        self._thread.start()

    def submit(self, work: Callable[[], Any], priority: int = RESTORE) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = self._loop.create_future()
        self._queue.put((priority, next(self._order), work, future))
        return future

    def stop(self, timeout: float) -> bool:
        """Finish the task in hand, drop the queued ones; False if it did not end in time."""
        self._queue.put((-1, -1, None, None))
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _serve(self) -> None:
        while True:
            _priority, _order, work, future = self._queue.get()
            if work is None or future is None:
                return
            try:
                result = work()
            except BaseException as exc:  # handed to the loop, which logs it
                self._loop.call_soon_threadsafe(_settle, future, None, exc)
            else:
                self._loop.call_soon_threadsafe(_settle, future, result, None)


def _settle(future: asyncio.Future[Any], result: Any,
            error: Optional[BaseException]) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)

"""How hooks reach the watcher: the socket protocol, its bounds, and systemd's notify."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Dict, List

import pytest

from nethook.events import Event, Kind
from nethook.watch import client, sdnotify, server

EVENT = Event(source="dhclient", kind=Kind.CONFIGURE, reason="BOUND", ifname="eth0")
PREPARE = Event(source="dhclient", kind=Kind.PREPARE, reason="RENEW", ifname="eth0")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return tmp_path / "run"


class FakeWatcher:
    """The real server module on a loop in a thread, with a scripted handler."""

    def __init__(self, run_dir: Path, delay: float = 0.0) -> None:
        self.run_dir = run_dir
        self.delay = delay
        self.requests: List[Dict[str, Any]] = []
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    async def handle(self, request: Dict[str, Any]) -> Dict[str, Any]:
        self.requests.append(request)
        await asyncio.sleep(self.delay)
        return {"ok": True, "pid": os.getpid()}

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(server.start(self.run_dir, self.handle))
        self.started.set()
        self.loop.run_forever()

    def __enter__(self) -> FakeWatcher:
        self.thread.start()
        assert self.started.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        async def shutdown() -> None:
            self.server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
        server.remove_socket(self.run_dir)


def test_without_a_watcher_a_hook_does_not_even_connect(run_dir: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def no_connect(*args: object, **kwargs: object) -> None:
        raise AssertionError("a hook connected although no watcher socket exists")

    monkeypatch.setattr(client, "call", no_connect)
    assert client.forward(run_dir, EVENT) is None


def test_a_running_watcher_takes_the_event(run_dir: Path) -> None:
    with FakeWatcher(run_dir) as watcher:
        answer = client.forward(run_dir, EVENT)
    assert answer is not None and answer["ok"]
    (request,) = watcher.requests
    assert request["op"] == "event" and request["v"] == client.PROTOCOL
    assert Event.from_dict(request["event"]) == EVENT
    assert request["deadline"] > time.monotonic() - 5


def test_the_socket_is_root_only(run_dir: Path) -> None:
    with FakeWatcher(run_dir):
        mode = os.stat(client.socket_path(run_dir)).st_mode & 0o777
        folder = os.stat(run_dir).st_mode & 0o777
    assert (mode, folder) == (0o600, 0o700)


def test_a_hung_watcher_costs_a_hook_the_bound_and_no_more(run_dir: Path) -> None:
    with FakeWatcher(run_dir, delay=5.0):
        started = time.monotonic()
        assert client.forward(run_dir, EVENT) is None
        elapsed = time.monotonic() - started
    # At least the bound (the hook waited for an answer); the upper limit only tells a
    # wait that stops from one that hangs with the watcher (5 s), not a speed.
    assert client.REPLY_TIMEOUT <= elapsed < 4.0


def test_a_snapshot_is_waited_for_longer(run_dir: Path) -> None:
    with FakeWatcher(run_dir, delay=client.REPLY_TIMEOUT * 2):
        assert client.forward(run_dir, PREPARE) is not None


def test_a_stale_socket_is_no_watcher_and_is_replaced(run_dir: Path) -> None:
    run_dir.mkdir(mode=0o700)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(client.socket_path(run_dir)))
    stale.close()  # the file stays, nobody listens: a watcher that was killed
    assert client.forward(run_dir, EVENT) is None
    with FakeWatcher(run_dir):
        assert client.forward(run_dir, EVENT) is not None


def test_a_second_watcher_refuses_to_start(run_dir: Path) -> None:
    with FakeWatcher(run_dir):
        loop = asyncio.new_event_loop()
        try:
            with pytest.raises(server.AlreadyRunning):
                loop.run_until_complete(server.start(run_dir, FakeWatcher(run_dir).handle))
        finally:
            loop.close()


def test_garbage_on_the_socket_gets_an_error_answer(run_dir: Path) -> None:
    with FakeWatcher(run_dir) as watcher, \
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        sock.connect(str(client.socket_path(run_dir)))
        sock.sendall(b'{"v": 99}\n')
        answer = json.loads(sock.makefile().readline())
    assert answer == {"ok": False, "error": "not a version 1 request"}
    assert watcher.requests == []


# -- sd_notify ---------------------------------------------------------------------------------


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(2)
    yield sock
    sock.close()


def test_notify_sends_one_datagram(notify_socket: socket.socket) -> None:
    env = {"NOTIFY_SOCKET": notify_socket.getsockname()}
    assert sdnotify.notify("READY=1\nSTATUS=watching", env)
    assert notify_socket.recv(4096) == b"READY=1\nSTATUS=watching"


def test_notify_reaches_an_abstract_socket() -> None:
    name = f"nethook-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        assert sdnotify.notify("WATCHDOG=1", {"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(64) == b"WATCHDOG=1"


def test_notify_outside_systemd_does_nothing() -> None:
    assert not sdnotify.notify("READY=1", {})
    assert not sdnotify.notify("READY=1", {"NOTIFY_SOCKET": "/nonexistent/socket"})


@pytest.mark.parametrize("env, interval", [
    ({}, None),
    ({"WATCHDOG_USEC": "30000000"}, 15.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
    ({"WATCHDOG_USEC": "many"}, None),
])
def test_the_watchdog_is_pinged_twice_a_period(env: Dict[str, str], interval: object) -> None:
    assert sdnotify.watchdog_interval(env) == interval

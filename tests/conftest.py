"""Markers, the gate for privileged tests, and the `netns` fixture.

The markers are registered here rather than in an ini file because Debian's
pybuild copies only tests/ into its build directory.

A test that is marked `privileged` (or `e2e`, or that uses `netns`) runs only
where network namespaces can be made. Elsewhere it is skipped, unless
NETHOOK_REQUIRE_NETNS=1 is set: then it fails, so that CI cannot go green by
skipping the kernel tests.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.netns import VethNamespace, privilege_problem, require, veth_namespace

MARKERS = (
    "privileged: needs root and network namespaces",
    "e2e: runs real dhclient/dnsmasq/ntpd",
    "stacks: runs real NetworkManager or systemd-networkd with their dispatchers",
)


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects, so `-m "not privileged"` sees these
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("e2e") or "netns" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.privileged)


@functools.cache
def _privilege_problem() -> str | None:
    return privilege_problem()


def require_privileged() -> None:
    """Skip the current test, or fail it under NETHOOK_REQUIRE_NETNS=1, without netns."""
    problem = _privilege_problem()
    require(None if problem is None else f"needs network namespaces: {problem}")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("privileged"):
        require_privileged()


@pytest.fixture
def netns() -> Iterator[VethNamespace]:
    """A namespace whose `eth0` is a veth to `veth0` in a peer namespace; see tests/netns.py."""
    with veth_namespace() as lab:
        yield lab


@pytest.fixture
def canary() -> Iterator[Path]:
    """A short directory of its own (never /tmp itself) for files that only appear if
    something executes a hostile value; short, because a DHCP domain label is 63 bytes."""
    path = Path(tempfile.mkdtemp(prefix="nhc-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path)

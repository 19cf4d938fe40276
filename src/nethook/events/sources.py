"""Which translator each hook source uses: ``nethook hook SOURCE ARGS...`` to one Event.

The shims in ``hooks/`` name their source; the translators are pure functions of the
caller's arguments and environment, imported only when their source is called.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Callable, Dict, Optional

from nethook.events import Event

Translator = Callable[[Sequence[str], Mapping[str, str]], Optional[Event]]


def _dhclient_enter(argv: Sequence[str], env: Mapping[str, str]) -> Optional[Event]:
    from nethook.events import dhclient
    return dhclient.from_env(env, "enter")


def _dhclient_exit(argv: Sequence[str], env: Mapping[str, str]) -> Optional[Event]:
    from nethook.events import dhclient
    return dhclient.from_env(env, "exit")


def _dhclient_rhel(argv: Sequence[str], env: Mapping[str, str]) -> Optional[Event]:
    from nethook.events import dhclient
    return dhclient.from_rhel(env, argv[0] if argv else "")


def _networkmanager(argv: Sequence[str], env: Mapping[str, str]) -> Optional[Event]:
    from nethook.events import networkmanager
    return networkmanager.from_argv(argv, env)


def _ifupdown(argv: Sequence[str], env: Mapping[str, str]) -> Optional[Event]:
    from nethook.events import ifupdown
    return ifupdown.from_env(env)


def _networkd(argv: Sequence[str], env: Mapping[str, str]) -> Optional[Event]:
    from nethook.events import networkd
    return networkd.from_env(env)


TRANSLATORS: Dict[str, Translator] = {
    "dhclient-enter": _dhclient_enter,
    "dhclient-exit": _dhclient_exit,
    "dhclient-rhel": _dhclient_rhel,
    "networkmanager": _networkmanager,
    "ifupdown": _ifupdown,
    "networkd": _networkd,
}

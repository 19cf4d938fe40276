"""Loop protection: never spin against another program that keeps deleting an object.

A removal of a kept object soon after the watcher restored it (within ``FIGHT_WINDOW``)
is a strike against that object. After strike n the watcher restores it no sooner than
``BASE * 2 ** (n - 1)`` seconds later, at most ``LIMIT`` apart, so a competitor that
deletes it in a tight loop sees a handful of restores a minute at first and one every
``LIMIT`` seconds after that. At ``LOG_AT`` strikes the watcher logs once, naming the
object and how often it was removed. A removal long after the last restore (an
administrator's one-off ``ip addr del``, a lease change) ends the fight.

Pure: every call takes the time. Hook and D-Bus events are not held back (a stack
saying it has finished configuring gets the same restore as without a watcher);
netlink-only restores are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterable, Optional

from nethook.model.objects import KernelObject

FIGHT_WINDOW = 10.0
BASE = 1.0
LIMIT = 300.0
LOG_AT = 3


@dataclass
class Fight:
    """One object's contest with another program."""

    first_removal: float
    removals: int = 1
    strikes: int = 0
    until: float = 0.0  # no netlink-triggered restore of the object before this
    logged: bool = False

    def delay(self) -> float:
        return min(BASE * (1 << max(self.strikes - 1, 0)), LIMIT)


def describe(obj: KernelObject) -> str:
    return f"{type(obj).__name__.lower()} {obj.describe()}"


class Backoff:
    def __init__(self) -> None:
        self._restored: Dict[KernelObject, float] = {}
        self.fights: Dict[KernelObject, Fight] = {}

    def restored(self, objects: Iterable[KernelObject], now: float) -> None:
        for obj in objects:
            self._restored[obj] = now

    def removed(self, obj: KernelObject, now: float) -> Optional[str]:
        """Count a removal; returns the one warning to log when the fight is declared."""
        last = self._restored.get(obj)
        fight = self.fights.get(obj)
        if last is None or now - last > FIGHT_WINDOW:
            self.fights[obj] = Fight(first_removal=now)  # a one-off: no strike
            return None
        if fight is None:  # restored by a hook's event: this removal is the first seen
            fight = self.fights[obj] = Fight(first_removal=now, removals=0)
        fight.removals += 1
        fight.strikes += 1
        fight.until = now + fight.delay()
        if fight.strikes < LOG_AT or fight.logged:
            return None
        fight.logged = True
        return (f"{describe(obj)} was removed {fight.removals} times in "
                f"{now - fight.first_removal:.0f} s, each time within {FIGHT_WINDOW:.0f} s "
                f"of nethook restoring it: another program manages it. nethook backs off: "
                f"the next restore in {fight.delay():.0f} s, then at most one every "
                f"{LIMIT:.0f} s while the removals go on")

    def held(self, objects: Iterable[KernelObject], now: float) -> FrozenSet[KernelObject]:
        """Those of ``objects`` that must not be restored yet."""
        return frozenset(o for o in objects
                         if (fight := self.fights.get(o)) is not None and fight.until > now)

    def release_time(self, objects: Iterable[KernelObject]) -> Optional[float]:
        times = [self.fights[o].until for o in objects if o in self.fights]
        return min(times) if times else None

    def contested(self, now: float) -> Dict[str, Dict[str, float]]:
        """What ``nethook status`` shows: each object in a fight, its counts and wait."""
        return {describe(obj): {"removals": fight.removals, "strikes": fight.strikes,
                                "next_restore_in_s": round(max(fight.until - now, 0.0), 1)}
                for obj, fight in self.fights.items() if fight.strikes}

    def forget(self, keep: Iterable[KernelObject]) -> None:
        """Drop what is no longer kept (after a reload)."""
        kept = set(keep)
        for table in (self._restored, self.fights):
            for obj in [o for o in table if o not in kept]:
                del table[obj]

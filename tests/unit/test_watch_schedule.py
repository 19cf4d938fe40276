"""The watcher's schedule and loop protection, on a clock the tests move by hand."""

from __future__ import annotations

import ipaddress
import math

import pytest

from nethook.events import Event, Kind
from nethook.model.objects import Address
from nethook.watch import backoff
from nethook.watch.backoff import Backoff
from nethook.watch.schedule import PREPARE_HOLD, Schedule

ALIAS = Address("eth0", ipaddress.ip_interface("10.77.0.50/24"), "eth0:0")
OTHER = Address("eth0", ipaddress.ip_interface("10.77.0.51/24"), "eth0:1")
LEASE = ipaddress.ip_interface("10.77.0.10/24")


def configure(reason: str = "BOUND", **facts: object) -> Event:
    return Event(source="dhclient", kind=Kind.CONFIGURE, reason=reason, ifname="eth0",
                 **facts)  # type: ignore[arg-type]


def test_losses_read_together_are_one_run_due_at_once() -> None:
    """No quiet period: the daemon has read everything pending before it runs."""
    schedule = Schedule()
    for step in range(5):  # a flush: one message per address, all read in one go
        schedule.lost("eth0", ALIAS if step % 2 else OTHER, "removal", 0.001)
    assert schedule.next_due(0.001) == 0.001
    jobs = schedule.take_due(0.001)
    assert [job.ifname for job in jobs] == ["eth0"]
    assert jobs[0].event.source == "netlink" and jobs[0].event.reason == "removal"


def test_losses_during_a_run_are_one_more_run_right_after_it() -> None:
    schedule = Schedule()
    schedule.lost("eth0", ALIAS, "removal", 0.0)
    (job,) = schedule.take_due(0.0)
    for step in range(5):
        schedule.lost("eth0", OTHER, "removal", 0.001 * step)
    assert schedule.take_due(0.01) == [] and schedule.next_due(0.01) is None
    schedule.finished(job, frozenset({ALIAS}), False, 0.02)
    (again,) = schedule.take_due(0.02)
    assert again.event.reason == "removal"


def test_a_loss_after_a_failed_run_waits_for_the_retry() -> None:
    schedule = Schedule()
    schedule.lost("eth0", ALIAS, "removal", 0.0)
    (job,) = schedule.take_due(0.0)
    assert schedule.failed(job, 0.0) == 1.0
    schedule.lost("eth0", OTHER, "removal", 0.5)
    assert schedule.take_due(0.5) == [] and schedule.next_due(0.5) == 1.0


def test_a_stack_event_runs_at_once_and_carries_its_lease() -> None:
    schedule = Schedule()
    schedule.lost("eth0", ALIAS, "removal", 0.0)
    event = configure(new_address=LEASE)
    schedule.stack_event(event, 0.01)
    (job,) = schedule.take_due(0.01)
    assert job.event is event
    assert schedule.leases["eth0"] == LEASE


def test_a_netlink_run_carries_the_last_known_lease() -> None:
    schedule = Schedule()
    schedule.address_seen("eth0", LEASE, True, 0.0)  # a dynamic address: the lease
    schedule.lost("eth0", ALIAS, "removal", 1.0)
    (job,) = schedule.take_due(2.0)
    assert job.event.new_address == LEASE


def test_dhclient_enter_holds_netlink_losses_until_its_exit_hook() -> None:
    schedule = Schedule()
    schedule.stack_event(Event("dhclient", Kind.PREPARE, "RENEW", "eth0"), 0.0)
    schedule.lost("eth0", ALIAS, "removal", 0.01)
    assert schedule.take_due(1.0) == []
    assert schedule.next_due(1.0) == pytest.approx(PREPARE_HOLD)  # at the latest
    schedule.stack_event(configure(), 1.5)
    (job,) = schedule.take_due(1.5)
    assert job.event.reason == "BOUND"


def test_a_prepare_hold_expires() -> None:
    schedule = Schedule()
    schedule.stack_event(Event("dhclient", Kind.PREPARE, "RENEW", "eth0"), 0.0)
    schedule.lost("eth0", ALIAS, "removal", 0.01)
    assert [job.ifname for job in schedule.take_due(PREPARE_HOLD + 0.1)] == ["eth0"]


def test_a_teardown_holds_until_the_next_configure_event() -> None:
    schedule = Schedule()
    schedule.stack_event(Event("dhclient", Kind.TEARDOWN, "EXPIRE", "eth0"), 0.0)
    schedule.lost("eth0", ALIAS, "removal", 0.01)
    assert schedule.next_due(1e6) is None and schedule.take_due(1e6) == []
    schedule.stack_event(configure(), 1e6)
    assert len(schedule.take_due(1e6)) == 1


def test_holds_of_the_stacks_and_of_a_down_link() -> None:
    schedule = Schedule()
    schedule.hold("eth0", "networkmanager")
    schedule.hold("eth0", "link down")
    schedule.lost("eth0", ALIAS, "removal", 0.0)
    schedule.release("eth0", "networkmanager")
    assert schedule.take_due(1.0) == []
    schedule.release("eth0", "link down")
    assert len(schedule.take_due(1.0)) == 1


def test_an_interface_is_never_run_twice_at_once() -> None:
    schedule = Schedule()
    schedule.lost("eth0", ALIAS, "removal", 0.0)
    (job,) = schedule.take_due(1.0)
    schedule.lost("eth0", OTHER, "removal", 1.01)
    assert schedule.take_due(2.0) == [] and schedule.next_due(2.0) is None
    schedule.finished(job, frozenset({ALIAS}), False, 2.0)
    assert len(schedule.take_due(2.0)) == 1


def test_a_removal_of_what_a_run_is_putting_back_is_a_strike() -> None:
    """The competitor's removal may be read before the run's end is."""
    schedule = Schedule()
    schedule.lost("eth0", ALIAS, "removal", 0.0)
    (job,) = schedule.take_due(1.0)
    schedule.lost("eth0", ALIAS, "removal", 1.01)  # still running
    schedule.finished(job, frozenset({ALIAS}), False, 1.02)
    assert schedule.take_due(1.5) == []  # held back: nothing else to do, so no run
    (later,) = schedule.take_due(2.1)
    assert later.event.reason == "backoff over" and later.withhold == frozenset()


def test_a_run_that_left_something_missing_runs_again_when_an_address_appears() -> None:
    schedule = Schedule()
    schedule.lost("eth0", ALIAS, "removal", 0.0)
    (job,) = schedule.take_due(1.0)
    schedule.finished(job, frozenset(), True, 1.0)  # withheld: the lease was not up yet
    schedule.address_seen("eth0", LEASE, True, 1.5)
    (again,) = schedule.take_due(2.0)
    assert again.event.new_address == LEASE and again.event.reason == "address added"


def test_a_failed_run_is_retried_later_each_time() -> None:
    schedule = Schedule()
    schedule.stack_event(configure(), 0.0)
    (job,) = schedule.take_due(0.0)
    waits = []
    for _ in range(9):
        waits.append(schedule.failed(job, 0.0))
        (job,) = schedule.take_due(math.inf)
    assert waits[:3] == [1.0, 2.0, 4.0] and waits[-1] == 60.0
    assert job.event.reason == "BOUND"  # the stack event is kept for the retry


# -- loop protection ---------------------------------------------------------------------


def test_a_one_off_removal_is_no_fight() -> None:
    fights = Backoff()
    fights.restored([ALIAS], 0.0)
    assert fights.removed(ALIAS, backoff.FIGHT_WINDOW + 1) is None
    assert fights.held([ALIAS], backoff.FIGHT_WINDOW + 1) == frozenset()


def test_removals_right_after_restores_back_off_exponentially_and_warn_once() -> None:
    fights = Backoff()
    now, waits, warnings = 0.0, [], []
    fights.removed(ALIAS, now)  # someone deletes it; the watcher restores it
    for _ in range(12):
        fights.restored([ALIAS], now)
        now += 0.1  # ... and it is gone again at once
        warning = fights.removed(ALIAS, now)
        if warning:
            warnings.append(warning)
        wait = fights.fights[ALIAS].until - now
        waits.append(wait)
        assert fights.held([ALIAS], now) == {ALIAS}
        now += wait
    assert waits[:5] == [1.0, 2.0, 4.0, 8.0, 16.0] and waits[-1] == backoff.LIMIT
    assert len(warnings) == 1
    assert "address 10.77.0.50/24 dev eth0 label eth0:0 was removed 4 times" in warnings[0]


def test_a_competitor_gets_a_bounded_number_of_restores_per_minute() -> None:
    """The netlink-driven cycle, played out: a loop deleting every 50 ms for 10 minutes."""
    schedule = Schedule()
    now, restores = 0.0, 0
    schedule.lost("eth0", ALIAS, "removal", now)
    present = False
    while now < 600.0:
        for job in schedule.take_due(now):
            restored = job.withhold == frozenset()
            restores += restored
            present = present or restored
            schedule.finished(job, frozenset({ALIAS}) if restored else frozenset(), False, now)
        if present:  # the competitor's loop
            schedule.lost("eth0", ALIAS, "removal", now + 0.05)
            present = False
        now += 0.05
    # 1 + 2 + 4 + ... + 256 s of waits, then one every 300 s: about 10 restores.
    assert 8 <= restores <= 13


def test_stack_events_are_not_held_back() -> None:
    schedule = Schedule()
    for now in (0.0, 0.2, 0.4, 0.6):
        schedule.backoff.restored([ALIAS], now)
        schedule.lost("eth0", ALIAS, "removal", now + 0.1)
    schedule.stack_event(configure(), 1.0)
    (job,) = schedule.take_due(1.0)
    assert job.withhold == frozenset()


def test_losses_during_a_hold_are_no_strikes() -> None:
    schedule = Schedule()
    schedule.backoff.restored([ALIAS], 0.0)
    schedule.stack_event(Event("dhclient", Kind.PREPARE, "RENEW", "eth0"), 0.1)
    schedule.lost("eth0", ALIAS, "removal", 0.2)
    assert schedule.backoff.contested(0.3) == {}

"""``nethook replay``: run an interface's last recorded event again, by hand."""

from __future__ import annotations

import dataclasses
import logging
from typing import Dict, List, Optional

from nethook.base.context import RunContext
from nethook.engine import journal
from nethook.events import Event, Kind
from nethook.events.dhclient import CONFIGURE_REASONS, TEARDOWN_REASONS
from nethook.model.objects import Observed

log = logging.getLogger(__name__)


def recorded_events(ctx: RunContext) -> Dict[str, Event]:
    """The last restoring event of each interface, from the journal."""
    found: Dict[str, Event] = {}
    for entry in journal.entries(ctx.state_dir):
        data = entry.get("event")
        if not isinstance(data, dict) or data.get("kind") != Kind.CONFIGURE.value:
            continue
        try:
            event = Event.from_dict(data)
        except (KeyError, ValueError):
            continue
        if event.ifname:
            found[event.ifname] = event
    return found


def from_kernel(ifname: str, observed: Observed, reason: str) -> Event:
    """An event as if the current lease had just been bound (no recorded event exists)."""
    lease = sorted((key[1] for key in observed.dynamic if key[0] == ifname),
                   key=lambda i: (i.version, int(i.ip)))
    return Event(source="replay", kind=Kind.CONFIGURE, reason=reason, ifname=ifname,
                 new_address=lease[0] if lease else None)


def with_reason(event: Event, reason: Optional[str]) -> Event:
    if not reason:
        return event
    kind = (Kind.TEARDOWN if reason in TEARDOWN_REASONS
            else Kind.CONFIGURE if reason in CONFIGURE_REASONS else event.kind)
    return dataclasses.replace(event, reason=reason, kind=kind)


def events_to_replay(ctx: RunContext, ifname: Optional[str], reason: Optional[str],
                     candidates: List[str], observed: Observed) -> List[Event]:
    recorded = recorded_events(ctx)
    names = [ifname] if ifname else sorted(set(recorded) | set(candidates))
    events = []
    for name in names:
        event = recorded.get(name)
        if event is None or not _lease_still_there(event, observed):
            event = from_kernel(name, observed, reason or "BOUND")
        events.append(with_reason(event, reason))
    return events


def _lease_still_there(event: Event, observed: Observed) -> bool:
    """A recorded event's lease is still on its interface: replaying it as it was makes
    sense. A lease that has moved on would hold back what its subnet's aliases need."""
    lease = event.new_address
    return lease is None or (event.ifname, lease) in {a.key for a in observed.addresses}

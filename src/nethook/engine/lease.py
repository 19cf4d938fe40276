"""What a new DHCP lease forbids restoring (pure).

- the previous lease's own address, when the lease moved to another one;
- the new lease's address with another prefix;
- a same-subnet alias while the new lease address is not on the interface yet: the
  alias would become the subnet's primary and take over the source address;
- routes whose preferred source is the previous lease's address.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

from nethook.events import Event
from nethook.model.objects import Address, Desired, Observed
from nethook.model.ops import Skipped


def respect_lease(desired: Desired, observed: Observed,
                  event: Event) -> Tuple[Desired, Tuple[Skipped, ...]]:
    new, old = event.new_address, event.old_address
    if new is None and old is None:
        return desired, ()
    withheld: List[Skipped] = []
    new_is_up = new is None or (event.ifname, new) in {a.key for a in observed.addresses}
    keep_addresses = []
    for address in desired.addresses:
        why = _address_conflict(address, event, new_is_up)
        if why:
            withheld.append(Skipped(address, why))
        else:
            keep_addresses.append(address)
    keep_routes = []
    for route in desired.routes:
        if old is not None and route.src == old.ip and (new is None or new.ip != old.ip):
            withheld.append(Skipped(route, f"its source {old.ip} was the previous lease"))
        else:
            keep_routes.append(route)
    return (Desired(addresses=frozenset(keep_addresses), routes=frozenset(keep_routes),
                    rules=desired.rules), tuple(withheld))


def _address_conflict(address: Address, event: Event, new_is_up: bool) -> Optional[str]:
    new, old = event.new_address, event.old_address
    if address.ifname != event.ifname:
        return None
    ip = address.interface.ip
    if old is not None and ip == old.ip and (new is None or new.ip != old.ip):
        return f"{ip} was the previous lease"
    if new is None or ip.version != new.version:
        return None
    if ip == new.ip and address.interface != new:
        return f"{ip} is the new lease, as {new.with_prefixlen}"
    if not new_is_up and ip in new.network:
        return (f"the new lease {new.with_prefixlen} is not on {event.ifname} yet; "
                "restoring first would make the alias the subnet's primary")
    return None

"""Events: what a network stack told nethook, translated into one value.

An event only narrows the scope of a reconcile (which interface) and carries the lease
facts the planner must respect; it never carries a diff.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from nethook.model import IPAddress, IPInterface


class Kind(enum.Enum):
    CONFIGURE = "configure"  # an address was (re)configured: restore what is missing
    TEARDOWN = "teardown"  # the lease is going away: keep the snapshot, restore nothing
    MANUAL = "manual"  # an administrator asked (apply, replay)


@dataclass(frozen=True)
class Event:
    source: str  # "dhclient", "networkmanager", "ifupdown", "networkd", "cli", ...
    kind: Kind
    reason: str  # the caller's own word for it: BOUND, dhcp4-change, post-up, apply
    ifname: Optional[str] = None  # None: every interface nethook keeps something on
    new_address: Optional[IPInterface] = None
    old_address: Optional[IPInterface] = None
    routers: Tuple[IPAddress, ...] = ()

    def to_dict(self) -> Dict[str, Any]:
        data: Dict[str, Any] = {"source": self.source, "kind": self.kind.value,
                                "reason": self.reason, "ifname": self.ifname}
        if self.new_address is not None:
            data["new_address"] = self.new_address.with_prefixlen
        if self.old_address is not None:
            data["old_address"] = self.old_address.with_prefixlen
        if self.routers:
            data["routers"] = [str(r) for r in self.routers]
        return data

    def describe(self) -> str:
        lease = ""
        if self.old_address is not None or self.new_address is not None:
            old = self.old_address.ip if self.old_address is not None else "-"
            new = self.new_address.ip if self.new_address is not None else "-"
            lease = f" (old {old} -> new {new})"
        return f"{self.reason} from {self.source}{lease}"

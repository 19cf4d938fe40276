"""Events: what a network stack told nethook, translated into one value.

An event only narrows the scope of a reconcile (which interface) and carries the lease
facts the planner must respect; it never carries a diff.
"""

from __future__ import annotations

import enum
import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from nethook.model.objects import IFNAME_MAX, IPAddress, IPInterface

log = logging.getLogger(__name__)
MAX_VALUE = 256  # no variable nethook reads is longer; longer ones are refused unread


class Kind(enum.Enum):
    PREPARE = "prepare"  # about to change the interface: take a snapshot first
    CONFIGURE = "configure"  # an address was (re)configured: restore what is missing
    TEARDOWN = "teardown"  # the lease is going away: restore nothing now
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
    # The caller removes addresses right after this call (RHEL's dhclient-script runs
    # its ``_restore`` functions before it flushes the interface): snapshot first.
    removal_pending: bool = False

    @property
    def snapshot_first(self) -> bool:
        """Whether this call comes before a removal, so the snapshot must be taken now."""
        return self.kind is Kind.PREPARE or self.removal_pending

    @property
    def family(self) -> Optional[int]:
        """The address family a dhclient reason concerns (``*6``: IPv6), else None."""
        if self.source.startswith("dhclient"):
            return 6 if self.reason.endswith("6") else 4
        return None

    def to_dict(self) -> Dict[str, Any]:
        data: Dict[str, Any] = {"source": self.source, "kind": self.kind.value,
                                "reason": self.reason, "ifname": self.ifname}
        if self.new_address is not None:
            data["new_address"] = self.new_address.with_prefixlen
        if self.old_address is not None:
            data["old_address"] = self.old_address.with_prefixlen
        if self.routers:
            data["routers"] = [str(r) for r in self.routers]
        if self.removal_pending:
            data["removal_pending"] = True
        return data

    def describe(self) -> str:
        old, new = self.old_address, self.new_address
        if old is not None and new is not None and old.ip != new.ip:
            lease = f" (old {old.ip} -> new {new.ip})"
        elif new is not None or old is not None:
            lease = f" (lease {(new or old).ip})"  # type: ignore[union-attr]
        else:
            lease = ""
        return f"{self.reason} from {self.source}{lease}"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        """Rebuild a journaled event (for replay); unknown or bad fields raise ValueError."""
        return cls(source=str(data["source"]), kind=Kind(data["kind"]),
                   reason=str(data["reason"]), ifname=checked_ifname(data.get("ifname")),
                   new_address=interface_or_none(data.get("new_address")),
                   old_address=interface_or_none(data.get("old_address")),
                   routers=tuple(ipaddress.ip_address(r) for r in data.get("routers", ())),
                   removal_pending=data.get("removal_pending") is True)


def checked_ifname(value: Optional[str]) -> Optional[str]:
    """An interface name by the kernel's rules (dev_valid_name), or None with a warning."""
    if value is None or value == "":
        return None
    if (len(value.encode("utf-8", "surrogateescape")) > IFNAME_MAX or value in (".", "..")
            or any(c in value for c in "/:") or any(c.isspace() for c in value)
            or not value.isprintable()):
        log.warning("ignoring invalid interface name %r", value[:MAX_VALUE])
        return None
    return value


def interface_or_none(address: Optional[str], mask: Optional[str] = None) -> Optional[IPInterface]:
    """``10.0.0.5`` + ``255.255.255.0`` (or ``10.0.0.5/24``) as an interface, else None."""
    if not address:
        return None
    text = address if not mask else f"{address}/{mask}"
    if len(text) > MAX_VALUE:
        log.warning("ignoring an over-long address value")
        return None
    try:
        return ipaddress.ip_interface(text)
    except ValueError:
        log.warning("ignoring invalid address %r", text)
        return None


def addresses(value: Optional[str]) -> Tuple[IPAddress, ...]:
    """A space-separated list of addresses (``new_routers``); bad words are dropped."""
    if not value or len(value) > MAX_VALUE * 4:
        return ()
    found = []
    for word in value.split():
        try:
            found.append(ipaddress.ip_address(word))
        except ValueError:
            log.warning("ignoring invalid address %r", word[:MAX_VALUE])
    return tuple(found)

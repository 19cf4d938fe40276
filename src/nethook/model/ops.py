"""Plan operations: small immutable values that print as the ``ip`` command doing the same."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Optional, Tuple, Union

from nethook.model.objects import Address, KernelObject, Route, Rule

# Routes and rules nethook adds carry this protocol number, so `ip route show proto 177`
# lists them and `rt_protos.d/nethook.conf` can give it a name.
RTPROT_NETHOOK = 177


class Verb(enum.Enum):
    ADD = "add"
    REPLACE = "replace"
    DELETE = "del"


@dataclass(frozen=True)
class AddressOp:
    verb: Verb
    address: Address

    @property
    def ifname(self) -> Optional[str]:
        return self.address.ifname

    @property
    def target(self) -> KernelObject:
        return self.address

    def describe(self) -> str:
        family = "-4" if self.address.family == 4 else "-6"
        return f"ip {family} address {self.verb.value} {self.address.describe()}"


@dataclass(frozen=True)
class RouteOp:
    verb: Verb
    route: Route

    @property
    def ifname(self) -> Optional[str]:
        return self.route.ifname

    @property
    def target(self) -> KernelObject:
        return self.route

    def describe(self) -> str:
        family = "-4" if self.route.family == 4 else "-6"
        proto = "" if self.verb is Verb.DELETE else f" proto {RTPROT_NETHOOK}"
        return f"ip {family} route {self.verb.value} {self.route.describe()}{proto}"


@dataclass(frozen=True)
class RuleOp:
    verb: Verb
    rule: Rule

    @property
    def ifname(self) -> Optional[str]:
        return self.rule.ifname

    @property
    def target(self) -> KernelObject:
        return self.rule

    def describe(self) -> str:
        family = "-4" if self.rule.family == 4 else "-6"
        proto = "" if self.verb is Verb.DELETE else f" protocol {RTPROT_NETHOOK}"
        return f"ip {family} rule {self.verb.value} {self.rule.describe()}{proto}"


Op = Union[AddressOp, RouteOp, RuleOp]


@dataclass(frozen=True)
class Skipped:
    """A desired object the plan cannot act on, and why (e.g. its interface is absent)."""

    target: KernelObject
    reason: str


@dataclass(frozen=True)
class Plan:
    ops: Tuple[Op, ...] = ()
    skipped: Tuple[Skipped, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.ops)

    def describe(self) -> Tuple[str, ...]:
        return tuple(op.describe() for op in self.ops)

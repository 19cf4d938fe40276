"""The planner: a pure function from desired and observed state to an ordered plan.

Order is make-before-break: addresses, then the routes that need them, then the rules
that point at those routes' tables; deletions (only of objects nethook added itself and
no longer keeps) come last, in the reverse order.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from nethook.model.objects import Address, Desired, KernelObject, Observed, Route, Rule
from nethook.model.ops import AddressOp, Op, Plan, RouteOp, RuleOp, Skipped, Verb

# What `ip rule add` without a priority gets when no other rule is below the main table.
KERNEL_FIRST_RULE_PRIORITY = 32765


class State(enum.Enum):
    PRESENT = "present"
    MISSING = "missing"
    DIFFERENT = "different"  # a route with the same key but other attributes
    NO_LINK = "no interface"


@dataclass(frozen=True)
class Assessment:
    target: KernelObject
    state: State
    reason: str = ""


def assess(desired: Desired, observed: Observed) -> Tuple[Assessment, ...]:
    """Every desired object with what the kernel has of it, in plan order."""
    return (*_assess_addresses(desired, observed), *_assess_routes(desired, observed),
            *_assess_rules(desired, observed))


def plan(desired: Desired, observed: Observed, prune: Iterable[KernelObject] = ()) -> Plan:
    """Operations that make ``observed`` hold ``desired``; ``prune`` lists owned leftovers."""
    skipped: List[Skipped] = []
    ops: List[Op] = []
    for item in assess(desired, observed):
        if item.state is State.NO_LINK:
            skipped.append(Skipped(item.target, item.reason))
        elif item.state is not State.PRESENT:
            ops.append(_repair(item, observed))
    ops += _prune_ops(desired, observed, prune)
    return Plan(tuple(ops), tuple(skipped))


def _repair(item: Assessment, observed: Observed) -> Op:
    target = item.target
    if isinstance(target, Address):
        return AddressOp(Verb.ADD, target)
    if isinstance(target, Route):
        return RouteOp(Verb.REPLACE if item.state is State.DIFFERENT else Verb.ADD, target)
    if target.priority is None:
        target = _with_priority(target, default_rule_priority(observed, target.family))
    return RuleOp(Verb.ADD, target)


def _no_link(obj: KernelObject, ifname: str) -> Assessment:
    return Assessment(obj, State.NO_LINK, f"interface {ifname} does not exist")


def _assess_addresses(desired: Desired, observed: Observed) -> List[Assessment]:
    present = {a.key for a in observed.addresses}
    found: List[Assessment] = []
    for address in sorted(desired.addresses, key=_sort_key):
        if address.key in present:
            found.append(Assessment(address, State.PRESENT))
        elif not observed.has_link(address.ifname):
            found.append(_no_link(address, address.ifname))
        else:
            found.append(Assessment(address, State.MISSING))
    return found


def _assess_routes(desired: Desired, observed: Observed) -> List[Assessment]:
    present: Dict[Tuple[object, ...], Route] = {r.key: r for r in observed.routes}
    found: List[Assessment] = []
    for route in sorted(desired.routes, key=_sort_key):
        current = present.get(route.key)
        if route.ifname and not observed.has_link(route.ifname):
            found.append(_no_link(route, route.ifname))
        elif current is None:
            found.append(Assessment(route, State.MISSING))
        elif not route_satisfied(route, current):
            found.append(Assessment(route, State.DIFFERENT, f"kernel has {current.describe()}"))
        else:
            found.append(Assessment(route, State.PRESENT))
    return found


def _assess_rules(desired: Desired, observed: Observed) -> List[Assessment]:
    keys = {r.key for r in observed.rules}
    selectors = {r.selector for r in observed.rules}
    found: List[Assessment] = []
    for rule in sorted(desired.rules, key=_sort_key):
        present = rule.selector in selectors if rule.priority is None else rule.key in keys
        # The kernel accepts rules for absent devices, but then they never match.
        absent = [n for n in (rule.iif, rule.oif) if n and not observed.has_link(n)]
        if present:
            found.append(Assessment(rule, State.PRESENT))
        elif absent:
            found.append(_no_link(rule, absent[0]))
        else:
            found.append(Assessment(rule, State.MISSING))
    return found


def route_satisfied(wanted: Route, current: Route) -> bool:
    """Same key and every attribute the declaration states; unstated ones are the kernel's."""
    if wanted.key != current.key or wanted.gateway != current.gateway:
        return False
    if wanted.ifname is not None and wanted.ifname != current.ifname:
        return False
    if wanted.src is not None and wanted.src != current.src:
        return False
    if wanted.scope is not None and wanted.scope != current.scope:
        return False
    return not (wanted.onlink and not current.onlink)


def default_rule_priority(observed: Observed, family: int) -> int:
    """The priority the kernel itself gives a rule added without one.

    Linux (fib_default_rule_pref) uses one less than the second rule's priority, which on
    an untouched system is main's 32766, so the first hand-added rule gets 32765.
    """
    priorities = sorted(r.priority for r in observed.rules
                        if r.family == family and r.priority is not None)
    if len(priorities) >= 2 and priorities[1] > 0:
        return priorities[1] - 1
    return KERNEL_FIRST_RULE_PRIORITY


def _with_priority(rule: Rule, priority: int) -> Rule:
    return dataclasses.replace(rule, priority=priority)


def _prune_ops(desired: Desired, observed: Observed, prune: Iterable[KernelObject]) -> List[Op]:
    """Delete what nethook added earlier, no longer keeps, and the kernel still has."""
    wanted_addresses = {a.key for a in desired.addresses}
    wanted_routes = {r.key for r in desired.routes}
    leftovers = list(prune)
    rules = [r for r in leftovers if isinstance(r, Rule)
             and not any(w.satisfied_by(r) for w in desired.rules)
             and any(r.key == o.key for o in observed.rules)]
    routes = [r for r in leftovers if isinstance(r, Route) and r.key not in wanted_routes
              and any(_same_route(r, o) for o in observed.routes)]
    present = {a.key for a in observed.addresses}
    addresses = [a for a in leftovers if isinstance(a, Address)
                 and a.key not in wanted_addresses and a.key in present]
    ops: List[Op] = [RuleOp(Verb.DELETE, r) for r in sorted(rules, key=_sort_key)]
    ops += [RouteOp(Verb.DELETE, r) for r in sorted(routes, key=_sort_key)]
    ops += [AddressOp(Verb.DELETE, a) for a in sorted(addresses, key=_sort_key)]
    return ops


def _same_route(recorded: Route, current: Route) -> bool:
    """A recorded route is still ours only if nobody changed it since we added it."""
    return recorded.key == current.key and route_satisfied(recorded, current)


def _sort_key(obj: KernelObject) -> Tuple[object, ...]:
    if isinstance(obj, Address):
        return (obj.ifname, obj.family, int(obj.interface.ip), obj.interface.network.prefixlen)
    if isinstance(obj, Route):
        return (obj.ifname or "", obj.family, obj.table, int(obj.dst.network_address),
                obj.dst.prefixlen, obj.metric)
    return (obj.family, _none_last(obj.priority), obj.table, str(obj.src), str(obj.dst),
            _none_last(obj.fwmark), obj.iif or "", obj.oif or "")


def _none_last(value: Optional[int]) -> int:
    return value if value is not None else 1 << 33

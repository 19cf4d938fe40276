"""Imported objects written back as nethook's own YAML, each with where it came from.

The text loads through :func:`nethook.config.load.load` to the same objects (with the same
tables): ``nethook import > /etc/nethook/conf.d/50-imported.yaml`` moves a server to an
explicit configuration. Tables print by name when rt_tables gives one unambiguous name.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Callable, Dict, List, Optional, Tuple, TypeVar

import yaml

from nethook.base.errors import ConfigError
from nethook.config.nodes import TAG_STR, compose
from nethook.config.rt_tables import RouteTables
from nethook.config.schema import IPV6_DEFAULT_METRIC
from nethook.model.objects import MAIN_TABLE, Address, KernelObject, Origin, Route, Rule

T = TypeVar("T")
_INDENT = "      "
_PLAIN_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-:")


def scalar(text: str) -> str:
    """``text`` as a YAML scalar: plain when YAML reads it back as that string, else quoted."""
    if text and set(text) <= _PLAIN_SAFE and text[0] not in "-:" and not text.endswith(":"):
        try:
            node = compose(text, "")
        except ConfigError:
            node = None
        if isinstance(node, yaml.ScalarNode) and node.tag == TAG_STR and node.value == text:
            return text
    return json.dumps(text)


class _Writer:
    def __init__(self, tables: RouteTables) -> None:
        self.tables = tables
        self.lines: List[str] = []
        self.origin: Optional[Origin] = None  # of the item before, within one section

    def provenance(self, obj: KernelObject) -> None:
        """``# from FILE:LINE``, once for a run of items from the same place (a range)."""
        if obj.origin != self.origin:
            self.lines.append(f"{_INDENT}# from {obj.origin}")
        self.origin = obj.origin

    def section(self, kind: str, items: Sequence[T], write: Callable[[T], None]) -> List[str]:
        """``kind:`` and its items, or nothing when there are none."""
        self.lines = [f"    {kind}:"]
        self.origin = None
        for item in items:
            write(item)
        return self.lines if items else []

    def item(self, obj: KernelObject, fields: Sequence[Tuple[str, str]]) -> None:
        self.provenance(obj)
        first, *rest = fields
        self.lines.append(f"{_INDENT}- {first[0]}: {first[1]}")
        self.lines.extend(f"{_INDENT}  {key}: {value}" for key, value in rest)

    def table(self, table: int) -> str:
        name = self.tables.name_of(table)
        if name is not None and name not in self.tables.ambiguous \
                and self.tables.id_of(name) == table:
            return scalar(name)
        return str(table)

    def address(self, address: Address) -> None:
        text = scalar(address.interface.with_prefixlen)
        if address.label is None:
            self.provenance(address)
            self.lines.append(f"{_INDENT}- {text}")
            return
        self.item(address, [("address", text), ("label", json.dumps(address.label))])

    def route(self, route: Route) -> None:
        default = route.dst.prefixlen == 0
        family_known = route.gateway is not None or route.src is not None or route.family == 4
        to = "default" if default and family_known else route.dst.with_prefixlen
        fields = [("to", scalar(to))]
        fields += [("via", scalar(str(route.gateway)))] if route.gateway is not None else []
        fields += [("from", scalar(str(route.src)))] if route.src is not None else []
        fields += [("on-link", "true")] if route.onlink else []
        fields += [("scope", scalar(route.scope))] if route.scope else []
        implied = IPV6_DEFAULT_METRIC if route.family == 6 else 0
        fields += [("metric", str(route.metric))] if route.metric != implied else []
        fields += [("table", self.table(route.table))] if route.table != MAIN_TABLE else []
        self.item(route, fields)

    def rule(self, rule: Rule) -> None:
        fields: List[Tuple[str, str]] = []
        if rule.src is not None:
            fields.append(("from", scalar(rule.src.with_prefixlen)))
        elif rule.dst is None and rule.family == 6:
            fields.append(("from", scalar("::/0")))  # how an IPv6 rule says "from all"
        fields += [("to", scalar(rule.dst.with_prefixlen))] if rule.dst is not None else []
        if rule.fwmark is not None:
            mask = f"/{rule.fwmask:#x}" if rule.fwmask is not None else ""
            fields.append(("mark", json.dumps(f"{rule.fwmark:#x}{mask}")))
        fields += [("iif", scalar(rule.iif))] if rule.iif else []
        fields += [("oif", scalar(rule.oif))] if rule.oif else []
        fields.append(("table", self.table(rule.table)))
        fields += [("priority", str(rule.priority))] if rule.priority is not None else []
        self.item(rule, fields)


def to_yaml(objects: Sequence[KernelObject], tables: RouteTables,
            header: Sequence[str] = ()) -> str:
    """A nethook configuration file declaring ``objects``, grouped by interface."""
    groups: Dict[str, List[KernelObject]] = {}
    for obj in objects:
        groups.setdefault(obj.ifname or "", []).append(obj)
    writer = _Writer(tables)
    lines = [f"# {line}".rstrip() for line in header]
    lines.append("version: 1")
    if groups:
        lines.append("interfaces:")
    for ifname, group in groups.items():
        lines.append(f"  {scalar(ifname)}:")
        lines += writer.section("addresses", [o for o in group if isinstance(o, Address)],
                                writer.address)
        lines += writer.section("routes", [o for o in group if isinstance(o, Route)],
                                writer.route)
        lines += writer.section("routing-policy", [o for o in group if isinstance(o, Rule)],
                                writer.rule)
    return "\n".join(lines) + "\n"

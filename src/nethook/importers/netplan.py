"""netplan (``/{lib,etc,run}/netplan/*.yaml``), for the interfaces that also use DHCP.

Files are read as ``netplan generate`` reads them: every ``*.yaml`` in ``lib/netplan``,
``etc/netplan`` and ``run/netplan``, a file in a later directory shadowing one of the same
name in an earlier one, all in name order; a device defined in several files has their
lists (``addresses``, ``routes``, ``routing-policy``) concatenated, and a later scalar
(``dhcp4``, ``set-name``) wins.

What is kept, for ``ethernets``, ``bonds``, ``bridges`` and ``vlans`` with ``dhcp4`` or
``dhcp6`` true: ``addresses`` (``ADDR/PREFIX``, or ``{ADDR/PREFIX: {label: ...}}``),
``routes`` (``to``, ``via``, ``from``, ``metric``, ``table``, ``scope``, ``on-link``;
``type: unicast``) and ``routing-policy`` (``from``, ``to``, ``table``, ``priority``,
``mark``). The interface is the device's key, else its ``set-name``, else a
``match: {name: ...}`` without wildcards; a device matched otherwise (``macaddress``,
``driver``) is reported: nethook does not look devices up.

An interface without DHCP is left to netplan's renderer (networkd or NetworkManager),
which keeps its static state itself; nothing of it is imported. Ignored on purpose:
``gateway4``/``gateway6`` (deprecated; on a DHCP interface the lease owns the default
route), an address's ``lifetime``, and every key nethook has no use for (``nameservers``,
``mtu`` of a link, ...). Reported and skipped: a route with ``mtu``,
``congestion-window``, ``advertised-receive-window`` or a ``type`` other than unicast, a
rule with ``type-of-service``, and a file that is not valid YAML.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import yaml

from nethook.base.errors import ConfigError
from nethook.base.files import entry_names
from nethook.config import nodes as config_yaml
from nethook.config import schema as config_schema
from nethook.config import values
from nethook.config.nodes import Value
from nethook.config.rt_tables import RouteTables
from nethook.importers import iproute
from nethook.importers.base import Collector, Imported, is_file, read_text
from nethook.model.objects import Address, KernelObject, Origin, Route, Rule

NAME = "netplan"
DIRECTORIES = ("lib/netplan", "etc/netplan", "run/netplan")  # later ones shadow earlier
SECTIONS = ("ethernets", "bonds", "bridges", "vlans")
_TRUE = frozenset({"true", "yes", "on", "y"})
_FALSE = frozenset({"false", "no", "off", "n"})
_ROUTE_UNSUPPORTED = ("mtu", "congestion-window", "advertised-receive-window")
_RULE_UNSUPPORTED = ("type-of-service",)
_GLOB_CHARS = frozenset("*?[")


def files(root: Path) -> List[Path]:
    by_name: Dict[str, Path] = {}
    for directory in DIRECTORIES:
        for name in entry_names(root / directory):
            if name.endswith(".yaml") and is_file(root / directory / name):
                by_name[name] = root / directory / name
    return [by_name[name] for name in sorted(by_name)]


def present(root: Path) -> bool:
    return bool(files(root))


@dataclass
class _Device:
    """One device definition, merged across files."""

    section: str
    key: str
    origin: Origin
    name: Optional[str] = None
    unnamed: str = ""  # why the interface name is unknown, when it is
    dhcp: Dict[str, bool] = field(default_factory=dict)
    lists: Dict[str, List[Value]] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"network.{self.section}.{self.key}"


def read(root: Path, tables: RouteTables) -> Imported:
    out = Collector(NAME)
    devices: Dict[Tuple[str, str], _Device] = {}
    for path in files(root):
        text = read_text(path)
        if text is None:
            continue
        out.files.append(str(path))
        try:
            node = config_yaml.compose(text, str(path))
            found = _document(node, str(path))
        except ConfigError as exc:
            out.problem(Origin(exc.source, exc.line),
                        f"{exc.key + ': ' if exc.key else ''}{exc.message}; file not read")
            continue
        for section, key, body in found:
            _merge(devices, section, key, body, out)
    for device in devices.values():
        _device(device, tables, out)
    return out.result()


def _document(node: Optional[yaml.Node], source: str) -> List[Tuple[str, Value, Value]]:
    """Every device definition of one file: (section, key, body)."""
    if node is None:
        return []
    top = {str(k.node.value): v for k, v in Value(node, source).entries()}
    if "network" not in top:
        return []
    network = {str(k.node.value): v for k, v in top["network"].entries()}
    return [(section, key, body) for section in SECTIONS if section in network
            for key, body in network[section].entries()
            if key.node.value != "renderer"]  # a section's own renderer, not a device


def _merge(devices: Dict[Tuple[str, str], _Device], section: str, key: Value, body: Value,
           out: Collector) -> None:
    name = str(key.node.value)
    device = devices.setdefault((section, name),
                                _Device(section, name, Origin(key.source, key.line), name))
    try:
        fields = {str(k.node.value): v for k, v in body.entries()}
        for flag in ("dhcp4", "dhcp6"):
            if flag in fields:
                device.dhcp[flag] = _boolean(fields[flag])
        if section == "ethernets":
            _name(device, fields)
    except ConfigError as exc:
        out.problem(Origin(exc.source, exc.line), f"{exc.key}: {exc.message}; not read")
        return
    for kind in ("addresses", "routes", "routing-policy"):
        if kind in fields:
            try:
                device.lists.setdefault(kind, []).extend(fields[kind].sequence())
            except ConfigError as exc:
                out.problem(Origin(exc.source, exc.line), f"{exc.key}: {exc.message}; "
                                                          "not kept")


def _boolean(value: Value) -> bool:
    """netplan's booleans: true/false, yes/no, on/off, y/n, in any case."""
    if isinstance(value.node, yaml.ScalarNode):
        word = str(value.node.value).lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
    raise value.error(f"expected true or false, got {config_yaml.describe(value.node)}")


def _name(device: _Device, fields: Dict[str, Value]) -> None:
    """An ethernet's interface name: set-name, else match.name, else (no match) its key."""
    if "set-name" in fields:
        device.name, device.unnamed = fields["set-name"].string(), ""
    elif "match" in fields:
        match = {str(k.node.value): v for k, v in fields["match"].entries()}
        pattern = match["name"].string() if "name" in match else None
        if pattern is not None and not _GLOB_CHARS.intersection(pattern):
            device.name, device.unnamed = pattern, ""
        else:
            device.name = None
            device.unnamed = f"it is matched by {', '.join(sorted(match))}"


def _device(device: _Device, tables: RouteTables, out: Collector) -> None:
    if not any(device.dhcp.values()):
        return  # static: netplan's renderer keeps it
    if not any(device.lists.values()):
        return
    problem = device.unnamed or (values.ifname_problem(device.name) if device.name else "")
    if problem or device.name is None:
        out.problem(device.origin, f"{device.path}: {problem}; nethook does not look devices "
                                   "up, so its addresses, routes and rules are not kept")
        return
    for kind, reader in _READERS:
        for item in device.lists.get(kind, []):
            try:
                out.add(reader(item, device.name, tables))
            except ConfigError as exc:
                out.problem(Origin(exc.source, exc.line), f"{exc.key}: {exc.message}; "
                                                          "not kept")


def _address(item: Value, ifname: str, tables: RouteTables) -> Address:
    """``ADDR/PREFIX``, or a mapping ``{ADDR/PREFIX: {label: L, lifetime: ...}}``."""
    origin = Origin(item.source, item.line)
    if not isinstance(item.node, yaml.MappingNode):
        return Address(ifname, item.parse(values.interface_address), origin=origin)
    entries = item.entries()
    if len(entries) != 1:
        raise item.error("expected one address with its options")
    key, options = entries[0]
    interface = Value(key.node, key.source, item.path).parse(values.interface_address)
    fields = options.mapping(("label", "lifetime"))
    label = fields["label"].string() if "label" in fields else None
    label = None if label == ifname else label
    problem = values.label_problem(label, ifname, interface.version) if label else None
    if problem:
        raise fields["label"].error(problem)
    return Address(ifname, interface, label, origin=origin)


def _netplan_item(item: Value, unsupported: Tuple[str, ...]) -> Dict[str, yaml.Node]:
    """``item``'s keys, without netplan's ``type: unicast``; keys nethook cannot keep are
    errors."""
    if not isinstance(item.node, yaml.MappingNode):
        raise item.error(f"expected a mapping, got {config_yaml.describe(item.node)}")
    kept: Dict[str, yaml.Node] = {}
    for key, value in item.entries():
        name = str(key.node.value)
        if name in unsupported:
            raise value.error(f"'{name}' is not supported by nethook")
        if name == "type":
            if value.string() != "unicast":
                raise value.error(f"type '{value.string()}' is not supported by nethook "
                                  "(it keeps unicast routes)")
            continue
        kept[name] = value.node
    return kept


def _rebuilt(item: Value, fields: Dict[str, yaml.Node]) -> Value:
    node = item.node
    pairs = [(yaml.ScalarNode(config_yaml.TAG_STR, name, value.start_mark, value.end_mark),
              value) for name, value in fields.items()]
    return Value(yaml.MappingNode(node.tag, pairs, node.start_mark, node.end_mark),
                 item.source, item.path)


def _scalar_like(node: yaml.Node, text: str) -> yaml.ScalarNode:
    return yaml.ScalarNode(config_yaml.TAG_STR, text, node.start_mark, node.end_mark)


def _route(item: Value, ifname: str, tables: RouteTables) -> Route:
    """A route as networkd gets it: ``to`` without a prefix length is a host route
    (``to: 10.10.10.8`` is 10.10.10.8/32), IPv6 host bits are masked by the kernel."""
    fields = _netplan_item(item, _ROUTE_UNSUPPORTED)
    to = fields.get("to")
    if isinstance(to, yaml.ScalarNode) and to.tag == config_yaml.TAG_STR \
            and to.value != values.DEFAULT_ROUTE:
        with suppress(ValueError):  # route_item reports what is wrong, with its key
            fields["to"] = _scalar_like(to, iproute.destination(to.value).with_prefixlen)
    return config_schema.route_item(_rebuilt(item, fields), ifname, tables)


def _rule(item: Value, ifname: str, tables: RouteTables) -> Rule:
    """A rule as networkd gets it: without ``table``, the main table; netplan refuses one
    with neither ``from`` nor ``to``."""
    fields = _netplan_item(item, _RULE_UNSUPPORTED)
    if "from" not in fields and "to" not in fields:
        raise item.error("a rule needs 'from' or 'to'; netplan refuses it (IP routing "
                         "policy must include either a 'from' or 'to' IP)")
    fields.setdefault("table", _scalar_like(item.node, "main"))
    return config_schema.rule_item(_rebuilt(item, fields), ifname, tables)


_READERS: Tuple[Tuple[str, Callable[[Value, str, RouteTables], KernelObject]], ...] = (
    ("addresses", _address), ("routes", _route), ("routing-policy", _rule))

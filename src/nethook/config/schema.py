"""The schema of one nethook.yaml file: its node tree to model objects, each with a key path.

Names follow netplan where the concept is the same. A file looks like::

    version: 1                  # required in any file that sets something
    snapshot: true              # default true; an interface's own setting wins
    import: auto                # or none (also []), or a list of ifcfg, ifupdown, netplan
    interfaces:
      eth0:                     # a kernel interface name: 1-15 bytes, no '/', ':' or spaces
        snapshot: false
        addresses:              # ADDR/PREFIX, or {address: ADDR/PREFIX, label: eth0:web}
          - 192.0.2.10/24
        routes:                 # to (required; CIDR or "default"), via, from (the kernel's
          - to: default         # src), table (name or number; default main), scope (global,
            via: 192.0.2.1      # site, link, host or 0-255), metric, on-link (needs via)
        routing-policy:         # from, to (a plain address is a /32 or /128), table (required),
          - from: 192.0.2.10    # priority, mark (N or N/MASK), iif, oif
            table: 100

Decisions an administrator can rely on:

* Key paths in errors count list items from 0, like ``yq``: ``addresses[1]`` is the second.
* ``to: default`` takes the family of ``via``, else of ``from``, else IPv4. A rule takes the
  family of its ``from``/``to``, else IPv4; ``from: ::/0`` is the way to write an IPv6 rule
  that matches every source (a /0 selector is stored as none, as the kernel reports it).
* Labels are IPv4-only, at most 15 bytes, and are the interface name or ``IFNAME:suffix``.
* Table 0 (unspec) and 255 (local) are refused; ``main`` and ``default`` are allowed.
* An integer written with a leading zero (``0100``) is refused: YAML 1.1 reads it as octal.
* A key given twice in one mapping is an error (PyYAML would silently keep the last).
* YAML merge keys (``<<``) are not supported.
* ``services`` says which daemons must listen on restored addresses
  (:mod:`nethook.config.services`).
* ``metrics: {textfile: DIR}`` makes the watcher write ``DIR/nethook.prom`` (``nethook
  metrics``) after each restore, for node_exporter's textfile collector.
* ``import`` chooses which distro files add to the declared state (:mod:`nethook.importers`):
  ``auto`` (the default) reads every source whose files exist; a list names the sources, in
  the order they win over each other; ``none``, ``[]`` or an empty value reads none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import yaml

from nethook.config import services as settings
from nethook.config import values
from nethook.config.imports import IMPORT_AUTO as IMPORT_AUTO
from nethook.config.imports import IMPORT_NONE as IMPORT_NONE
from nethook.config.imports import IMPORT_SOURCES as IMPORT_SOURCES
from nethook.config.nodes import TAG_INT, TAG_STR, Value, describe
from nethook.config.rt_tables import RouteTables
from nethook.model.objects import MAIN_TABLE, Address, IPAddress, IPNetwork, Origin, Route, Rule

VERSION = 1
TOP_KEYS = ("version", "snapshot", "import", "interfaces", "services", "metrics")
METRICS_KEYS = ("textfile",)
INTERFACE_KEYS = ("addresses", "routes", "routing-policy", "snapshot")
ADDRESS_KEYS = ("address", "label")
IPV6_DEFAULT_METRIC = 1024
ROUTE_KEYS = ("to", "via", "from", "table", "scope", "metric", "on-link")
RULE_KEYS = ("from", "to", "table", "priority", "mark", "iif", "oif")


@dataclass
class FileConfig:
    """What one file declares, in document order; each object with its key path."""

    source: str
    snapshot: Optional[bool] = None
    imports: Optional[Tuple[str, ...]] = None  # ("auto",), or the sources named; None: unset
    snapshot_interfaces: Dict[str, bool] = field(default_factory=dict)
    addresses: List[Tuple[Address, str]] = field(default_factory=list)
    routes: List[Tuple[Route, str]] = field(default_factory=list)
    rules: List[Tuple[Rule, str]] = field(default_factory=list)
    services: Optional[settings.ServicesFile] = None  # the ``services:`` section, if any
    metrics_textfile: Optional[str] = None  # ``metrics: {textfile: DIR}``


def read_file(root: Optional[yaml.Node], source: str, tables: RouteTables) -> FileConfig:
    """One composed document (``None`` for an empty file) as a FileConfig."""
    result = FileConfig(source)
    if root is None:
        return result
    top = Value(root, source)
    if not isinstance(root, yaml.MappingNode) and not top.is_null():
        raise top.error(f"expected a mapping with {', '.join(TOP_KEYS)} at the top of the "
                        f"file, got {describe(root)}")
    # The version first: a newer file is "unsupported version", not "unknown key".
    pairs = top.entries()
    if not pairs:
        return result
    _check_version(next((v for k, v in pairs if k.node.value == "version"), None), top)
    fields = top.mapping(TOP_KEYS)
    if "snapshot" in fields:
        result.snapshot = fields["snapshot"].boolean()
    if "import" in fields:
        result.imports = _imports(fields["import"])
    for key, body in fields["interfaces"].entries() if "interfaces" in fields else ():
        _interface(key, body, result, tables)
    if "services" in fields:
        result.services = settings.read(fields["services"])
    if "metrics" in fields:
        result.metrics_textfile = _textfile(fields["metrics"])
    return result


def _textfile(value: Value) -> Optional[str]:
    """``metrics: {textfile: DIR}``: node_exporter's textfile directory, absolute."""
    fields = value.mapping(METRICS_KEYS)
    if "textfile" not in fields:
        return None
    directory = fields["textfile"].string()
    if not directory.startswith("/"):
        raise fields["textfile"].error(f"expected an absolute directory, got '{directory}'")
    return directory


def _check_version(version: Optional[Value], top: Value) -> None:
    if version is None:
        raise top.error(f"'version' is required: start the file with 'version: {VERSION}'")
    node = version.node
    if not isinstance(node, yaml.ScalarNode) or node.tag != TAG_INT:
        raise version.error(f"expected version {VERSION}, got {describe(node)}")
    number = version.integer(-(2**63), 2**63)
    if number != VERSION:
        raise version.error(f"unsupported version {number}; this nethook reads version {VERSION}")


def _imports(value: Value) -> Tuple[str, ...]:
    """``auto``, ``none``, or a list of source names (kept in order, each once)."""
    node = value.node
    if isinstance(node, yaml.ScalarNode) and not value.is_null():
        word = str(node.value) if node.tag == TAG_STR else ""
        if word in (IMPORT_AUTO, IMPORT_NONE):
            return (IMPORT_AUTO,) if word == IMPORT_AUTO else ()
        hint = values.did_you_mean(word, (IMPORT_AUTO, IMPORT_NONE, *IMPORT_SOURCES))
        raise value.error(f"expected {IMPORT_AUTO}, {IMPORT_NONE} or a list of sources "
                          f"({', '.join(IMPORT_SOURCES)}), got {describe(node)}"
                          f"{hint if word else ''}")
    names: List[str] = []
    for item in value.sequence():
        name = item.string()
        if name not in IMPORT_SOURCES:
            raise item.error(f"unknown import source '{name}'"
                             f"{values.did_you_mean(name, IMPORT_SOURCES)}; "
                             f"known: {', '.join(IMPORT_SOURCES)}")
        if name not in names:
            names.append(name)
    return tuple(names)


def _interface(key: Value, body: Value, out: FileConfig, tables: RouteTables) -> None:
    name = str(key.node.value)
    problem = values.ifname_problem(name)
    if problem:
        raise key.error(problem)
    fields = body.mapping(INTERFACE_KEYS)
    if "snapshot" in fields:
        out.snapshot_interfaces[name] = fields["snapshot"].boolean()
    for item in _items(fields, "addresses"):
        out.addresses.append((_address(item, name), item.path))
    for item in _items(fields, "routes"):
        out.routes.append((route_item(item, name, tables), item.path))
    for item in _items(fields, "routing-policy"):
        out.rules.append((rule_item(item, name, tables), item.path))


def _items(fields: Dict[str, Value], key: str) -> List[Value]:
    return fields[key].sequence() if key in fields else []


def _origin(item: Value) -> Origin:
    return Origin(item.source, item.line)


def _address(item: Value, ifname: str) -> Address:
    """``ADDR/PREFIX``, or ``{address: ADDR/PREFIX, label: IFNAME:x}``."""
    node = item.node
    if isinstance(node, yaml.MappingNode):
        fields = item.mapping(ADDRESS_KEYS, {"address": " (ADDR/PREFIX)"})
        interface = fields["address"].parse(values.interface_address)
        label = fields["label"].string() if "label" in fields else None
        problem = values.label_problem(label, ifname, interface.version) if label else None
        if problem:
            raise fields["label"].error(problem)
        return Address(ifname, interface, label, origin=_origin(item))
    if not isinstance(node, yaml.ScalarNode) or item.is_null():
        raise item.error("expected an address such as 192.0.2.10/24, or a mapping with "
                         f"'address' and 'label', got {describe(node)}")
    return Address(ifname, item.parse(values.interface_address), origin=_origin(item))


def _optional(fields: Dict[str, Value], key: str, parser: Callable[[str], IPAddress]
              ) -> Optional[IPAddress]:
    return fields[key].parse(parser) if key in fields else None


def route_item(item: Value, ifname: str, tables: RouteTables) -> Route:
    """One ``routes`` item (the keys are netplan's, so its importer reads them here too)."""
    fields = item.mapping(ROUTE_KEYS, {"to": " (a network such as 10.0.0.0/24, or default)"})
    via = _optional(fields, "via", values.address)
    src = _optional(fields, "from", values.address)
    family = via.version if via is not None else src.version if src is not None else 4
    to = fields["to"]
    dst = to.check(lambda text: values.route_destination(text, family), to.string())
    for key, addr in (("via", via), ("from", src)):
        if addr is not None and addr.version != dst.version:
            raise fields[key].error(f"'{addr}' is IPv{addr.version} but 'to' "
                                    f"({to.node.value}) is IPv{dst.version}")
    onlink = fields["on-link"].boolean() if "on-link" in fields else False
    if onlink and via is None:
        raise fields["on-link"].error("on-link needs 'via': it says that gateway is "
                                      "reachable directly on the interface")
    metric = fields["metric"].integer(0, values.U32_MAX) if "metric" in fields else 0
    if dst.version == 6 and metric == 0:
        metric = IPV6_DEFAULT_METRIC  # what the kernel stores for an IPv6 route without one
    return Route(
        dst=dst,
        table=_table(fields.get("table"), tables),
        metric=metric,
        ifname=ifname,
        gateway=via,
        src=src,
        scope=_scope(fields["scope"]) if "scope" in fields else None,
        onlink=onlink,
        origin=_origin(item),
    )


def _table(value: Optional[Value], tables: RouteTables) -> int:
    if value is None:
        return MAIN_TABLE
    return value.check(tables.resolve, value.string_or_integer("a table name or number"))


def _scope(value: Value) -> str:
    return value.check(values.scope, value.string_or_integer("a scope name or number"))


def _selector(value: Optional[Value]) -> Optional[IPNetwork]:
    if value is None:
        return None
    return value.parse(lambda text: values.network(text, host_ok=True))


def rule_item(item: Value, ifname: str, tables: RouteTables) -> Rule:
    """One ``routing-policy`` item (netplan's keys, and ``iif``/``oif``)."""
    fields = item.mapping(RULE_KEYS, {"table": " (a name from rt_tables or a number)"})
    src = _selector(fields.get("from"))
    dst = _selector(fields.get("to"))
    if src is not None and dst is not None and src.version != dst.version:
        raise fields["to"].error(f"'{fields['to'].node.value}' is IPv{dst.version} but "
                                 f"'from' ({fields['from'].node.value}) is IPv{src.version}")
    family = src.version if src is not None else dst.version if dst is not None else 4
    fwmark, fwmask = _mark(fields.get("mark"))
    return Rule(
        table=_table(fields["table"], tables),
        family=family,
        priority=fields["priority"].integer(0, values.U32_MAX) if "priority" in fields else None,
        # A /0 selector matches everything: the kernel reports it as no selector at all.
        src=src if src is not None and src.prefixlen else None,
        dst=dst if dst is not None and dst.prefixlen else None,
        fwmark=fwmark,
        fwmask=fwmask,
        iif=fields["iif"].parse(values.ifname) if "iif" in fields else None,
        oif=fields["oif"].parse(values.ifname) if "oif" in fields else None,
        ifname=ifname,
        origin=_origin(item),
    )


def _mark(value: Optional[Value]) -> Tuple[Optional[int], Optional[int]]:
    if value is None:
        return None, None
    fwmark, fwmask = value.check(values.mark, value.string_or_integer("a mark (MARK or MARK/MASK)"))
    return fwmark, fwmask

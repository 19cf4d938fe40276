"""A parsed configuration and the routing table names, to and from plain JSON.

What :mod:`nethook.engine.declared_cache` keeps between runs, so that a hook need not
read the YAML again. Decoding trusts nothing: every value is checked for its type,
every object goes through :func:`nethook.model.codec.from_dict`, and anything
unexpected raises :class:`StateError` (the cache then counts as missing).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Dict, List, Optional, Tuple, Type, TypeVar

from nethook.base.errors import StateError
from nethook.config.load import Config
from nethook.config.rt_tables import RouteTables, TableName
from nethook.config.services import (
    DAEMONS,
    DaemonSettings,
    ListenerSpec,
    ServicesConfig,
    UnitSettings,
)
from nethook.model.codec import from_dict, to_dict
from nethook.model.objects import Address, Desired, Origin, Route, Rule

JsonDict = Dict[str, Any]
T = TypeVar("T")


def _typed(value: Any, kind: Type[T]) -> T:
    """``value`` if it is a ``kind`` (a bool is no int here), else StateError."""
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise StateError(f"expected {kind.__name__}, found {type(value).__name__}")
    return value


def _optional(value: Any, kind: Type[T]) -> Optional[T]:
    return None if value is None else _typed(value, kind)


def strings(value: Any) -> Tuple[str, ...]:
    return tuple(_typed(item, str) for item in _typed(value, list))


def _origin(value: Any) -> Optional[Origin]:
    if value is None:
        return None
    source, line = _typed(value, list)
    return Origin(_typed(source, str), _typed(line, int))


def _from_origin(origin: Optional[Origin]) -> Optional[List[Any]]:
    return None if origin is None else [origin.source, origin.line]


# -- the configuration -------------------------------------------------------------------------


def config_to_json(config: Config) -> JsonDict:
    """Everything a Config holds; each object's origin as an index into its files."""
    index = {name: number for number, name in enumerate(config.files)}
    objects = []
    for obj in config.desired.objects():
        entry = to_dict(obj)
        origin = obj.origin or Origin("")
        entry["origin"] = [index.get(origin.source, origin.source), origin.line]
        objects.append(entry)
    return {"files": list(config.files), "snapshot": config.snapshot,
            "snapshot_interfaces": dict(config.snapshot_interfaces),
            "imports": list(config.imports), "services": _services_to_json(config.services),
            "metrics_textfile": None if config.metrics_textfile is None
            else str(config.metrics_textfile),
            "objects": objects}


def config_from_json(data: Any) -> Config:
    data = _typed(data, dict)
    files = strings(data["files"])
    addresses: List[Address] = []
    routes: List[Route] = []
    rules: List[Rule] = []
    for entry in _typed(data["objects"], list):
        where, line = _typed(_typed(entry, dict)["origin"], list)
        source = files[where] if isinstance(where, int) and not isinstance(where, bool) \
            else _typed(where, str)
        obj = from_dict(entry, Origin(source, _typed(line, int)))
        if isinstance(obj, Address):
            addresses.append(obj)
        elif isinstance(obj, Route):
            routes.append(obj)
        else:
            rules.append(obj)
    interfaces = {_typed(name, str): _typed(flag, bool) for name, flag in
                  _typed(data["snapshot_interfaces"], dict).items()}
    textfile = _optional(data["metrics_textfile"], str)
    return Config(
        desired=Desired(frozenset(addresses), frozenset(routes), frozenset(rules)),
        snapshot=_typed(data["snapshot"], bool),
        snapshot_interfaces=MappingProxyType(interfaces), files=files,
        imports=strings(data["imports"]), services=_services_from_json(data["services"]),
        metrics_textfile=None if textfile is None else Path(textfile))


# -- the services section ------------------------------------------------------------------------


def _services_to_json(services: ServicesConfig) -> JsonDict:
    daemons = {}
    for name in DAEMONS:
        daemon = services.daemon(name)
        daemons[name] = [daemon.enabled, daemon.wait, daemon.config, daemon.unit]
    units = [{"unit": unit.unit, "listen": [[s.proto, s.port, str(s.address)]
                                            for s in unit.listen],
              "wait": unit.wait, "action": unit.action, "origin": _from_origin(unit.origin)}
             for unit in services.units]
    return {"rate_limit": services.rate_limit, "daemons": daemons, "units": units}


def _services_from_json(data: Any) -> ServicesConfig:
    data = _typed(data, dict)
    daemons: Dict[str, DaemonSettings] = {}
    for name in DAEMONS:
        enabled, wait, config, unit = _typed(_typed(data["daemons"], dict)[name], list)
        daemons[name] = DaemonSettings(_typed(enabled, bool), _typed(wait, int),
                                       _optional(config, str), _optional(unit, str))
    units = []
    for entry in _typed(data["units"], list):
        entry = _typed(entry, dict)
        listen = tuple(ListenerSpec(_typed(proto, str), _typed(port, int),
                                    ipaddress.ip_address(_typed(address, str)))
                       for proto, port, address in _typed(entry["listen"], list))
        units.append(UnitSettings(_typed(entry["unit"], str), listen, _typed(entry["wait"], int),
                                  _typed(entry["action"], str), _origin(entry["origin"])))
    return ServicesConfig(rate_limit=_typed(data["rate_limit"], int), ntpd=daemons["ntpd"],
                          chrony=daemons["chrony"], xinetd=daemons["xinetd"],
                          units=tuple(units))


# -- routing table names -------------------------------------------------------------------------


def _table_name(entry: TableName) -> List[Any]:
    return [entry.name, entry.id, entry.origin.source, entry.origin.line]


def _table_name_from(value: Any) -> TableName:
    name, table, source, line = _typed(value, list)
    return TableName(_typed(name, str), _typed(table, int),
                     Origin(_typed(source, str), _typed(line, int)))


def tables_to_json(tables: RouteTables) -> JsonDict:
    """The names in their order (the first name of an id is the one shown)."""
    return {"names": [_table_name(e) for e in tables.names.values()],
            "ambiguous": [[name, [_table_name(e) for e in entries]]
                          for name, entries in tables.ambiguous.items()],
            "locations": list(tables.locations)}


def tables_from_json(data: Any) -> RouteTables:
    data = _typed(data, dict)
    names: Dict[str, TableName] = {}
    for value in _typed(data["names"], list):
        entry = _table_name_from(value)
        names[entry.name] = entry
    ambiguous: Mapping[str, Tuple[TableName, ...]] = {
        _typed(name, str): tuple(_table_name_from(e) for e in _typed(entries, list))
        for name, entries in _typed(data["ambiguous"], list)}
    return RouteTables(MappingProxyType(names), MappingProxyType(dict(ambiguous)),
                       strings(data["locations"]))

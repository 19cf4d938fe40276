"""Check 3: policy routing that does not hold together.

From the files: rt_tables lines ``ip`` cannot read, a name defined with two ids, one id
with two names, names on the reserved ids (0, 253, 254, 255), ``rule-*``/``route-*``
lines (and ifupdown ``up ip ...`` lines) naming a table no rt_tables file defines, and
declared rules leading to a table where nothing declares a route. From the kernel: rules
whose table is empty, which is what a lease change leaves when the interface lost its
last IPv4 address and the kernel flushed every route through it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Dict, Iterator, List, Optional, Tuple

from nethook.base.errors import ConfigError
from nethook.base.files import entry_names
from nethook.config.rt_tables import BUILTIN_ORIGIN, RouteTables, TableError, TableName
from nethook.config.values import did_you_mean
from nethook.doctor.findings import Evidence, Finding, Severity
from nethook.doctor.inputs import Inspection
from nethook.importers.base import is_backup, read_text
from nethook.importers.ifcfg import DIRECTORY as NETWORK_SCRIPTS
from nethook.importers.iproute import IP_PROGRAMS
from nethook.model.objects import IPNetwork, Origin, Route, Rule

CHECK = "policy"
SYSTEM_TABLES = {0: "unspec", 253: "default", 254: "main", 255: "local"}
_RESERVED_WHY = {
    0: "`ip` takes table 0 for 'unspecified' and puts the routes in main",
    253: "the default table is looked up last, after main",
    254: "its routes mix with the main table's",
    255: "its routes go into the kernel's local table, looked up before every policy rule",
}
_ROUTE_FILES = ("route-", "route6-", "rule-", "rule6-")
_TABLE_WORDS = frozenset({"table", "lookup"})
_COMMANDS = ("pre-up", "up", "post-up")


def check(inspection: Inspection) -> List[Finding]:
    findings = []
    if inspection.tables_error is not None:
        findings.append(_unreadable(inspection.tables_error))
    tables = inspection.tables
    findings += _ambiguous(tables) + _shared_ids(tables) + _reserved(tables)
    findings += [_unknown(tables, origin, line, value)
                 for origin, line, value in _table_words(inspection)
                 if _undefined(tables, value)]
    findings += _rules_without_routes(inspection)
    return findings + _empty_tables(inspection)


def _name(tables: RouteTables, table: int) -> str:
    name = tables.name_of(table)
    return f"{table} ({name})" if name and name != str(table) else str(table)


def ip_rule(rule: Rule, tables: RouteTables) -> str:
    """A rule as `ip rule` shows it: ``500:  from 192.0.2.50 lookup vpn``."""
    def shown(network: Optional[IPNetwork]) -> str:
        if network is None:
            return "all"
        whole = network.prefixlen == network.max_prefixlen
        return str(network.network_address) if whole else network.with_prefixlen

    parts = [f"{rule.priority}:" if rule.priority is not None else "", f"from {shown(rule.src)}"]
    if rule.dst is not None:
        parts.append(f"to {shown(rule.dst)}")
    if rule.fwmark is not None:
        mask = f"/{rule.fwmask:#x}" if rule.fwmask is not None else ""
        parts.append(f"fwmark {rule.fwmark:#x}{mask}")
    parts += [f"iif {rule.iif}"] if rule.iif else []
    parts += [f"oif {rule.oif}"] if rule.oif else []
    parts.append(f"lookup {tables.name_of(rule.table) or rule.table}")
    return " ".join(p for p in parts if p)


def _free_id(tables: RouteTables) -> int:
    used = {entry.id for entry in tables.names.values()}
    used.update(entry.id for entries in tables.ambiguous.values() for entry in entries)
    candidates: List[int] = [*range(100, 253), *range(1, 100)]
    return next((i for i in candidates if i not in used), 256)


def _unreadable(error: ConfigError) -> Finding:
    return Finding(
        CHECK, "rt-tables-unreadable", Severity.ERROR,
        "an rt_tables file has a line `ip` cannot read",
        (Evidence(f"{error.source}:{error.line}" if error.line else error.source,
                  error.message),),
        "`ip` stops reading the file at that line, so the table names after it are unknown "
        "to `ip`, to nethook and to every route and rule file that uses them",
        "correct the line (`ID NAME`, the id decimal or 0x hex) or delete it")


def _entry(entry: TableName) -> Evidence:
    return Evidence.at(entry.origin, f"{entry.id} {entry.name}")


def _ambiguous(tables: RouteTables) -> List[Finding]:
    return [Finding(
        CHECK, "table-name-twice", Severity.WARNING,
        f"table name '{name}' is defined with {len(entries)} ids",
        tuple(_entry(e) for e in entries),
        f"which table `ip` takes for '{name}' depends on the ids, not on the order of the "
        "files, and nethook refuses every line that uses the name",
        f"keep one definition of '{name}' and give the other table another name")
        for name, entries in sorted(tables.ambiguous.items())]


def _user_entries(tables: RouteTables) -> Iterator[TableName]:
    return (e for e in tables.names.values() if e.origin != BUILTIN_ORIGIN
            and SYSTEM_TABLES.get(e.id) != e.name)


def _shared_ids(tables: RouteTables) -> List[Finding]:
    by_id: Dict[int, List[TableName]] = defaultdict(list)
    for entry in _user_entries(tables):
        if entry.id not in SYSTEM_TABLES:
            by_id[entry.id].append(entry)
    return [Finding(
        CHECK, "table-id-twice", Severity.WARNING,
        f"table {table} has {len(entries)} names: "
        f"{', '.join(repr(e.name) for e in entries)}", tuple(_entry(e) for e in entries),
        "routes and rules written with either name land in the same table, so set-ups "
        "meant to be apart share their routes, and `ip` shows only one of the names",
        f"give '{entries[-1].name}' an id no other name uses (e.g. {_free_id(tables)})")
        for table, entries in sorted(by_id.items()) if len(entries) > 1]


def _reserved(tables: RouteTables) -> List[Finding]:
    return [Finding(
        CHECK, "table-id-reserved", Severity.WARNING,
        f"table name '{entry.name}' uses the reserved id {entry.id} "
        f"({SYSTEM_TABLES[entry.id]})", (_entry(entry),),
        f"'{entry.name}' is another name for the {SYSTEM_TABLES[entry.id]} table: "
        f"{_RESERVED_WHY[entry.id]}",
        f"give '{entry.name}' an unused id (e.g. {_free_id(tables)})")
        for entry in _user_entries(tables) if entry.id in SYSTEM_TABLES]


def _table_words(inspection: Inspection) -> Iterator[Tuple[Origin, str, str]]:
    """(where, the line, the table value) for each table a route/rule line names."""
    directory = inspection.path(NETWORK_SCRIPTS)
    for name in entry_names(directory):
        if not name.startswith(_ROUTE_FILES) or is_backup(name):
            continue
        for number, line in enumerate((read_text(directory / name) or "").splitlines(), 1):
            if not line.lstrip().startswith("#"):
                for value in _tables_named(line.split()):
                    yield Origin(str(directory / name), number), line.strip(), value
    for stanza in inspection.stanzas:
        for key in _COMMANDS:
            for line, origin in stanza.values(key):
                words = line.split()
                if words and words[0] in IP_PROGRAMS:
                    for value in _tables_named(words):
                        yield origin, f"{key} {line}", value


def _tables_named(words: List[str]) -> Iterator[str]:
    for word, value in zip(words, words[1:]):
        if word in _TABLE_WORDS and "$" not in value:
            yield value


def _undefined(tables: RouteTables, value: str) -> bool:
    if value in tables.ambiguous:
        return False  # reported as such
    try:
        tables.lookup(value)
    except TableError:
        return True
    return False


def _unknown(tables: RouteTables, origin: Origin, line: str, value: str) -> Finding:
    known = sorted(n for n, e in tables.names.items() if e.id not in SYSTEM_TABLES)
    where = tables.locations[0] if tables.locations else "/etc/iproute2/rt_tables"
    return Finding(
        CHECK, "table-unknown", Severity.ERROR,
        f"{origin.source.rsplit('/', 1)[-1]} names table '{value}', which no rt_tables file "
        f"defines{did_you_mean(value, known)}", (Evidence.at(origin, line),),
        "`ip` refuses the whole line, so the rule or route it adds never exists and the "
        "traffic it was for stays in the main table",
        f"add `{_free_id(tables)} {value}` to {where}, or write the table's number")


def _rules_without_routes(inspection: Inspection) -> List[Finding]:
    desired = inspection.desired
    routed = {r.table for r in desired.routes}
    return [Finding(
        CHECK, "rule-without-routes", Severity.WARNING,
        f"rule `{ip_rule(rule, inspection.tables)}` leads to table "
        f"{_name(inspection.tables, rule.table)}, where nothing declares a route",
        (Evidence(str(rule.origin) if rule.origin else "nethook",
                  ip_rule(rule, inspection.tables)),),
        "a lease change that leaves the interface without an IPv4 address empties the "
        "table, nothing puts its routes back, and the rule's traffic falls through to the "
        "main table with the wrong source address",
        "declare the table's routes beside the rule (a route-IFACE line `default via GW "
        "table T`, an `up ip route add ... table T` line, or `routes:` in nethook.yaml)")
        for rule in sorted(desired.rules, key=_rule_order)
        if rule.table not in SYSTEM_TABLES and rule.table not in routed]


def _rule_order(rule: Rule) -> Tuple[int, int, str]:
    return (rule.family, rule.priority or 0, rule.describe())


def _empty_tables(inspection: Inspection) -> List[Finding]:
    observed = inspection.live.observed()
    routed = {r.table for r in observed.routes}
    leading: Dict[int, List[Rule]] = defaultdict(list)
    for rule in sorted(observed.rules, key=_rule_order):
        if rule.table not in SYSTEM_TABLES and rule.table not in routed:
            leading[rule.table].append(rule)
    findings = []
    for table, rules in sorted(leading.items()):
        declared = sorted((r for r in inspection.desired.routes if r.table == table),
                          key=Route.describe)
        name = _name(inspection.tables, table)
        if declared:
            fix = "`nethook apply` puts back the routes declared for it"
        else:
            fix = (f"put its routes back, and declare them (a route-IFACE line, an `up ip "
                   f"route add ... table {table}` line, or `routes:` in nethook.yaml) so "
                   "that nethook restores them after the next lease change")
        findings.append(Finding(
            CHECK, "empty-table", Severity.WARNING,
            f"table {name} is empty, and {len(rules)} rule(s) lead to it",
            tuple(Evidence(f"ip -{r.family} rule", ip_rule(r, inspection.tables))
                  for r in rules)
            + tuple(Evidence(str(r.origin), f"declared: {r.describe()}") for r in declared),
            "the traffic those rules select finds no route there and falls through to the "
            "main table, leaving by the main default route with the wrong source address; a "
            "lease change that leaves the interface without IPv4 addresses empties a table "
            "like this", fix))
    return findings

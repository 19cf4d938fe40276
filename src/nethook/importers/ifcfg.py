"""RHEL/CentOS network-scripts (``/etc/sysconfig/network-scripts``), read as initscripts does.

What is kept, per interface file ``ifcfg-NAME`` (the interface is ``DEVICE``, else NAME):

* ``BOOTPROTO=dhcp`` (or ``bootp``): every static address, ``IPADDR`` then ``IPADDR0``,
  ``IPADDR1``, ... with ``PREFIXn`` (else ``NETMASKn``): the lease is the primary, these
  are extra addresses a lease change destroys;
* any other BOOTPROTO: the same list without its first entry, which is the interface's
  own static primary and belongs to the network scripts;
* like initscripts' expand_config, the list stops at the first missing ``IPADDRn`` from
  ``IPADDR2`` on (a later one is reported as unused); an address with neither prefix nor
  netmask gets the classful prefix ipcalc gives it, with a warning;
* ``IPV6ADDR_SECONDARIES`` (prefix 64 when none is written) when ``IPV6INIT=yes``;
* NetworkManager's policy rules, ``ROUTING_RULE_N`` (IPv4) and ``ROUTING_RULE6_N`` (IPv6),
  each an ``ip rule add`` argument list, in N's order, as its ifcfg-rh plugin writes them;
* alias files ``ifcfg-DEV:N`` and range files ``ifcfg-DEV-rangeN`` of a ``DEVICE`` some
  interface file configures, then its ``route-``/``route6-``/``rule-``/``rule6-`` files
  (by device name and by the config's own name, as ifup-routes looks them up), and the
  route files of each alias unless ``NO_ALIASROUTING=yes``.

Alias and range files are read as ifup-aliases reads them: they inherit the parent's
``PREFIX`` and ``NETMASK``, and a ``PREFIX`` (the alias's or the parent's) wins over a
``NETMASK``; the label is the alias's ``DEVICE`` (else the file name); ``ONPARENT=no``
skips the file; ``ONBOOT`` in an alias means nothing to initscripts and is ignored. A
range gives ``IPADDR_START`` .. ``IPADDR_END`` (one /24, as initscripts requires) the
labels ``DEV:CLONENUM_START``, ``DEV:CLONENUM_START+1``, ...

Skipped on purpose: an interface file with ``ONBOOT=no`` (with its aliases, ranges, route
and rule files: initscripts does not bring the interface up); backup files (``~``,
``.bak``, ``.old``, ``.orig``, ``.rpmnew``, ``.rpmorig``, ``.rpmsave``). Reported and
skipped: alias, range, route and rule files no interface file brings up, lines that are
not assignments, values that need the shell to expand them.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Set, Tuple

from nethook.base.files import entry_names
from nethook.config import values
from nethook.config.rt_tables import RouteTables
from nethook.importers import ifcfg_routes, iproute, shellvars
from nethook.importers.base import (
    Collector,
    Imported,
    classful_prefix,
    is_backup,
    is_file,
    prefix_of_netmask,
    read_text,
)
from nethook.model.objects import IFNAME_MAX, Address, Origin

NAME = "ifcfg"
DIRECTORY = "etc/sysconfig/network-scripts"
_PREFIXES = ("ifcfg-", "route-", "route6-", "rule-", "rule6-")
_IPADDR = re.compile(r"IPADDR([0-9]+)\Z")
_ROUTING_RULE = re.compile(r"ROUTING_RULE(6?)_([0-9]+)\Z")
_ALIAS_NUMBER = re.compile(r"[0-9A-Za-z_]*\Z")
_DYNAMIC = ("dhcp", "bootp")
IPV6_SECONDARY_PREFIX = 64


def present(root: Path) -> bool:
    return any(n.startswith(_PREFIXES) and not is_backup(n)
               for n in entry_names(root / DIRECTORY))


def read(root: Path, tables: RouteTables) -> Imported:
    return _Reader(root / DIRECTORY, tables).run()


@dataclass(frozen=True)
class _Prefix:
    """Where an alias's prefix may come from, in initscripts' order of precedence."""

    own_prefix: Optional[shellvars.Var]
    parent_prefix: Optional[shellvars.Var]
    own_netmask: Optional[shellvars.Var]
    parent_netmask: Optional[shellvars.Var]


class _Reader:
    def __init__(self, directory: Path, tables: RouteTables) -> None:
        self.directory = directory
        self.tables = tables
        self.out = Collector(NAME)
        self.names = [n for n in entry_names(directory)
                      if n.startswith(_PREFIXES) and not is_backup(n)]
        self.known = set(self.names)
        self.used: Set[str] = set()

    def run(self) -> Imported:
        configs = [n[len("ifcfg-"):] for n in self.names if n.startswith("ifcfg-")
                   and ":" not in n and "-range" not in n]
        done: Set[str] = set()
        for name in configs:
            self._interface(name, done)
        for name in self.names:
            if name not in self.used:
                self.out.problem(Origin(str(self.directory / name)),
                                 "no ifcfg file brings up its interface, so initscripts "
                                 "never reads this file; not kept")
        return self.out.result()

    def _load(self, name: str) -> Optional[shellvars.ShellVars]:
        self.used.add(name)
        path = self.directory / name
        text = read_text(path) if is_file(path) else None
        if text is None:
            return None
        self.out.files.append(str(path))
        variables, problems = shellvars.parse(text, str(path))
        self.out.problems.extend(problems)
        return variables

    def _interface(self, name: str, done: Set[str]) -> None:
        config = self._load(f"ifcfg-{name}")
        if config is None:
            return
        device = self._value(config, "DEVICE") or name
        problem = values.ifname_problem(device)
        if problem:
            self.out.problem(config.origin("DEVICE"), f"{problem}; file not read")
            return
        owned = self._owned_files(name, device)
        if config.is_false("ONBOOT"):
            self.used.update(owned)  # the interface is not brought up: nothing to keep
            return
        self._addresses(config, device)
        if device not in done:  # two files for one device: ifup-aliases runs once per device
            done.add(device)
            for alias in (n for n in owned if n.startswith(f"ifcfg-{device}:")):
                self._alias(alias, config, device)
            for group in (n for n in owned if n.startswith(f"ifcfg-{device}-range")):
                self._range(group, config, device)
        self._routes(device, (device, name))

    def _owned_files(self, name: str, device: str) -> List[str]:
        """The alias, range, route and rule files that come with one interface file."""
        mine = {f"{kind}{n}" for kind in _PREFIXES[1:] for n in (name, device)}
        return [n for n in self.names
                if n.startswith((f"ifcfg-{device}:", f"ifcfg-{device}-range")) or n in mine
                or n.startswith(tuple(f"{kind}{device}:" for kind in _PREFIXES[1:]))]

    def _value(self, config: shellvars.ShellVars, key: str) -> Optional[str]:
        """A variable's value; one the shell would expand is reported and taken as unset."""
        var = config.var(key)
        if var is not None and var.expands:
            self.out.problem(var.origin, f"{key} uses shell expansion, which nethook does "
                                         "not evaluate; taken as unset")
            return None
        return var.value if var is not None else None

    def _addresses(self, config: shellvars.ShellVars, device: str) -> None:
        found = self._indexed(config)
        dynamic = (self._value(config, "BOOTPROTO") or "").lower() in _DYNAMIC
        for suffix, var in found if dynamic else found[1:]:
            plan = _Prefix(config.var(f"PREFIX{suffix}"), None, config.var(f"NETMASK{suffix}"),
                           None)
            address = self._ipv4(var, suffix, plan, "")
            if address is not None:
                self.out.add(Address(device, address, origin=var.origin))
        if config.is_true("IPV6INIT"):
            self._ipv6_secondaries(config, device)
        self._routing_rules(config, device)

    def _routing_rules(self, config: shellvars.ShellVars, device: str) -> None:
        """NetworkManager's ``ROUTING_RULE_N`` and ``ROUTING_RULE6_N``, in N's order."""
        found = [(key, int(match.group(2)), 6 if match.group(1) else 4)
                 for key in config.variables if (match := _ROUTING_RULE.match(key))]
        for key, _number, family in sorted(found, key=lambda item: item[1:]):
            var = config.var(key)
            if var is None:
                continue
            try:
                if var.expands:
                    raise ValueError("it uses shell expansion, which nethook does not evaluate")
                self.out.add(iproute.rule_from_args(var.value.split(), family=family,
                                                    ifname=device, tables=self.tables,
                                                    origin=var.origin))
            except ValueError as exc:
                self.out.problem(var.origin, f"{key} '{var.value}': {exc}; not kept")

    def _indexed(self, config: shellvars.ShellVars) -> List[Tuple[str, shellvars.Var]]:
        """IPADDR, IPADDR0, IPADDR1, ... in expand_config's order and with its stop rule."""
        found: List[Tuple[str, shellvars.Var]] = []
        stop = 256
        for suffix in ("", *map(str, range(256))):
            var = config.var(f"IPADDR{suffix}")
            if var is not None:
                found.append((suffix, var))
            elif suffix and int(suffix) >= 2:
                stop = int(suffix)
                break
        for key, var in config.variables.items():
            match = _IPADDR.match(key)
            if match and int(match.group(1)) > stop and var.value:
                self.out.problem(var.origin, f"{key} is not used: initscripts stops at the "
                                             "first missing IPADDRn from IPADDR2 on "
                                             f"(IPADDR{stop} is missing)")
        return found

    def _ipv4(self, var: shellvars.Var, suffix: str, plan: _Prefix,
              parent: str) -> Optional[ipaddress.IPv4Interface]:
        key = f"IPADDR{suffix}"
        try:
            if var.expands:
                raise ValueError("it uses shell expansion, which nethook does not evaluate")
            addr = values.address(var.value)
            if not isinstance(addr, ipaddress.IPv4Address):
                raise ValueError(f"'{var.value}' is not an IPv4 address")
            prefix = self._prefix(addr, (key, suffix), plan, var.origin, parent)
        except ValueError as exc:
            self.out.problem(var.origin, f"{key}: {exc}; not kept")
            return None
        return ipaddress.IPv4Interface((int(addr), prefix))

    def _prefix(self, addr: ipaddress.IPv4Address, names: Tuple[str, str], plan: _Prefix,
                origin: Origin, parent: str) -> int:
        """PREFIX (own, then the parent's) over NETMASK (own, then the parent's).

        ``names`` is the address variable and the suffix of its PREFIX/NETMASK.
        """
        key, suffix = names
        for var in (plan.own_prefix, plan.parent_prefix):
            if var is not None:
                if var.expands or not var.value.isdigit() or int(var.value) > 32:
                    raise ValueError(f"PREFIX{suffix} '{var.value}' is not a prefix length")
                if var is plan.parent_prefix:
                    self._netmask_overridden(plan.own_netmask, int(var.value), parent)
                return int(var.value)
        for var in (plan.own_netmask, plan.parent_netmask):
            if var is not None:
                if var.expands:
                    raise ValueError(f"NETMASK{suffix} uses shell expansion")
                return prefix_of_netmask(var.value)
        classful = classful_prefix(addr)
        where = f" here or in {parent}" if parent else ""
        if classful is None:
            raise ValueError(f"no PREFIX{suffix} or NETMASK{suffix}{where}")
        self.out.problem(origin, f"{key} {addr} has no PREFIX{suffix} or NETMASK{suffix}"
                                 f"{where}: kept as /{classful}, the classful prefix "
                                 "initscripts gives it")
        return classful

    def _netmask_overridden(self, netmask: Optional[shellvars.Var], prefix: int,
                            parent: str) -> None:
        """An alias NETMASK that initscripts ignores because the parent sets PREFIX."""
        if netmask is None:
            return
        try:
            same = prefix_of_netmask(netmask.value) == prefix
        except ValueError:
            same = False
        if not same:
            self.out.problem(netmask.origin,
                             f"NETMASK {netmask.value} is not used: initscripts gives an "
                             f"alias the PREFIX of {parent} ({prefix}) unless the alias sets "
                             f"PREFIX itself; kept as /{prefix}")

    def _ipv6_secondaries(self, config: shellvars.ShellVars, device: str) -> None:
        var = config.var("IPV6ADDR_SECONDARIES")
        if var is None:
            return
        for word in var.value.split():
            text = word if "/" in word else f"{word}/{IPV6_SECONDARY_PREFIX}"
            try:
                interface = values.interface_address(text)
            except ValueError as exc:
                self.out.problem(var.origin, f"IPV6ADDR_SECONDARIES: {exc}; not kept")
                continue
            self.out.add(Address(device, interface, origin=var.origin))

    def _alias(self, name: str, parent: shellvars.ShellVars, device: str) -> None:
        alias = self._load(name)
        if alias is None or (alias.get("ONPARENT") or "") in ("no", "NO"):
            self._routes(device, (name[len("ifcfg-"):],), read=False)  # not brought up
            return
        label = self._value(alias, "DEVICE") or name[len("ifcfg-"):]
        origin = alias.origin("DEVICE") if alias.var("DEVICE") else Origin(alias.source)
        problem = self._label_problem(label, device)
        ipaddr = alias.var("IPADDR")
        if problem is None and ipaddr is None:
            problem = "no IPADDR"
        if problem:
            self.out.problem(origin, f"{problem}; not kept")
            self._routes(device, (name[len("ifcfg-"):], label), read=False)
            return
        assert ipaddr is not None
        plan = _Prefix(alias.var("PREFIX"), parent.var("PREFIX"), alias.var("NETMASK"),
                       parent.var("NETMASK"))
        address = self._ipv4(ipaddr, "", plan, Path(parent.source).name)
        if address is not None:
            self.out.add(Address(device, address, label, origin=ipaddr.origin))
        self._alias_routes(alias, parent, device, (label,))

    def _alias_routes(self, alias: shellvars.ShellVars, parent: shellvars.ShellVars,
                      device: str, labels: Tuple[str, ...]) -> None:
        """ifup-aliases runs ifup-routes for each alias unless NO_ALIASROUTING=yes."""
        routing = alias.get("NO_ALIASROUTING") or parent.get("NO_ALIASROUTING")
        self._routes(device, labels, read=routing != "yes")

    @staticmethod
    def _label_problem(label: str, device: str) -> Optional[str]:
        if not label.startswith(f"{device}:"):
            return f"DEVICE={label} is not an alias of {device}"
        if not _ALIAS_NUMBER.match(label[len(device) + 1:]):
            return f"'{label}' has an invalid alias number"
        return values.label_problem(label, device, 4)

    def _range(self, name: str, parent: shellvars.ShellVars, device: str) -> None:
        group = self._load(name)
        if group is None or (group.get("ONPARENT") or "") in ("no", "NO"):
            return
        origin = group.origin("IPADDR_START")
        try:
            first, last, clone = self._range_bounds(group, device)
            plan = _Prefix(group.var("PREFIX"), parent.var("PREFIX"), group.var("NETMASK"),
                           parent.var("NETMASK"))
            prefix = self._prefix(first, ("IPADDR_START", ""), plan, origin,
                                  Path(parent.source).name)
        except ValueError as exc:
            self.out.problem(origin, f"{exc}; range not kept")
            return
        base = int(first)
        labels = tuple(f"{device}:{clone + n}" for n in range(int(last) - base + 1))
        for offset, label in enumerate(labels):
            address = ipaddress.IPv4Interface((base + offset, prefix))
            self.out.add(Address(device, address, label, origin=origin))
        self._alias_routes(group, parent, device, labels)

    def _range_bounds(self, group: shellvars.ShellVars, device: str
                      ) -> Tuple[ipaddress.IPv4Address, ipaddress.IPv4Address, int]:
        start, end = group.var("IPADDR_START"), group.var("IPADDR_END")
        if start is None or end is None:
            raise ValueError("IPADDR_START and IPADDR_END are both required")
        first, last = (_ipv4_address(v, k) for v, k in ((start, "IPADDR_START"),
                                                        (end, "IPADDR_END")))
        if start.value.rpartition(".")[0] != end.value.rpartition(".")[0]:
            raise ValueError(f"IPADDR_START {first} and IPADDR_END {last} are not in the same "
                             "/24, which initscripts requires")
        if first > last:
            raise ValueError(f"IPADDR_START {first} is after IPADDR_END {last}")
        clone_var = group.var("CLONENUM_START")
        if clone_var is None:
            self.out.problem(group.origin("IPADDR_START"),
                             f"CLONENUM_START is not set: labels start at {device}:0 "
                             f"(initscripts would label the first address '{device}:')")
        clone_text = clone_var.value if clone_var is not None else "0"
        if not clone_text.isdigit():
            raise ValueError(f"CLONENUM_START '{clone_text}' is not a number")
        clone = int(clone_text)
        longest = f"{device}:{clone + int(last) - int(first)}"
        if len(longest) > IFNAME_MAX:
            raise ValueError(f"label '{longest}' is longer than {IFNAME_MAX} characters")
        return first, last, clone

    def _routes(self, device: str, names: Tuple[str, ...], read: bool = True) -> None:
        """ifup-routes: route-, route6- files, then rule-, rule6- files, for each name."""
        for kind in ("route", "rule"):
            for name in dict.fromkeys(names):
                for family, prefix in ((4, f"{kind}-"), (6, f"{kind}6-")):
                    if f"{prefix}{name}" in self.known:
                        self._route_file(f"{prefix}{name}", kind, family, device, read)

    def _route_file(self, name: str, kind: str, family: int, device: str, read: bool) -> None:
        self.used.add(name)
        path = self.directory / name
        text = read_text(path) if read and is_file(path) else None
        if text is None:
            return
        self.out.files.append(str(path))
        ifcfg_routes.read(text, str(path), kind=kind, family=family, ifname=device,
                          tables=self.tables, out=self.out)


def _ipv4_address(var: shellvars.Var, key: str) -> ipaddress.IPv4Address:
    if var.expands:
        raise ValueError(f"{key} uses shell expansion, which nethook does not evaluate")
    addr = values.address(var.value)
    if not isinstance(addr, ipaddress.IPv4Address):
        raise ValueError(f"{key} '{var.value}' is not an IPv4 address")
    return addr


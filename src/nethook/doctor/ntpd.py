"""Check 6: ntpd and the alias addresses it should serve.

* ``interface listen|ignore|drop`` rules (``nic`` is the same) that exclude an alias the
  administrator evidently wants served: a ``listen`` rule names its device (ntpd matches
  names against the address label, ``eth0:0``, not ``eth0``) or a ``restrict`` line names
  the address. The last rule that matches decides, as in ntpd; no rule means listen.
* ``-U 0`` in the daemon's options: classic ntpd then never rescans its interfaces, not
  even on netlink events, and never binds a restored alias again; ntpsec 1.2.2 ignores
  ``-U`` (lab notes §6). ``-L`` (``--novirtualips``) skips every alias.
* ntpd running in this network namespace (bound to some address on port 123) but not on
  an alias that is present and that its rules give it (``/proc/net/udp``, ``udp6``).
"""

from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import List, Optional, Sequence, Tuple

from nethook.doctor.findings import Evidence, Finding, Severity
from nethook.doctor.inputs import Inspection
from nethook.importers import shellvars
from nethook.model.objects import Address, IPAddress, Origin

CHECK = "ntpd"
NTP_PORT = 123
CONFIGS = ("etc/ntpsec/ntp.conf", "etc/ntp.conf")
# (file, variable, daemon): the daemon's options, as its init script or unit reads them
OPTIONS = (("etc/default/ntpsec", "NTPD_OPTS", "ntpsec"),
           ("etc/default/ntp", "NTPD_OPTS", "ntpd"),
           ("etc/sysconfig/ntpd", "OPTIONS", "ntpd"))
_ACTIONS = frozenset({"listen", "ignore", "drop"})
_GENERIC = frozenset({"all", "ipv4", "ipv6", "wildcard"})
_WILDCARDS = frozenset({ipaddress.ip_address("0.0.0.0"), ipaddress.ip_address("::")})


@dataclass(frozen=True)
class InterfaceRule:
    action: str
    match: str
    origin: Origin
    line: str

    def matches(self, ip: IPAddress, name: str) -> bool:
        word = self.match.lower()
        if word in _GENERIC:
            return word == "all" or word == f"ipv{ip.version}"
        try:
            return ip in ipaddress.ip_network(self.match, strict=False)
        except ValueError:
            return fnmatchcase(name.lower(), word)


@dataclass(frozen=True)
class NtpConfig:
    rules: Tuple[InterfaceRule, ...]
    restricted: Tuple[Tuple[str, Origin, str], ...]  # (address word, where, line)

    def decision(self, ip: IPAddress, name: str) -> Optional[InterfaceRule]:
        """The last rule that matches; None: no rule does, and ntpd listens."""
        found = None
        for rule in self.rules:
            if rule.matches(ip, name):
                found = rule
        return found


def check(inspection: Inspection) -> List[Finding]:
    config = _config(inspection)
    options = _options(inspection)
    if config is None and not options:
        return []
    findings = [f for option in options for f in _option_findings(*option)]
    if config is None:
        return findings
    aliases = _aliases(inspection)
    for address in aliases:
        excluded = _excluded(config, address)
        if excluded is not None:
            findings.append(excluded)
    return findings + _not_listening(inspection, config, aliases, options)


def _config(inspection: Inspection) -> Optional[NtpConfig]:
    rules, restricted, found = [], [], False
    for relative in CONFIGS:
        text = inspection.text(relative)
        found = found or text is not None
        for number, raw in enumerate((text or "").splitlines(), start=1):
            words = raw.split("#", 1)[0].split()
            origin = Origin(str(inspection.path(relative)), number)
            if len(words) >= 3 and words[0] in ("interface", "nic") and words[1] in _ACTIONS:
                rules.append(InterfaceRule(words[1], words[2], origin, raw.strip()))
            elif len(words) >= 2 and words[0] == "restrict":
                restricted.append((words[1], origin, raw.strip()))
    return NtpConfig(tuple(rules), tuple(restricted)) if found else None


Option = Tuple[str, str, Origin, List[str]]  # (daemon, the line, where, its words)


def _options(inspection: Inspection) -> List[Option]:
    found = []
    for relative, key, daemon in OPTIONS:
        text = inspection.text(relative)
        if text is None:
            continue
        var = shellvars.parse(text, str(inspection.path(relative)))[0].var(key)
        if var is not None:
            try:
                words = shlex.split(var.value)
            except ValueError:
                words = var.value.split()
            line = text.splitlines()[var.origin.line - 1].strip()
            found.append((daemon, line, var.origin, words))
    return found


def _update_zero(words: Sequence[str]) -> str:
    """``-U 0`` as written among the options (``-U0``, ``--updateinterval=0``), or ""."""
    for word, following in zip(words, [*words[1:], ""]):
        if word in ("-U0", "--updateinterval=0"):
            return word
        if word in ("-U", "--updateinterval") and following == "0":
            return f"{word} 0"
    return ""


def _option_findings(daemon: str, line: str, origin: Origin, words: List[str]) -> List[Finding]:
    findings = []
    written = _update_zero(words)
    if written:
        classic = daemon != "ntpsec"
        findings.append(Finding(
            CHECK, "update-interval-0", Severity.WARNING if classic else Severity.INFO,
            f"{daemon}'s options turn its interface rescans off (-U 0)",
            (Evidence.at(origin, line),),
            "classic ntpd honours -U 0 and stops rescanning interfaces, even on the netlink "
            "events an address change sends, so it never binds an alias restored after a "
            "lease change" if classic else
            "ntpsec 1.2.2 ignores -U (it resets the interval to 300 s) and rescans on "
            "netlink events, so this is harmless today; classic ntpd honours it and would "
            "never bind an alias restored after a lease change",
            f"remove `{written}` from line {origin.line} of {origin.source}; if interface scans "
            "cost too much CPU with many addresses, use a longer interval (-U 300)"))
    if "-L" in words or "--novirtualips" in words:
        findings.append(Finding(
            CHECK, "novirtualips", Severity.WARNING,
            f"{daemon}'s options skip every alias interface (-L)", (Evidence.at(origin, line),),
            "ntpd then opens no socket on any alias (eth0:0, ...), so clients that use an "
            "alias address get no time",
            f"remove `-L` from line {origin.line} of {origin.source}"))
    return findings


def _aliases(inspection: Inspection) -> List[Address]:
    """Present addresses that are aliases: labelled ``dev:N``, or declared for nethook."""
    observed = inspection.live.observed()
    declared = {a.key for a in inspection.desired.addresses}
    return sorted((a for a in observed.addresses if a.key not in observed.dynamic
                   and ((a.label and ":" in a.label) or a.key in declared)),
                  key=lambda a: (a.ifname, a.family, a.interface))


def _ntp_name(address: Address) -> str:
    """The name ntpd gives the address: its label for IPv4 (getifaddrs), else the device."""
    if address.family == 4 and address.label:
        return address.label
    return address.ifname


def _excluded(config: NtpConfig, address: Address) -> Optional[Finding]:
    ip, name = address.interface.ip, _ntp_name(address)
    rule = config.decision(ip, name)
    if rule is None or rule.action == "listen":
        return None
    wanted: List[Evidence] = []
    if rule.match not in (str(ip), name):  # a rule naming the alias itself is deliberate
        wanted += [Evidence.at(r.origin, r.line) for r in config.rules
                   if r.action == "listen" and r.match.lower() not in _GENERIC
                   and r.matches(ip, address.ifname)]
        wanted += [Evidence.at(where, line) for word, where, line in config.restricted
                   if word == str(ip)]
    device = (f"; ntpd matches interface names against the address label {name}, not "
              f"{address.ifname}" if name != address.ifname else "")
    return Finding(
        CHECK, "alias-excluded", Severity.WARNING if wanted else Severity.INFO,
        f"ntpd's rules {rule.action} {ip} ({name})",
        (Evidence.at(rule.origin, f"{rule.line}   <- the last rule matching {ip}"), *wanted),
        f"ntpd opens no socket that answers on {ip}, so NTP clients using it get no time"
        f"{device}",
        f"add `interface listen {ip}` after line {rule.origin.line} of {rule.origin.source} "
        "(the last matching rule wins)" if wanted else
        f"nothing, if {ip} is not meant to serve time; else add `interface listen {ip}` "
        f"after line {rule.origin.line} of {rule.origin.source}")


def _not_listening(inspection: Inspection, config: NtpConfig, aliases: List[Address],
                   options: List[Option]) -> List[Finding]:
    bound = {ip for ip, port in inspection.live.udp_sockets() if port == NTP_PORT}
    running = inspection.live.processes()
    if not bound - _WILDCARDS or (running is not None and "ntpd" not in running):
        return []  # ntpd does not run in this network namespace
    blind = [r for r in config.rules if r.match == "wildcard" and r.action != "listen"]
    rescans_off = [(o, line) for _daemon, line, o, words in options if _update_zero(words)]
    findings = []
    for address in aliases:
        ip, name = address.interface.ip, _ntp_name(address)
        rule = config.decision(ip, name)
        if ip in bound or (rule is not None and rule.action != "listen"):
            continue
        nowhere = ", ".join(sorted(str(b) for b in bound))
        evidence = [Evidence(f"ip -{address.family} address", address.describe()),
                    Evidence("/proc/net/udp", f"port {NTP_PORT} is bound on {nowhere}")]
        evidence += [Evidence.at(r.origin, r.line) for r in (rule, *blind) if r is not None]
        evidence += [Evidence.at(o, line) for o, line in rescans_off]
        where = "no socket at all" if blind else "only the wildcard socket, where ntpd drops them"
        findings.append(Finding(
            CHECK, "not-listening", Severity.WARNING,
            f"ntpd is not listening on {ip}:{NTP_PORT} ({name})", tuple(evidence),
            f"NTP requests to {ip} reach {where}, so clients that use this address get no "
            "time",
            "ntpd binds a new address about 2 s after it appears; if it came back longer "
            "ago, its rescans are off (-U 0 on classic ntpd): restart ntpd (`systemctl "
            "restart ntpsec`, `ntp` or `ntpd`), or make it rescan with `ntpq -c ':config "
            f"interface listen {ip}'` and the control key"))
    return findings


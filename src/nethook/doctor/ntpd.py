"""Check 6: ntpd and the alias addresses it should serve.

* ``interface listen|ignore|drop`` rules (``nic`` is the same) that exclude an alias: read
  and decided by :mod:`nethook.daemons.ntpd`, exactly as the services check decides them
  (ntpd's own semantics, checked with the real ntpsec: the last matching rule wins; with
  any rule in place an address no rule names is ignored; ``all`` leaves loopback alone).
  The finding is a warning when the administrator evidently wants the alias served (a
  ``listen`` rule names its device, whereas ntpd matches the label ``eth0:0``, or a
  ``restrict`` line names the address), else informational.
* ``-U 0`` in the daemon's options: classic ntpd then never rescans its interfaces, not
  even on netlink events, and never binds a restored alias again; ntpsec 1.2.2 ignores
  ``-U`` (lab notes §6). ``-L`` (``--novirtualips``) skips every alias.
* ntpd running in this network namespace but its main process holding no socket on an
  alias that is present and that its rules give it: the same verdict ``nethook status``
  prints (:func:`nethook.services.status.assess_daemon`), so the two never disagree.
"""

from __future__ import annotations

import shlex
from functools import partial
from typing import Callable, List, Optional, Sequence, Tuple

from nethook.base.errors import ObserveError
from nethook.config.services import ServicesConfig
from nethook.daemons import ntpd
from nethook.daemons.live import DaemonsLive
from nethook.daemons.processes import Process
from nethook.doctor.findings import Evidence, Finding, Severity
from nethook.doctor.inputs import Inspection
from nethook.importers import shellvars
from nethook.model.objects import Address, Origin
from nethook.services import setups
from nethook.services.setups import NtpVerdict, ntp_name
from nethook.services.status import missing_now
from nethook.services.watches import command_line

CHECK = "ntpd"
NTP_PORT = ntpd.PORT
# (file, variable, daemon): the daemon's options, as its init script or unit reads them
OPTIONS = (("etc/default/ntpsec", "NTPD_OPTS", "ntpsec"),
           ("etc/default/ntp", "NTPD_OPTS", "ntpd"),
           ("etc/sysconfig/ntpd", "OPTIONS", "ntpd"))
_GENERIC = frozenset(ntpd.CLASSES)
Shown = Callable[[Optional[Origin]], Origin]  # a file as doctor names it (under --root)


def check(inspection: Inspection) -> List[Finding]:
    options = _options(inspection)
    live = inspection.live.daemons()
    found = live.running({ntpd.COMM}).get(ntpd.COMM, []) if live is not None else []
    settings = _settings(inspection)
    setup, prefix = setups.ntpd_setup(inspection.root, settings.ntpd.config,
                                      _command(found, options), live_command=bool(found))
    if setup.unreadable:
        raise ObserveError(setup.unreadable)
    findings = [f for option in options for f in _option_findings(*option)]
    if not setup.files:
        return findings
    shown = partial(setups.shown_under, prefix)
    aliases = _aliases(inspection)
    for verdict in setups.ntpd_verdicts(setup, aliases):
        if not verdict.serves and not _novirtual_default(verdict):
            findings.append(_excluded(setup, verdict, shown))
    if live is not None and found:
        findings += _not_listening(inspection, settings, setup, aliases, options, live, shown)
    return findings


def _settings(inspection: Inspection) -> ServicesConfig:
    config = inspection.config
    return config.services if config is not None else ServicesConfig()


def _command(found: Sequence[Process], options: List[Option]) -> ntpd.Command:
    """The running ntpd's command line; else what its options file adds to it."""
    if found:
        return ntpd.parse_command(command_line(found))
    words = options[0][3] if options else []
    return ntpd.parse_command(["ntpd", *words])


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


def _novirtual_default(verdict: NtpVerdict) -> bool:
    """-L decided, not a rule: the novirtualips finding says it already."""
    return verdict.decision.rule is None and verdict.decision.why.startswith("-L")


def _excluded(setup: ntpd.NtpSetup, verdict: NtpVerdict, shown: Shown) -> Finding:
    address, rule = verdict.address, verdict.decision.rule
    ip, name = address.interface.ip, ntp_name(address)
    wanted: List[Evidence] = []
    if rule is None or rule.target not in (str(ip), name):  # naming the alias is deliberate
        wanted += [Evidence.at(shown(r.origin), r.line) for r in setup.rules
                   if r.action == "listen" and r.target.lower() not in _GENERIC
                   and r.matches(ip, address.ifname)]
        wanted += [Evidence.at(shown(where), line) for word, where, line in setup.restricted
                   if word == str(ip)]
    if rule is not None:
        decided = Evidence.at(shown(rule.origin), f"{rule.line}   <- the last rule matching {ip}")
        after = shown(rule.origin)
    else:
        last = setup.rules[-1]
        decided = Evidence.at(shown(last.origin), f"{last.line}   <- no rule matches {ip}; "
                                                  "with rules in place ntpd ignores it")
        after = shown(last.origin)
    device = (f"; ntpd matches interface names against the address label {name}, not "
              f"{address.ifname}" if name != address.ifname else "")
    return Finding(
        CHECK, "alias-excluded", Severity.WARNING if wanted else Severity.INFO,
        f"ntpd's rules {verdict.decision.action} {ip} ({name})", (decided, *wanted),
        f"ntpd opens no socket that answers on {ip}, so NTP clients using it get no time"
        f"{device}",
        f"add `interface listen {ip}` after line {after.line} of {after.source} "
        "(the last matching rule wins)" if wanted else
        f"nothing, if {ip} is not meant to serve time; else add `interface listen {ip}` "
        f"after line {after.line} of {after.source}")


def _not_listening(inspection: Inspection, settings: ServicesConfig, setup: ntpd.NtpSetup,
                   aliases: List[Address], options: List[Option], live: DaemonsLive,
                   shown: Shown) -> List[Finding]:
    watch, missing = missing_now(inspection.root, settings, "ntpd", aliases, live)
    if watch is None:
        return []
    owned = live.sockets_of(watch.pid) if watch.pid is not None else frozenset()
    bound = sorted({str(e.address) for e in live.table()
                    if e.proto == "udp" and e.port == NTP_PORT and e.inode in owned})
    blind = [r for r in setup.rules if r.target == "wildcard" and r.action != "listen"]
    rescans_off = [(o, line) for _daemon, line, o, words in options if _update_zero(words)]
    findings = []
    for verdict in setups.ntpd_verdicts(setup, aliases):
        if verdict.listener.describe() not in missing:
            continue
        address, ip = verdict.address, verdict.address.interface.ip
        evidence = [Evidence(f"ip -{address.family} address", address.describe()),
                    Evidence("/proc/net/udp", f"ntpd (pid {watch.pid}) has port {NTP_PORT} "
                                              f"on {', '.join(bound) or 'no address'}")]
        evidence += [Evidence.at(shown(r.origin), r.line)
                     for r in (verdict.decision.rule, *blind) if r is not None]
        evidence += [Evidence.at(o, line) for o, line in rescans_off]
        where = "no socket at all" if blind else "only the wildcard socket, where ntpd drops them"
        findings.append(Finding(
            CHECK, "not-listening", Severity.WARNING,
            f"ntpd is not listening on {ip}:{NTP_PORT} ({ntp_name(address)})", tuple(evidence),
            f"NTP requests to {ip} reach {where}, so clients that use this address get no "
            "time",
            "ntpd binds a new address about 2 s after it appears; if it came back longer "
            "ago, its rescans are off (-U 0 on classic ntpd): `nethook replay "
            f"{address.ifname}` has nethook verify and remedy it, or restart ntpd "
            "(`systemctl restart ntpsec`, `ntp` or `ntpd`), or make it rescan with "
            f"`ntpq -c ':config interface listen {ip}'` and the control key"))
    return findings

"""doctor and services read the same files the same way: one verdict per address.

Each case is an ntp.conf (or an xinetd.conf tree) fed, unchanged, to ``nethook doctor``'s
check and to the services check's watch; both must give the verdict in the table, and
the table is what the real ntpsec 1.2.2 and xinetd 2.3.15 do with the same files
(tests/e2e/test_services_semantics.py runs them in a namespace). The cases are the ones
the two used to dispute, and their neighbours.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import pytest

from nethook.base.context import RunContext
from nethook.config.services import DaemonSettings
from nethook.daemons.processes import Process
from nethook.doctor import ntpd as doctor_ntpd
from nethook.doctor import xinetd as doctor_xinetd
from nethook.doctor.inputs import Inspection, Owner
from nethook.model.objects import Address, Observed
from nethook.services import watches
from tests.unit.test_doctor_live import FakeLive

# The addresses of the namespace: the primary, an alias (ntpd calls it by its label) and
# loopback. All are declared, so that doctor looks at each of them.
ADDRESSES = {"10.77.0.10": ("eth0", None, 24), "10.77.0.50": ("eth0", "eth0:0", 24),
             "127.0.0.1": ("lo", None, 8)}
DECLARED = ("version: 1\nsnapshot: false\ninterfaces:\n  lo:\n    addresses: [127.0.0.1/8]\n"
            "  eth0:\n    addresses: [10.77.0.10/24, {address: 10.77.0.50/24, "
            'label: "eth0:0"}]\n')
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class NtpCase:
    name: str
    rules: Tuple[str, ...]  # ntp.conf's interface lines (and includefile lines)
    args: Tuple[str, ...]  # ntpd's options
    verdicts: Dict[str, str]  # address -> listen, ignore or drop
    included: Tuple[Tuple[str, str], ...] = ()  # (path relative to ntp.conf, text)


def _v(lease: str, alias: str, loopback: str) -> Dict[str, str]:
    return {"10.77.0.10": lease, "10.77.0.50": alias, "127.0.0.1": loopback}


NTP_CASES = [
    NtpCase("no rules: every address", (), (), _v("listen", "listen", "listen")),
    # disputed: doctor said the alias listens; no rule names it, and with a rule in place
    # ntpd ignores every address no rule names
    NtpCase("a rule for another address", ("interface listen 10.0.0.1",), (),
            _v("ignore", "ignore", "listen")),
    # disputed: doctor said loopback is ignored; "all" leaves loopback (and the wildcard)
    NtpCase("ignore all", ("interface ignore all",), (), _v("ignore", "ignore", "listen")),
    NtpCase("ignore ipv4 takes loopback too", ("interface ignore ipv4",), (),
            _v("ignore", "ignore", "ignore")),
    NtpCase("a device name is not the alias's label", ("interface listen eth0",), (),
            _v("listen", "ignore", "listen")),
    NtpCase("the last matching rule wins", ("interface listen 10.77.0.50",
                                            "interface ignore 10.77.0.50"), (),
            _v("ignore", "ignore", "listen")),
    NtpCase("the last matching rule wins, reversed", ("interface ignore 10.77.0.50",
                                                      "interface listen 10.77.0.50"), (),
            _v("ignore", "listen", "listen")),
    NtpCase("listen, then ignore all", ("interface listen 10.77.0.50",
                                        "interface ignore all"), (),
            _v("ignore", "ignore", "listen")),
    NtpCase("drop", ("interface drop 10.77.0.50",), (), _v("ignore", "drop", "listen")),
    NtpCase("nic and a prefix", ("nic listen 10.77.0.0/24",), (),
            _v("listen", "listen", "listen")),
    NtpCase("a name glob ignores case", ("interface listen ETH0:*",), (),
            _v("ignore", "listen", "listen")),
    NtpCase("ignore loopback by address", ("interface ignore 127.0.0.1",), (),
            _v("ignore", "ignore", "ignore")),
    NtpCase("-L: no virtual interfaces", (), ("-L",), _v("listen", "ignore", "listen")),
    NtpCase("-I names the alias", (), ("-I", "eth0:0"), _v("ignore", "listen", "listen")),
    NtpCase("includefile, relative to the including file", ("includefile sub/rules.conf",), (),
            _v("ignore", "listen", "listen"),
            included=(("sub/rules.conf", "interface listen 10.77.0.50\n"),)),
]


def addresses() -> List[Address]:
    return [Address(ifname, ipaddress.ip_interface(f"{ip}/{prefix}"), label)
            for ip, (ifname, label, prefix) in ADDRESSES.items()]


def ntp_tree(root: Path, case: NtpCase) -> Path:
    """``root/etc/ntpsec/ntp.conf`` (and what it includes), and ntpd's options."""
    conf = root / "etc" / "ntpsec" / "ntp.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("driftfile /var/lib/ntpsec/ntp.drift\n" + "".join(
        f"{line}\n" for line in case.rules))
    for relative, text in case.included:
        (conf.parent / relative).parent.mkdir(parents=True, exist_ok=True)
        (conf.parent / relative).write_text(text)
    defaults = root / "etc" / "default" / "ntpsec"
    defaults.parent.mkdir(parents=True)
    defaults.write_text(f'NTPD_OPTS="{" ".join(case.args)}"\n')
    (root / "nethook.yaml").write_text(DECLARED)
    return conf


def doctor_findings(root: Path, check: object, live: FakeLive) -> List[Dict[str, str]]:
    ctx = RunContext(root=root, config=root / "nethook.yaml", state_dir=root / "state",
                     run_dir=root / "run")
    found = check(Inspection(ctx, live, NOW, Owner()))  # type: ignore[operator]
    return [{"code": f.code, "summary": f.summary} for f in found]


def doctor_ntp_verdicts(root: Path) -> Dict[str, str]:
    live = FakeLive(Observed(links=frozenset({"lo", "eth0"}), addresses=frozenset(addresses())))
    findings = doctor_findings(root, doctor_ntpd.check, live)
    verdicts = {ip: "listen" for ip in ADDRESSES}
    for finding in findings:
        if finding["code"] == "alias-excluded":  # "ntpd's rules ACTION IP (NAME)"
            _ntpds, _rules, action, ip, _name = finding["summary"].split()
            verdicts[ip] = action
        elif finding["code"] == "novirtualips":  # -L: every NAME:N alias is ignored
            verdicts.update({ip: "ignore" for ip, (_, label, _p) in ADDRESSES.items()
                             if label and ":" in label})
    return verdicts


def services_ntp_verdicts(root: Path, conf: Path, args: Sequence[str]) -> Dict[str, str]:
    """The watch the services check builds for an ntpd started as ``ntpd ARGS -c CONF``."""
    argv = ("/usr/sbin/ntpd", *args, "-c", str(conf))
    warnings: List[str] = []
    watch = watches.ntpd_watch(root, DaemonSettings(True, 5), addresses(),
                               [Process(100, "ntpd", argv, 1)], lambda path: None, warnings)
    assert watch is not None and warnings == []
    verdicts = {str(spec.address): "listen" for spec in watch.expected}
    verdicts.update({str(spec.address): "drop" if why.startswith("drop:") else "ignore"
                     for spec, why in watch.not_expected})
    return verdicts


@pytest.mark.parametrize("case", NTP_CASES, ids=[c.name for c in NTP_CASES])
def test_ntpd_doctor_and_services_agree(case: NtpCase, tmp_path: Path) -> None:
    conf = ntp_tree(tmp_path, case)
    assert doctor_ntp_verdicts(tmp_path) == case.verdicts
    assert services_ntp_verdicts(tmp_path, conf, case.args) == case.verdicts


# -- xinetd -----------------------------------------------------------------------------------

def echo(service_id: str, port: int, extra: str = "") -> str:
    return (f"service echo\n{{\n type = INTERNAL UNLISTED\n id = {service_id}\n"
            f" socket_type = stream\n protocol = tcp\n port = {port}\n wait = no\n"
            f" user = root\n{extra}}}\n")


def service(name: str, service_id: str, port: int) -> str:
    return echo(service_id, port).replace("service echo", f"service {name}")


@dataclass(frozen=True)
class XinetdCase:
    name: str
    files: Dict[str, str]  # path under the root -> text; etc/xinetd.conf is the main one
    bound: Tuple[Tuple[str, str], ...]  # (service id, listener) xinetd binds
    cwd: str = "/"  # xinetd's working directory (the real one's; / for a daemon)


DEFAULTS = "defaults\n{\n bind = 10.77.0.50\n}\n"
XINETD_CASES = [
    # disputed: doctor did not follow an includedir named inside an included directory
    XinetdCase("includedir, nested", {
        "etc/xinetd.conf": DEFAULTS + "includedir /etc/xinetd.d\n",
        "etc/xinetd.d/plain": echo("e-plain", 7003),
        "etc/xinetd.d/with.dot": echo("e-dot", 7004),
        "etc/xinetd.d/tilde~": echo("e-tilde", 7005),
        "etc/xinetd.d/nested": "includedir /etc/xinetd.d/sub\n",
        "etc/xinetd.d/sub/svc": echo("e-nested", 7007)},
        (("e-plain", "tcp/7003@10.77.0.50"), ("e-nested", "tcp/7007@10.77.0.50"))),
    XinetdCase("include, and includefile is not a directive", {
        "etc/xinetd.conf": DEFAULTS + "include /etc/xinetd.d/more\n"
                           + "includefile /etc/xinetd.d/other\n" + echo("e-main", 7011)
                           + echo("e-last", 7013),
        "etc/xinetd.d/more": echo("e-inc", 7010),
        "etc/xinetd.d/other": echo("e-other", 7012)},
        # (and the entry after a line xinetd rejects is skipped with it)
        (("e-inc", "tcp/7010@10.77.0.50"), ("e-last", "tcp/7013@10.77.0.50"))),
    # a relative includedir is xinetd's working directory's (/), not the file's
    XinetdCase("a relative includedir", {
        "etc/xinetd.conf": DEFAULTS + "includedir xinetd.d\n" + echo("e-main", 7001),
        "etc/xinetd.d/svc": echo("e-rel", 7002)},
        (("e-main", "tcp/7001@10.77.0.50"),)),
    # disputed: doctor matched defaults' disabled/enabled against the name, xinetd the id
    XinetdCase("disabled and enabled list ids", {
        "etc/xinetd.conf": "defaults\n{\n bind = 10.77.0.50\n disabled = daytime e-off\n}\n"
                           + service("daytime", "dt", 7020) + echo("e-off", 7021)
                           + echo("e-on", 7022, " bind = 10.77.0.10\n")},
        (("dt", "tcp/7020@10.77.0.50"), ("e-on", "tcp/7022@10.77.0.10"))),
    XinetdCase("defaults' interface, a service's own bind, disable = yes", {
        "etc/xinetd.conf": "defaults\n{\n interface = 10.77.0.50\n}\n" + echo("e-d", 7030)
                           + echo("e-own", 7031, " bind = 10.77.0.10\n")
                           + echo("e-no", 7032, " disable = yes\n")},
        (("e-d", "tcp/7030@10.77.0.50"), ("e-own", "tcp/7031@10.77.0.10"))),
]


def xinetd_tree(root: Path, case: XinetdCase) -> None:
    for relative, text in case.files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    (root / "nethook.yaml").write_text(DECLARED)


def doctor_xinetd_bound(root: Path) -> List[str]:
    """What doctor says is bound, from bind-missing findings on a host without the
    addresses: ``xinetd service NAME binds to ADDRESS, which no interface has``."""
    live = FakeLive(Observed(links=frozenset({"lo", "eth0"})))
    return sorted(f["summary"].split()[5].rstrip(",") for f in
                  doctor_findings(root, doctor_xinetd.check, live) if f["code"] == "bind-missing")


def services_xinetd_bound(root: Path) -> List[str]:
    warnings: List[str] = []
    watch = watches.xinetd_watch(root, DaemonSettings(True, 2), addresses(),
                                 [Process(100, "xinetd", ("/usr/sbin/xinetd",), 1)],
                                 lambda path: None, warnings)
    assert watch is not None
    return sorted(spec.describe() for spec in watch.expected)


@pytest.mark.parametrize("case", XINETD_CASES, ids=[c.name for c in XINETD_CASES])
def test_xinetd_doctor_and_services_agree(case: XinetdCase, tmp_path: Path) -> None:
    xinetd_tree(tmp_path, case)
    listeners = sorted(listener for _id, listener in case.bound)
    assert services_xinetd_bound(tmp_path) == listeners
    assert doctor_xinetd_bound(tmp_path) == sorted(
        listener.partition("@")[2] for listener in listeners)

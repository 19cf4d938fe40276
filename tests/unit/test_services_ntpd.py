"""ntpd's interface rules as ntpd applies them, its command line, and the ntpq remedy.

The rule semantics are ntp_io.c's interface_action() (ntpsec 1.2.2, classic ntp 4.2.8):
newest rule first, loopback listens, -L ignores "virtual" (colon) names, and once any rule
exists an address no rule names is ignored. The lab checked the last one and "the last
matching line wins" with the real ntpd (tests/e2e/test_services_ntpd.py runs it).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Dict, Optional

import pytest

from nethook.daemons import ntpd
from nethook.daemons.ntpd import Command, NtpSetup, parse_command
from nethook.model.objects import Address
from nethook.services.setups import ntp_name as _name_of
from nethook.services.setups import read_under

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "services" / "ntp" / "ntp.conf"
IP = ipaddress.ip_address


@pytest.fixture
def setup() -> NtpSetup:
    return ntpd.load(str(FIXTURE), read_under(Path("/")))


def test_what_the_files_say(setup: NtpSetup) -> None:
    assert [rule.describe() for rule in setup.rules] == [
        f"interface listen eth0:* ({FIXTURE}:21)",
        f"interface ignore 198.51.100.0/24 ({FIXTURE}:22)",
        f"interface drop 203.0.113.99 ({FIXTURE}:23)",
        f"interface ignore 203.0.113.12 ({FIXTURE.parent}/conf.d/aliases.conf:2)",
        f"interface listen 2001:db8::10 ({FIXTURE.parent}/conf.d/aliases.conf:3)",
    ]
    assert (setup.keys, setup.controlkey, setup.can_reconfigure) == (
        "/etc/ntpsec/ntp.keys", 1, True)
    assert setup.files == (str(FIXTURE), f"{FIXTURE.parent}/conf.d/aliases.conf")
    assert setup.problems == (
        f"{FIXTURE.parent}/conf.d/aliases.conf:4: 'interface bogus 203.0.113.13': expected "
        "interface listen|ignore|drop all|ipv4|ipv6|wildcard|NAME|ADDRESS",
        f"includefile {FIXTURE.parent}/conf.d/missing.conf: no such file (ntpd skips it too)")
    assert setup.unreadable is None


@pytest.mark.parametrize("address, name, action", [
    ("203.0.113.10", "eth0:0", "listen"),  # the eth0:* glob
    ("203.0.113.11", "ETH0:1", "listen"),  # names compare ignoring case, as fnmatch's CASEFOLD
    ("203.0.113.12", "eth0:2", "ignore"),  # the included rule is newer than the glob
    ("203.0.113.99", "eth0:9", "drop"),
    ("198.51.100.7", "eth0", "ignore"),  # the lease: the prefix rule
    ("192.0.2.5", "eth1", "ignore"),  # no rule names it, and there are rules
    ("2001:db8::10", "eth0", "listen"),
    ("2001:db8::11", "eth0", "ignore"),
    ("127.0.0.1", "lo", "listen"),  # loopback listens unless a rule says otherwise
])
def test_decisions(setup: NtpSetup, address: str, name: str, action: str) -> None:
    assert setup.decide(IP(address), name).action == action


def test_a_decision_names_its_rule(setup: NtpSetup) -> None:
    decision = setup.decide(IP("203.0.113.12"), "eth0:2")
    assert decision.why == f"interface ignore 203.0.113.12 ({FIXTURE.parent}/conf.d/aliases.conf:2)"
    assert setup.decide(IP("192.0.2.5"), "eth1").why == (
        "no interface rule names it (with rules in place, ntpd ignores the others)")


def test_the_last_matching_line_wins() -> None:
    text = "interface listen 10.77.0.10\ninterface ignore 10.77.0.10\n"
    setup = ntpd.load("ntp.conf", {"ntp.conf": text}.get)
    assert setup.decide(IP("10.77.0.10"), "eth0").action == "ignore"
    assert setup.decide(IP("10.77.0.11"), "eth0").action == "ignore"


@pytest.mark.parametrize("target, address, name, matches", [
    ("all", "10.0.0.1", "eth0", True),
    ("all", "127.0.0.1", "lo", False),  # "all" leaves loopback alone
    ("ipv4", "127.0.0.1", "lo", True),
    ("ipv6", "10.0.0.1", "eth0", False),
    ("wildcard", "10.0.0.1", "eth0", False),
    ("10.0.0.0/8", "10.1.2.3", "eth0", True),
    ("10.0.0.1", "10.0.0.2", "eth0", False),
    ("eth0", "10.0.0.1", "eth0:0", False),  # the label is the name, and eth0 != eth0:0
    ("eth0*", "10.0.0.1", "eth0:0", True),
])
def test_rule_targets(target: str, address: str, name: str, matches: bool) -> None:
    rule = ntpd.NicRule("listen", target)
    assert rule.matches(IP(address), name) is matches


def test_without_rules_everything_listens_and_dash_l_ignores_virtual_ips() -> None:
    plain = NtpSetup()
    assert plain.decide(IP("203.0.113.10"), "eth0:0").action == "listen"
    novirtual = NtpSetup(novirtual=True)
    assert novirtual.decide(IP("203.0.113.10"), "eth0:0").action == "ignore"
    assert novirtual.decide(IP("203.0.113.10"), "eth0").action == "listen"


def test_ntpd_names_an_ipv4_address_by_its_label() -> None:
    alias = Address("eth0", ipaddress.ip_interface("203.0.113.10/24"), "eth0:0")
    plain = Address("eth0", ipaddress.ip_interface("203.0.113.11/24"))
    v6 = Address("eth0", ipaddress.ip_interface("2001:db8::10/64"))
    assert [_name_of(a) for a in (alias, plain, v6)] == ["eth0:0", "eth0", "eth0"]


@pytest.mark.parametrize("argv, expected", [
    # Debian's ntp-systemd-wrapper: -p, then -c /etc/ntpsec/ntp.conf, then NTPD_OPTS, -u
    (["/usr/sbin/ntpd", "-p", "/run/ntpd.pid", "-c", "/etc/ntpsec/ntp.conf", "-g", "-N",
      "-u", "ntpsec:ntpsec"], Command(config="/etc/ntpsec/ntp.conf", pidfile="/run/ntpd.pid")),
    # ... and an administrator's own -c in NTPD_OPTS, which comes later and wins
    (["/usr/sbin/ntpd", "-p", "/run/ntpd.pid", "-c", "/etc/ntpsec/ntp.conf", "-c",
      "/srv/ntp.conf", "-u", "ntpsec:ntpsec"], Command(config="/srv/ntp.conf",
                                                    pidfile="/run/ntpd.pid")),
    (["ntpd", "-gc/etc/ntp.conf", "-nL"], Command(config="/etc/ntp.conf", novirtual=True)),
    (["ntpd", "--configfile=/a.conf", "--keyfile", "/k", "--interface", "eth0", "-Ieth1"],
     Command(config="/a.conf", interfaces=("eth0", "eth1"), keys="/k")),
    (["ntpd", "-u", "-c", "-n"], Command()),  # -u takes "-c" as its value
    (["ntpd", "-n", "--", "-c", "x"], Command()),
])
def test_command_lines(argv: list, expected: Command) -> None:
    assert parse_command(argv) == expected


def test_dash_i_rules_and_dash_k_keys() -> None:
    command = parse_command(["ntpd", "-I", "eth0:0", "-I", "203.0.113.11", "-k", "/etc/k"])
    setup = ntpd.load("none", {}.get, command)
    assert [r.target for r in setup.rules] == ["eth0:0", "203.0.113.11"]
    assert setup.decide(IP("203.0.113.10"), "eth0:0").action == "listen"
    assert setup.decide(IP("203.0.113.11"), "eth0:1").action == "listen"
    assert setup.decide(IP("203.0.113.12"), "eth0:2").action == "ignore"
    assert (setup.keys, setup.can_reconfigure) == ("/etc/k", False)  # no controlkey


def test_rebind_commands() -> None:
    addresses = [IP("203.0.113.10"), IP("2001:db8::10")]
    with_rules = NtpSetup(rules=(ntpd.NicRule("listen", "eth0:*"),))
    assert ntpd.rebind_commands(with_rules, addresses) == [
        ":config interface listen 203.0.113.10", ":config interface listen 2001:db8::10"]
    # One rule would make ntpd ignore every address no rule names: spell the default out.
    assert ntpd.rebind_commands(NtpSetup(), addresses) == [":config interface listen all"]
    assert ntpd.rebind_commands(NtpSetup(novirtual=True), addresses) == [
        ":config interface listen all", ":config interface ignore *:*"]


def test_ntpq_command_line_and_its_answer(setup: NtpSetup) -> None:
    argv = ntpd.ntpq_argv("/usr/bin/ntpq", setup, "/etc/ntpsec/ntp.keys",
                          [":config interface listen 203.0.113.10"])
    assert argv == ["/usr/bin/ntpq", "-a", "1", "-k", "/etc/ntpsec/ntp.keys",
                    "-c", ":config interface listen 203.0.113.10", "127.0.0.1"]
    assert ntpd.ntpq_succeeded("Config Succeeded\n")
    # What ntpq prints, exiting 0 all the same, for a wrong key and for no answer:
    assert not ntpd.ntpq_succeeded("***Server error code PERMISSION\n")
    assert not ntpd.ntpq_succeeded("***Request timed out\n")


def test_an_unreadable_file_is_not_an_empty_one() -> None:
    def read(path: str) -> Optional[str]:
        raise PermissionError(13, "Permission denied")
    setup = ntpd.load("/etc/ntp.conf", read)
    assert setup.unreadable == "cannot read /etc/ntp.conf: Permission denied"


def test_includes_nest_only_so_deep() -> None:
    files: Dict[str, str] = {f"/f{i}": f"includefile /f{i + 1}\n" for i in range(10)}
    setup = ntpd.load("/f0", files.get)
    assert len(setup.files) == ntpd.MAX_INCLUDE_DEPTH + 1
    assert setup.problems[-1].endswith("includefile nested too deep; not followed")


def test_quotes_and_comments() -> None:
    text = 'keys "/etc/ntp keys/ntp.keys"  # quoted\ncontrolkey 7 # seven\nrestrict "\n'
    setup = ntpd.load("x", {"x": text}.get)
    assert (setup.keys, setup.controlkey) == ("/etc/ntp keys/ntp.keys", 7)
    assert setup.problems == ("x:3: cannot read this line: No closing quotation",)

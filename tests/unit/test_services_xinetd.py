"""xinetd's configuration: which services are bound to which address.

tests/fixtures/services/xinetd/etc is Debian 12's xinetd package as installed
(/etc/xinetd.conf, /etc/xinetd.d/*, every service disabled) plus what an administrator
adds: ``alias-daytime`` (daytime on 203.0.113.10, its port from /etc/services),
``alias-time6`` (UNLISTED time on [2001:db8::10]:3737, ``interface =``), an editor backup
and a dpkg leftover that xinetd skips, and a service bound to a host name. ``services`` is
the matching part of Debian's /etc/services.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from nethook.config.services import ListenerSpec
from nethook.daemons import xinetd
from nethook.services.setups import names_under, read_under

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "services" / "xinetd"
IP = ipaddress.ip_address


def load_fixture() -> xinetd.XinetdSetup:
    return xinetd.load("/etc/xinetd.conf", read_under(ROOT), names_under(ROOT),
                       read_under(ROOT)("/etc/services"))


def test_bound_services() -> None:
    setup = load_fixture()
    assert [(s.name, s.listener, str(s.origin)) for s in setup.services] == [
        ("daytime", ListenerSpec("tcp", 13, IP("203.0.113.10")), "/etc/xinetd.d/alias-daytime:2"),
        ("time", ListenerSpec("udp", 3737, IP("2001:db8::10")), "/etc/xinetd.d/alias-time6:2"),
    ]
    assert [s.name for s in setup.bound_to([IP("2001:db8::10")])] == ["time"]
    assert setup.unreadable is None


def test_files_read_as_xinetd_reads_them() -> None:
    setup = load_fixture()
    names = [Path(f).name for f in setup.files]
    assert names[0] == "xinetd.conf"
    # includedir skips names with a dot or ending in "~"; the rest in name order
    assert names[1:] == ["alias-daytime", "alias-time6", "by-name", "chargen", "chargen-udp",
                         "daytime", "daytime-udp", "discard", "discard-udp", "echo",
                         "echo-udp", "servers", "services", "time", "time-udp"]
    assert setup.problems == ("/etc/xinetd.d/by-name:1: service echo: bind = www.example.com: "
                              "not an IP address; not checked",)


def parse(text: str, services: str = "echo 7/tcp\necho 7/udp\n") -> xinetd.XinetdSetup:
    return xinetd.load("/x.conf", {"/x.conf": text}.get, lambda d: [], services)


def test_defaults_bind_and_the_enabled_and_disabled_lists() -> None:
    setup = parse("""
defaults
{
    bind     = 192.0.2.10
    disabled = echo-b
}
service echo
{
    id          = echo-a
    socket_type = stream
}
service echo
{
    id          = echo-b
    socket_type = dgram
}
service echo
{
    id          = echo-c
    socket_type = dgram
    bind        = 192.0.2.11
    disable     = yes
}
""")
    assert [(s.listener.describe()) for s in setup.services] == ["tcp/7@192.0.2.10"]
    only = parse("defaults\n{\n    enabled = echo-b\n}\n"
                 "service echo\n{\n id = echo-a\n socket_type = stream\n bind = 192.0.2.1\n}\n"
                 "service echo\n{\n id = echo-b\n socket_type = dgram\n bind = 192.0.2.2\n}\n")
    assert [s.listener.describe() for s in only.services] == ["udp/7@192.0.2.2"]


def test_attribute_operators_and_a_brace_on_the_service_line() -> None:
    setup = parse("service echo {\n socket_type = stream\n bind = 192.0.2.1\n"
                  " flags = IPv4 REUSE\n flags -= REUSE\n flags += NODELAY\n port = 7007\n}\n")
    assert [s.listener.describe() for s in setup.services] == ["tcp/7007@192.0.2.1"]


def test_problems_are_reported_and_the_rest_still_counts() -> None:
    setup = parse("""service nosuch
{
    socket_type = stream
    bind        = 192.0.2.1
}
service echo
{
    socket_type = raw
    bind        = 192.0.2.2
}
service echo
    bind = 192.0.2.33
{
    socket_type = stream
    bind = 192.0.2.3
}
service echo
{
    socket_type = stream
    bind = 192.0.2.4
""")
    # A service without a port still binds its address (doctor checks that), but its
    # socket cannot be told: the services check leaves it out.
    assert [s.listener.describe() for s in setup.services] == ["tcp/0@192.0.2.1",
                                                                "tcp/7@192.0.2.3"]
    assert [s.name for s in setup.bound_to([IP("192.0.2.1"), IP("192.0.2.3")])] == ["echo"]
    assert setup.problems == (
        "/x.conf:12: 'bind = 192.0.2.33': expected '{' after service echo; skipped",
        "/x.conf:17: service echo: no closing '}'; ignored",
        "/x.conf:1: service nosuch: no port (neither 'port =' nor nosuch/tcp in "
        "/etc/services); its socket is not checked",
        "/x.conf:6: service echo: no tcp or udp protocol (socket_type raw)",
    )


def test_port_table() -> None:
    table = xinetd.port_table((ROOT / "etc" / "services").read_text())
    assert table[("daytime", "tcp")] == 13
    assert table[("timserver", "udp")] == 37  # aliases count
    assert table[("echo", "ddp")] == 4

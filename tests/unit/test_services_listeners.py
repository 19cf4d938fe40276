"""The socket table, read from /proc/net as captured in a namespace with real daemons.

tests/fixtures/services/proc-net-{udp,udp6,tcp,tcp6} were captured from one network
namespace where ntpsec's ntpd listened (``interface listen`` for 10.77.0.50 and
2001:db8:77::50, ``interface ignore 10.77.0.10``) and xinetd had a TCP service bound to
each alias; ss-nultp.txt is ``ss -Hnultp`` taken at the same moment, an independent reading
of the same sockets.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

from nethook.base.errors import ObserveError
from nethook.daemons import listeners
from nethook.daemons.listeners import Listener, decode_address, parse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "services"
IP = ipaddress.ip_address


def captured(name: str) -> str:
    return (FIXTURES / f"proc-net-{name}").read_text()


def test_udp_as_captured() -> None:
    assert parse(captured("udp"), "udp", "little") == [
        Listener("udp", IP("10.77.0.50"), 123, 922956),
        Listener("udp", IP("127.0.0.1"), 123, 922953),
        Listener("udp", IP("0.0.0.0"), 123, 922949),
    ]


def test_udp6_as_captured() -> None:
    assert parse(captured("udp6"), "udp", "little") == [
        Listener("udp", IP("2001:db8:77::50"), 123, 922962),
        Listener("udp", IP("::1"), 123, 922958),
        Listener("udp", IP("::"), 123, 922946),
    ]


def test_tcp_listeners_as_captured() -> None:
    assert parse(captured("tcp"), "tcp", "little") == [
        Listener("tcp", IP("10.77.0.50"), 7777, 922796)]
    assert parse(captured("tcp6"), "tcp", "little") == [
        Listener("tcp", IP("2001:db8:77::50"), 7777, 922797)]


def test_the_same_sockets_as_ss_saw_them() -> None:
    seen = set()
    for line in (FIXTURES / "ss-nultp.txt").read_text().splitlines():
        proto, _state, _recv, _send, local = line.split()[:5]
        found = re.fullmatch(r"\[?(.*?)\]?:(\d+)", local)
        assert found is not None, line
        seen.add((proto, int(found.group(2)), IP(found.group(1))))
    ours = {entry.key for name in ("udp", "udp6", "tcp", "tcp6")
            for entry in parse(captured(name), name.rstrip("6"), "little")}
    assert ours == seen


def test_only_listening_tcp_and_unconnected_udp_count() -> None:
    header = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   "
              "uid  timeout inode\n")
    established = ("   1: 0A00000A:0016 0B00000A:D431 01 00000000:00000000 02:000A3C4F 00000000"
                   "     0        0 5555 1\n")
    listening = ("   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000"
                 "     0        0 4444 1\n")
    assert parse(header + established + listening, "tcp", "little") == [
        Listener("tcp", IP("0.0.0.0"), 22, 4444)]
    assert parse(header + established, "udp", "little") == []  # a connected UDP socket


def test_byte_order() -> None:
    assert decode_address("0100007F", "little") == IP("127.0.0.1")
    assert decode_address("7F000001", "big") == IP("127.0.0.1")
    assert decode_address("B80D0120000077000000000050000000", "little") == IP("2001:db8:77::50")


def test_an_ipv4_mapped_socket_is_the_ipv4_address() -> None:
    assert decode_address("0000000000000000FFFF00003200630A", "little") == IP("10.99.0.50")


def test_a_torn_table_is_an_error_not_an_empty_one() -> None:
    text = captured("udp").splitlines()
    broken = "\n".join([text[0], text[1][:30]]) + "\n"
    with pytest.raises(ObserveError, match="/proc/net/udp line 2: cannot read"):
        parse(broken, "udp", "little")


def test_read_needs_the_ipv4_tables_but_not_the_ipv6_ones(tmp_path: Path) -> None:
    net = tmp_path / "net"
    net.mkdir()
    (net / "udp").write_text(captured("udp"))
    (net / "tcp").write_text(captured("tcp"))
    found = listeners.read(tmp_path)
    assert {entry.describe() for entry in found} == {
        "udp/123@10.77.0.50", "udp/123@127.0.0.1", "udp/123@0.0.0.0", "tcp/7777@10.77.0.50"}
    (net / "tcp").unlink()
    with pytest.raises(ObserveError, match=r"cannot read .*/net/tcp: it does not exist"):
        listeners.read(tmp_path)


def test_socket_inodes_of_a_process(tmp_path: Path) -> None:
    fd = tmp_path / "4242" / "fd"
    fd.mkdir(parents=True)
    (fd / "3").symlink_to("socket:[922956]")
    (fd / "4").symlink_to("/var/log/ntpsec/ntp.log")
    (fd / "5").symlink_to("socket:[922953]")
    assert listeners.socket_inodes(4242, tmp_path) == {922956, 922953}
    assert listeners.socket_inodes(4243, tmp_path) == frozenset()  # it has ended


def test_descriptors_it_cannot_read_are_not_none(tmp_path: Path) -> None:
    """Descriptors that cannot be listed (the real case, another user's /proc/PID/fd without
    the capabilities, is tests/e2e/test_services_caps.py; here: not a directory) are an
    error, never "no sockets"."""
    (tmp_path / "4242").mkdir()
    (tmp_path / "4242" / "fd").write_text("")
    with pytest.raises(listeners.CannotRead, match=r"cannot read .*/4242/fd: Not a directory"):
        listeners.socket_inodes(4242, tmp_path)

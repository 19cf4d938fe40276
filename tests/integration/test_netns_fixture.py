"""The namespace helpers themselves: made as promised, and always cleaned up."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lab.netns import VethNamespace, namespace_names, veth_namespace

pytestmark = pytest.mark.privileged


class Boom(Exception):
    pass


def test_fixture_gives_veth_pair_up_in_its_own_namespaces(netns: VethNamespace) -> None:
    assert netns.name.startswith("nht-")
    assert {netns.ns.name, netns.peer.name} <= namespace_names()
    (link,) = netns.ns.ip_json("link", "show", "dev", netns.ifname)
    (peer_link,) = netns.peer.ip_json("link", "show", "dev", netns.peer_ifname)
    for dev in (link, peer_link):
        assert dev["operstate"] == "UP"
        assert "link_netnsid" in dev  # the other end is in another namespace, not the host


def test_traffic_stays_between_the_two_namespaces(netns: VethNamespace) -> None:
    netns.ns.ip("addr", "add", "192.0.2.2/24", "dev", netns.ifname)
    netns.peer.ip("addr", "add", "192.0.2.1/24", "dev", netns.peer_ifname)
    netns.ns.run(["ping", "-c", "1", "-W", "5", "-q", "192.0.2.1"])


def test_sysctl_changes_only_the_namespaces() -> None:
    host = Path("/proc/sys/net/ipv6/conf/all/disable_ipv6")  # read in the host's namespace
    before = host.read_text()
    with veth_namespace(ipv6=False) as lab:
        for side in (lab.ns, lab.peer):
            value = side.run(["sysctl", "-n", "net.ipv6.conf.all.disable_ipv6"]).stdout
            assert value.strip() == "1"
        assert host.read_text() == before


def test_cleanup_removes_namespaces_and_processes_when_the_body_raises() -> None:
    with pytest.raises(Boom), veth_namespace() as lab:
        names = {lab.ns.name, lab.peer.name}
        sleeper = lab.peer.spawn(["sleep", "600"])
        raise Boom
    assert not names & namespace_names()
    assert sleeper.poll() is not None


def test_a_failed_setup_leaves_nothing_behind() -> None:
    before = namespace_names()
    with pytest.raises(subprocess.CalledProcessError), veth_namespace(ifname="x" * 20):
        pytest.fail("a 20-character interface name must be refused")
    assert namespace_names() == before

"""Importers as a whole: the ``import`` key, merging with the configuration, conflicts,
the hook path, unreadable files, and ``nethook import`` on the fixture servers.

The fixture trees under tests/fixtures/importers look like real servers; ``nethook
import`` on each must print exactly ``expected/NAME.yaml``, which must load back through
``config.load`` to the same objects.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import shutil
from pathlib import Path
from typing import List

import pytest

from nethook import importers
from nethook.base.context import RunContext
from nethook.base.errors import ConfigError
from nethook.cli import main
from nethook.cli.parser import IMPORT_SOURCES
from nethook.config.load import load
from nethook.config.rt_tables import load_tables
from nethook.config.schema import IMPORT_SOURCES as SCHEMA_SOURCES
from nethook.engine.desired import assemble
from nethook.engine.run import restore
from nethook.events import Event, Kind
from nethook.importers.base import Imported
from nethook.model.objects import Address, Desired, Origin, Route
from tests.fakes import FakeNetlink

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "importers"
HOSTS = ["centos6", "centos7", "debian", "hosting-range", "netplan"]
NS = "etc/sysconfig/network-scripts"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def copy_host(name: str, tmp_path: Path) -> Path:
    root = tmp_path / name
    shutil.copytree(FIXTURES / name, root)
    return root


# --- the `import` key -----------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("", ("auto",)),
    ("import: auto\n", ("auto",)),
    ("import: none\n", ()),
    ("import: []\n", ()),
    ("import:\n", ()),
    ("import: [netplan, ifcfg, netplan]\n", ("netplan", "ifcfg")),
])
def test_import_key(tmp_path: Path, text: str, expected: tuple[str, ...]) -> None:
    path = write(tmp_path / "nethook.yaml", "version: 1\n" + text)
    assert load([path]).imports == expected


@pytest.mark.parametrize("text, message", [
    ("import: yes\n", "nethook.yaml:2: import: expected auto, none or a list of sources "
                      "(ifcfg, ifupdown, netplan), got the boolean yes"),
    ("import: all\n", "nethook.yaml:2: import: expected auto, none or a list of sources "
                      "(ifcfg, ifupdown, netplan), got 'all'"),
    ("import: [ifcfg, netpaln]\n", "nethook.yaml:2: import[1]: unknown import source "
                                   "'netpaln' (did you mean 'netplan'?); known: ifcfg, "
                                   "ifupdown, netplan"),
    ("import: [auto]\n", "nethook.yaml:2: import[0]: unknown import source 'auto'; known: "
                         "ifcfg, ifupdown, netplan"),
])
def test_import_key_errors(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "nethook.yaml", "version: 1\n" + text)
    with pytest.raises(ConfigError) as caught:
        load([path])
    assert str(caught.value) == f"{tmp_path}/{message}"


def test_a_later_file_overrides_import(tmp_path: Path) -> None:
    first = write(tmp_path / "a.yaml", "version: 1\nimport: [ifcfg]\n")
    second = write(tmp_path / "b.yaml", "version: 1\nimport: none\n")
    third = write(tmp_path / "c.yaml", "version: 1\n")
    assert load([first, second, third]).imports == ()


def test_the_cli_names_the_schema_sources() -> None:
    assert IMPORT_SOURCES == SCHEMA_SOURCES == tuple(importers.MODULES)


# --- choosing sources -------------------------------------------------------------------

def test_auto_reads_the_sources_whose_files_exist(tmp_path: Path) -> None:
    assert importers.selected(("auto",), tmp_path) == []
    assert importers.selected(("auto",), FIXTURES / "centos7") == ["ifcfg"]
    assert importers.selected(("auto",), FIXTURES / "debian") == ["ifupdown"]
    assert importers.selected(("auto",), FIXTURES / "netplan") == ["netplan"]
    assert importers.selected(("netplan", "ifcfg"), tmp_path) == ["netplan", "ifcfg"]
    assert importers.selected((), FIXTURES / "debian") == []


def ctx_for(root: Path, tmp_path: Path) -> RunContext:
    return RunContext(root=root, state_dir=tmp_path / "state", run_dir=tmp_path / "run",
                      lock_timeout=5)


def declared(ctx: RunContext, imports: bool = True) -> Desired:
    """The configuration and the imports, as every verb assembles them; invalid raises."""
    assembly = assemble(ctx, imports=imports)
    assembly.require_valid()
    return assembly.declared


def desired_for(ctx: RunContext, ifname: str) -> Desired:
    """What a hook would restore on ``ifname``."""
    return assemble(ctx, ifname).desired


def test_configuration_chooses_the_sources(tmp_path: Path) -> None:
    root = copy_host("debian", tmp_path)
    ctx = ctx_for(root, tmp_path)
    assert len(declared(ctx).objects()) == 8
    write(root / "etc/nethook/nethook.yaml", "version: 1\nimport: none\n")
    assert declared(ctx) == Desired()
    write(root / "etc/nethook/nethook.yaml", "version: 1\nimport: [netplan]\n")
    assert declared(ctx) == Desired()
    assert declared(ctx, imports=False) == Desired()


# --- merging and conflicts ---------------------------------------------------------------

DECLARED = """\
version: 1
interfaces:
  eth0:
    addresses:
      - address: 203.0.113.10/24
        label: "eth0:0"
      - 203.0.113.11/25
      - address: 192.168.50.10/24
        label: "eth0:9"
    routes:
      - {to: 10.20.0.0/16, via: 192.168.50.2}
"""


def test_yaml_and_imports_merge_and_the_yaml_wins(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    root = copy_host("centos6", tmp_path)
    config = write(root / "etc/nethook/nethook.yaml", DECLARED)
    caplog.set_level(logging.WARNING)
    desired = declared(ctx_for(root, tmp_path))
    ns = root / NS
    assert sorted(f"{o.describe()} # {o.origin}" for o in desired.objects()) == [
        f"10.20.0.0/16 via 192.168.50.2 dev eth0 table 254 # {config}:11",
        f"192.168.50.10/24 dev eth0 label eth0:9 # {config}:8",
        f"203.0.113.10/24 dev eth0 label eth0:0 # {config}:5",  # the same object: one
        f"203.0.113.11/25 dev eth0 # {config}:7",
    ]
    assert [r.getMessage() for r in caplog.records] == [
        f"{ns}/ifcfg-eth0:9: address 192.168.50.10/24 dev eth0 conflicts with "
        f"192.168.50.10/24 dev eth0 label eth0:9 from {config}:8; nethook's configuration "
        "wins",
        f"{ns}/ifcfg-eth0:1:3: address 203.0.113.11/24 dev eth0 label eth0:1 conflicts with "
        f"203.0.113.11/25 dev eth0 from {config}:7; nethook's configuration wins",
        f"{ns}/route-eth0:1: route 10.20.0.0/16 via 192.168.50.1 dev eth0 table 254 "
        f"conflicts with 10.20.0.0/16 via 192.168.50.2 dev eth0 table 254 from {config}:11; "
        "nethook's configuration wins",
    ]


def imported(source: str, *objects: object) -> Imported:
    return Imported(source, tuple(objects))  # type: ignore[arg-type]


def test_between_imports_the_first_wins() -> None:
    ip = ipaddress.ip_interface
    first = Address("eth0", ip("10.0.0.5/24"), "eth0:0", origin=Origin("ifcfg-eth0:0", 3))
    same = Address("eth0", ip("10.0.0.5/24"), "eth0:0", origin=Origin("interfaces", 9))
    other = Address("eth0", ip("10.0.0.5/16"), origin=Origin("01-netcfg.yaml", 7))
    route = Route(ipaddress.ip_network("0.0.0.0/0"), 100, ifname="eth0",
                  gateway=ipaddress.ip_address("10.0.0.1"), origin=Origin("route-eth0", 1))
    moved = Route(ipaddress.ip_network("0.0.0.0/0"), 100, ifname="eth0",
                  gateway=ipaddress.ip_address("10.0.0.2"), origin=Origin("interfaces", 12))
    desired, kept, conflicts = importers.combine(Desired(), [
        imported("ifcfg", first, route), imported("ifupdown", same, moved),
        imported("netplan", other)])
    assert desired == Desired(frozenset({first}), frozenset({route}))
    assert [o.origin for o in desired.objects()] == [first.origin, route.origin]
    assert kept == (first, route)
    assert [str(c) for c in conflicts] == [
        "interfaces:12: route default via 10.0.0.2 dev eth0 table 100 conflicts with default "
        "via 10.0.0.1 dev eth0 table 100 from route-eth0:1; the first one wins",
        "01-netcfg.yaml:7: address 10.0.0.5/16 dev eth0 conflicts with 10.0.0.5/24 dev eth0 "
        "label eth0:0 from ifcfg-eth0:0:3; the first one wins",
    ]


# --- unreadable is not empty ---------------------------------------------------------

def refuse_reading(monkeypatch: pytest.MonkeyPatch, victim: str) -> None:
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == victim:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)


@pytest.mark.parametrize("host, victim", [
    ("centos6", "ifcfg-eth0:1"), ("centos7", "rule-eth0.4"), ("debian", "aliases"),
    ("netplan", "60-extra-ips.yaml"),
])
def test_a_file_that_cannot_be_read_stops_the_run(tmp_path: Path, host: str, victim: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_host(host, tmp_path)
    refuse_reading(monkeypatch, victim)
    with pytest.raises(ConfigError) as caught:
        declared(ctx_for(root, tmp_path))
    assert caught.value.source.endswith("/" + victim)
    assert caught.value.message == "cannot read: Permission denied"


@pytest.mark.parametrize("host, victim, text", [
    ("centos6", NS, None),
    ("debian", "etc/network/interfaces.d", None),  # source-directory
    ("debian", "etc/network/interfaces.d",  # a pattern: glob alone would match nothing
     "source /etc/network/interfaces.d/*\niface eth0 inet dhcp\n"),
    ("netplan", "etc/netplan", None),
])
def test_an_unreadable_directory_stops_the_run(tmp_path: Path, host: str, victim: str,
                                               text: str | None,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_host(host, tmp_path)
    if text is not None:
        write(root / "etc/network/interfaces", text)
    real = Path.iterdir

    def iterdir(self: Path) -> object:
        if self == root / victim:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    with pytest.raises(ConfigError) as caught:
        declared(ctx_for(root, tmp_path))
    assert str(caught.value) == f"{root / victim}: cannot read: Permission denied"


def test_the_import_command_exits_2_on_an_unreadable_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_host("centos6", tmp_path)
    refuse_reading(monkeypatch, "ifcfg-eth0:0")
    assert main(["import", "--root", str(root)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{root / NS}/ifcfg-eth0:0: cannot read: Permission denied" in err


# --- the hook path -------------------------------------------------------------------------

def test_the_hook_restores_imported_aliases(tmp_path: Path) -> None:
    root = copy_host("centos6", tmp_path)
    ctx = ctx_for(root, tmp_path)
    desired = desired_for(ctx, "eth0")
    assert sorted(a.interface.with_prefixlen for a in desired.addresses) == [
        "192.168.50.10/24", "203.0.113.10/24", "203.0.113.11/24"]
    assert desired_for(ctx, "eth1") == Desired()  # ONBOOT=no

    fake = FakeNetlink()
    fake.lease(Address("eth0", ipaddress.ip_interface("192.168.50.77/24")))
    lease = ipaddress.ip_interface("192.168.50.77/24")
    result = restore(ctx, Event(source="dhclient", kind=Kind.CONFIGURE, reason="BOUND",
                                ifname="eth0", new_address=lease), open_netlink=lambda: fake)
    assert result is not None and result.exit_code == 0
    assert list(result.plan.describe()) == [
        "ip -4 address add 192.168.50.10/24 dev eth0",
        "ip -4 address add 203.0.113.10/24 dev eth0 label eth0:0",
        "ip -4 address add 203.0.113.11/24 dev eth0 label eth0:1",
        "ip -4 route add 10.20.0.0/16 via 192.168.50.1 dev eth0 table 254 proto 177"]


def test_an_unreadable_import_still_lets_the_snapshot_restore(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    root = copy_host("centos6", tmp_path)
    refuse_reading(monkeypatch, "ifcfg-eth0:0")
    assembly = assemble(ctx_for(root, tmp_path), "eth0")
    assert assembly.desired == Desired()
    assert str(assembly.error).endswith("ifcfg-eth0:0: cannot read: Permission denied")


# --- `nethook import` ------------------------------------------------------------------------

def run_import(argv: List[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["import", *argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("host", HOSTS)
def test_import_prints_the_expected_yaml(host: str, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(FIXTURES)
    status, out, err = run_import(["--root", host], capsys)
    assert out == (FIXTURES / "expected" / f"{host}.yaml").read_text()
    warnings = [line[len("#   "):] for line in out.splitlines()
                if line.startswith("#   ") and ": " in line]
    assert err.splitlines() == [f"nethook: {w}" for w in warnings]
    assert status == (1 if warnings else 0)


@pytest.mark.parametrize("host", HOSTS)
def test_import_output_loads_back_to_the_same_objects(
        host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(FIXTURES)
    _status, out, _err = run_import(["--root", host], capsys)
    path = write(tmp_path / "imported.yaml", out)
    tables = load_tables(Path(host))
    config = load([path], tables)
    found = importers.read(importers.selected(("auto",), Path(host)), Path(host), tables)
    _desired, kept, _conflicts = importers.combine(Desired(), found)
    assert config.desired == Desired(
        frozenset(o for o in kept if isinstance(o, Address)),
        frozenset(o for o in kept if isinstance(o, Route)),
        frozenset(o for o in kept if not isinstance(o, (Address, Route))))
    assert config.desired.objects()
    assert all(f"# from {o.origin}\n" in out for o in kept)


def test_import_from_one_source_and_as_json(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(FIXTURES)
    status, out, _err = run_import(["--root", "centos7", "--from", "netplan"], capsys)
    assert (status, out.splitlines()[-1]) == (0, "version: 1")
    status, out, _err = run_import(["--root", "centos7", "--from", "ifcfg", "--json"], capsys)
    data = json.loads(out)
    assert status == 0 and data["sources"] == ["ifcfg"] and data["problems"] == []
    assert data["objects"][-1] == {
        "kind": "rule", "interface": "eth0.4", "object": "priority 1005 from all to "
        "172.16.9.0/24 table 200", "origin": f"centos7/{NS}/rule-eth0.4:3"}


def test_import_with_nothing_to_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _err = run_import(["--root", str(tmp_path)], capsys)
    assert status == 0
    assert out == ("# nethook import: no distro network files found (ifcfg, ifupdown, "
                   "netplan)\nversion: 1\n")

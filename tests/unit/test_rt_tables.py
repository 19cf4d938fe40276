"""Routing table names read as iproute2 reads them, over the roots in tests/fixtures/rt_tables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Union

import pytest

from nethook.base.errors import ConfigError
from nethook.config.rt_tables import (
    BUILTIN_ORIGIN,
    RouteTables,
    TableError,
    TableName,
    load_tables,
    parse_rt_tables,
)
from nethook.model.objects import Origin

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rt_tables"
BUILTIN = {"unspec": 0, "default": 253, "main": 254, "local": 255}


def ids(tables: RouteTables) -> Dict[str, int]:
    return {name: entry.id for name, entry in tables.names.items()}


@pytest.mark.parametrize("case, expected", [
    # Debian 12's own file: the reserved names again, nothing else.
    ("debian12", BUILTIN),
    # Comments, tabs, indentation, 0x and 0X ids, trailing words; a drop-in; files that
    # are not *.conf, or hidden, are skipped.
    ("custom", {**BUILTIN, "MGMT": 100, "vpn": 101, "backup": 200, "tenant-a": 1000,
                "cni-pods": 2000, "cni-services": 2001}),
    # Newer iproute2: defaults in /usr/share/iproute2, nothing in /etc.
    ("usr-share", {**BUILTIN, "wg0": 51820}),
    # /etc/iproute2/rt_tables replaces the vendor file; an /etc drop-in replaces the
    # vendor drop-in of the same name; other vendor drop-ins are still read.
    ("etc-overrides", {**BUILTIN, "MGMT": 100, "vendor-extra": 301, "site": 302}),
    # Upstream's default vendor directory.
    ("usr-lib", {**BUILTIN, "answer": 42}),
    # Nothing at all: the built-in names.
    ("no-such-root", BUILTIN),
])
def test_names(case: str, expected: Dict[str, int]) -> None:
    assert ids(load_tables(FIXTURES / case)) == expected


def test_origins_name_file_and_line() -> None:
    root = FIXTURES / "custom"
    tables = load_tables(root)
    etc = root / "etc" / "iproute2"
    assert tables.names["MGMT"] == TableName("MGMT", 100, Origin(str(etc / "rt_tables"), 14))
    assert tables.names["backup"].origin == Origin(str(etc / "rt_tables"), 16)
    assert tables.names["cni-pods"] == TableName(
        "cni-pods", 2000, Origin(str(etc / "rt_tables.d" / "50-k8s.conf"), 2))
    # The file repeats the reserved names; its line is the latest definition.
    assert tables.names["main"].origin == Origin(str(etc / "rt_tables"), 5)
    assert str(tables.names["MGMT"].origin) == f"{etc / 'rt_tables'}:14"
    assert load_tables(FIXTURES / "usr-lib").names["main"].origin == BUILTIN_ORIGIN
    assert str(BUILTIN_ORIGIN) == "iproute2 built-in"


def test_vendor_origin() -> None:
    root = FIXTURES / "usr-share"
    wg0 = load_tables(root).names["wg0"]
    assert wg0.origin == Origin(str(root / "usr/share/iproute2/rt_tables.d/wireguard.conf"), 2)


def test_mapping_is_immutable_and_hashable() -> None:
    tables = load_tables(FIXTURES / "custom")
    with pytest.raises(TypeError):
        tables.names["x"] = TableName("x", 1, BUILTIN_ORIGIN)  # type: ignore[index]
    assert hash(tables) == hash(load_tables(FIXTURES / "custom"))


@pytest.mark.parametrize("case, line, message", [
    ("corrupt-id", 2, "'mgmt' is not a table id (decimal or 0x hex)"),
    ("missing-name", 3, "expected 'ID NAME', got '101'"),
    ("too-big", 2, "table id 4294967296 is out of range (0 to 4294967295)"),
])
def test_broken_file_raises_with_line(case: str, line: int, message: str) -> None:
    path = FIXTURES / case / "etc" / "iproute2" / "rt_tables"
    with pytest.raises(ConfigError) as caught:
        load_tables(FIXTURES / case)
    assert str(caught.value) == f"{path}:{line}: {message}"
    assert (caught.value.source, caught.value.line) == (str(path), line)


def test_unreadable_file_raises(tmp_path: Path) -> None:
    (tmp_path / "etc" / "iproute2" / "rt_tables").mkdir(parents=True)
    with pytest.raises(ConfigError) as caught:
        load_tables(tmp_path)
    assert str(caught.value) == f"{tmp_path}/etc/iproute2/rt_tables: cannot read: Is a directory"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_drop_in_raises(tmp_path: Path) -> None:
    conf = tmp_path / "etc" / "iproute2" / "rt_tables.d" / "private.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("100 MGMT\n")
    conf.chmod(0)
    with pytest.raises(ConfigError, match="cannot read: Permission denied"):
        load_tables(tmp_path)


def test_dangling_link_is_missing_like_iproute2(tmp_path: Path) -> None:
    etc = tmp_path / "etc" / "iproute2"
    (etc / "rt_tables.d").mkdir(parents=True)
    (etc / "rt_tables").symlink_to(tmp_path / "nowhere")
    (etc / "rt_tables.d" / "gone.conf").symlink_to(tmp_path / "nowhere")
    assert ids(load_tables(tmp_path)) == BUILTIN


def test_ambiguous_name_fails_only_when_used() -> None:
    root = FIXTURES / "ambiguous"
    tables = load_tables(root)
    etc = root / "etc" / "iproute2"
    with pytest.raises(TableError) as caught:
        tables.resolve("MGMT")
    assert str(caught.value) == (
        f"routing table name 'MGMT' is ambiguous: it is defined as 100 at {etc}/rt_tables:1, "
        f"200 at {etc}/rt_tables.d/dup.conf:2")
    assert tables.resolve("main") == 254
    assert tables.resolve(100) == 100


def test_parse_is_pure_and_lenient_like_iproute2() -> None:
    text = "# c\n\n  \t\n 7 seven\r\n0x8\teight # comment\n9 nine#not-a-comment\n10 ten extra\n"
    assert [(t.name, t.id, t.origin.line) for t in parse_rt_tables(text, "x")] == [
        ("seven", 7, 4), ("eight", 8, 5), ("nine#not-a-comment", 9, 6), ("ten", 10, 7)]


@pytest.mark.parametrize("value, expected", [
    (100, 100), ("100", 100), ("0x64", 100), ("0X64", 100), ("MGMT", 100), ("vpn", 101),
    ("main", 254), ("default", 253), (254, 254), ("cni-pods", 2000), (4294967295, 4294967295),
])
def test_resolve(value: Union[int, str], expected: int) -> None:
    assert load_tables(FIXTURES / "custom").resolve(value) == expected


KNOWN = "known names: backup, cni-pods, cni-services, default, main, MGMT, tenant-a, vpn"


@pytest.mark.parametrize("value, message", [
    (0, "table 0 is unspec, which cannot hold routes or rules"),
    ("0", "table 0 is unspec, which cannot hold routes or rules"),
    ("unspec", "table 'unspec' (0) is unspec, which cannot hold routes or rules"),
    (255, "table 255 is the kernel's local table; nethook does not declare routes or rules in it"),
    ("local", "table 'local' (255) is the kernel's local table; "
              "nethook does not declare routes or rules in it"),
    (2**32, "table '4294967296' is out of range (table ids go up to 4294967295)"),
    ("0x100000000", "table '0x100000000' is out of range (table ids go up to 4294967295)"),
    (-1, "table '-1' is out of range (table ids go up to 4294967295)"),
    (True, "'True' is not a routing table"),
    ("mgmt", "unknown routing table 'mgmt' (did you mean 'MGMT'?): not a number, nor a name "
             "defined in {locations}; " + KNOWN),
    ("010", "table '010' has a leading zero, which ip reads as octal; "
            "write the number without it, or in 0x hex"),
    ("0x", "unknown routing table '0x': not a number, nor a name defined in {locations}; "
           + KNOWN),
    ("", "unknown routing table '': not a number, nor a name defined in {locations}; " + KNOWN),
])
def test_resolve_refuses(value: Union[int, str], message: str) -> None:
    root = FIXTURES / "custom"
    locations = ", ".join(str(root / p) for p in (
        "etc/iproute2/rt_tables", "etc/iproute2/rt_tables.d/*.conf",
        "usr/share/iproute2/rt_tables", "usr/share/iproute2/rt_tables.d/*.conf"))
    with pytest.raises(TableError) as caught:
        load_tables(root).resolve(value)
    assert str(caught.value) == message.format(locations=locations)


def test_lookup_has_no_policy() -> None:
    tables = RouteTables.builtin()
    assert (tables.lookup("local"), tables.lookup("unspec"), tables.lookup(0)) == (255, 0, 0)


def test_builtin_only_message_and_long_name_lists() -> None:
    with pytest.raises(TableError) as caught:
        RouteTables.builtin().resolve("MGMT")
    assert str(caught.value) == ("unknown routing table 'MGMT': not a number, nor a name defined "
                                 "in iproute2's built-in list; known names: default, main")


def test_many_known_names_are_cut_short(tmp_path: Path) -> None:
    conf = tmp_path / "etc" / "iproute2" / "rt_tables"
    conf.parent.mkdir(parents=True)
    conf.write_text("".join(f"{100 + i} t{i}\n" for i in range(10)))
    with pytest.raises(TableError) as caught:
        load_tables(tmp_path).resolve("nope")
    assert str(caught.value).endswith("; known names: default, main, t0, t1, t2, t3, t4, t5, ...")


def test_name_of() -> None:
    tables = load_tables(FIXTURES / "custom")
    assert (tables.name_of(100), tables.name_of(254)) == ("MGMT", "main")
    assert tables.name_of(12345) is None
    assert tables.id_of("vpn") == 101 and tables.id_of("nope") is None

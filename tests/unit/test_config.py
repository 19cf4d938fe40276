"""The configuration, table-driven over tests/fixtures/config.

* ``valid/NAME.yaml`` (or a directory ``valid/NAME/`` laid out like /etc/nethook) loads to
  exactly what ``valid/NAME.expected`` lists;
* ``invalid/NAME.yaml`` (or ``invalid/NAME/``) fails with exactly the message in
  ``invalid/NAME.error``.

Tests run inside tests/fixtures/config, so file names in messages are relative to it; table
names come from the rt_tables under ``root/``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import List, Tuple

import pytest
import yaml

from nethook.base.errors import ConfigError
from nethook.config import values
from nethook.config.load import Config, discover, load
from nethook.config.nodes import loader_class
from nethook.config.rt_tables import RouteTables, load_tables
from nethook.model.objects import Address, Desired, Origin, Route, Rule

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "config"
NO_ROOT = Path("/nonexistent-root")


def cases(kind: str) -> List[str]:
    """``kind/NAME.yaml`` files and ``kind/NAME`` directories, as paths from FIXTURES."""
    return [f"{kind}/{entry.name}" for entry in sorted((FIXTURES / kind).iterdir())
            if entry.suffix == ".yaml" or entry.is_dir()]


def _stem(case: str) -> str:
    return case[: -len(".yaml")] if case.endswith(".yaml") else case


VALID = cases("valid")
INVALID = cases("invalid")


@pytest.fixture
def tables(monkeypatch: pytest.MonkeyPatch) -> RouteTables:
    monkeypatch.chdir(FIXTURES)
    return load_tables(Path("root"))


@pytest.fixture(params=["libyaml", "python"])
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Every case runs with libyaml's loader (when PyYAML has it) and the pure-Python one."""
    if request.param == "python":
        monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    elif not getattr(yaml, "__with_libyaml__", False):
        pytest.skip("PyYAML was built without libyaml")
    yield str(request.param)


def read_case(case: str, tables: RouteTables) -> Config:
    return load(discover(NO_ROOT, Path(case)), tables)


def render(config: Config) -> str:
    """Every field of every object, one per line, ordered by where it was declared."""
    lines = [f"snapshot {config.snapshot}"]
    lines += [f"snapshot {name} {on}" for name, on in sorted(config.snapshot_interfaces.items())]
    rows: List[Tuple[str, int, str]] = []
    for obj in config.desired.objects():
        assert obj.origin is not None
        attrs = " ".join(f"{f.name}={getattr(obj, f.name)}"
                         for f in dataclasses.fields(obj) if f.name != "origin")
        rows.append((obj.origin.source, obj.origin.line,
                     f"{obj.origin} {type(obj).__name__} {attrs}"))
    return "\n".join(lines + [row[2] for row in sorted(rows)]) + "\n"


def test_every_case_has_its_answer() -> None:
    for case in VALID:
        assert (FIXTURES / (_stem(case) + ".expected")).is_file(), case
    for case in INVALID:
        assert (FIXTURES / (_stem(case) + ".error")).is_file(), case
    answers = {p.name for p in (FIXTURES / "valid").glob("*.expected")}
    assert answers == {Path(_stem(c)).name + ".expected" for c in VALID}
    answers = {p.name for p in (FIXTURES / "invalid").glob("*.error")}
    assert answers == {Path(_stem(c)).name + ".error" for c in INVALID}


@pytest.mark.parametrize("case", VALID)
def test_valid(case: str, tables: RouteTables, loader: str) -> None:
    expected = (FIXTURES / (_stem(case) + ".expected")).read_text()
    assert render(read_case(case, tables)) == expected


@pytest.mark.parametrize("case", INVALID)
def test_invalid(case: str, tables: RouteTables, loader: str) -> None:
    expected = (FIXTURES / (_stem(case) + ".error")).read_text().rstrip("\n")
    with pytest.raises(ConfigError) as caught:
        read_case(case, tables)
    error = caught.value
    assert str(error) == f"{error.source}:{error.line}: {error.key + ': ' if error.key else ''}" \
                         f"{error.message}"
    assert error.line > 0
    if Path(case).name.startswith("yaml-") and loader == "python":
        # The pure-Python parser words syntax errors its own way; the line is the same.
        prefix = expected[: expected.index("invalid YAML:") + len("invalid YAML:")]
        assert str(error).startswith(prefix)
    else:
        assert str(error) == expected


def test_error_fields(tables: RouteTables) -> None:
    with pytest.raises(ConfigError) as caught:
        load([Path("invalid/bad-address.yaml")], tables)
    error = caught.value
    assert (error.source, error.line, error.key, error.message) == (
        "invalid/bad-address.yaml", 6, "interfaces.eth0.addresses[1]",
        "'10.0.0.300/24' is not an IP address")


def test_issue_example(tables: RouteTables) -> None:
    source = "valid/issue-example.yaml"
    config = load([Path(source)], tables)
    mgmt = 100
    assert config.desired == Desired(
        addresses=frozenset({
            Address("eth0", ipaddress.ip_interface("50.116.53.56/24")),
            Address("eth0", ipaddress.ip_interface("66.175.211.192/24"), label="eth0:1"),
        }),
        routes=frozenset({
            Route(ipaddress.ip_network("0.0.0.0/0"), table=mgmt, ifname="eth0",
                  gateway=ipaddress.ip_address("10.4.0.1")),
            Route(ipaddress.ip_network("10.4.0.0/24"), table=mgmt, metric=100, ifname="eth0",
                  scope="link"),
        }),
        rules=frozenset({
            Rule(table=mgmt, family=4, priority=32765,
                 src=ipaddress.ip_network("10.4.0.5/32"), ifname="eth0"),
        }),
    )
    origins = {obj.describe(): obj.origin for obj in config.desired.objects()}
    assert origins == {
        "50.116.53.56/24 dev eth0": Origin(source, 5),
        "66.175.211.192/24 dev eth0 label eth0:1": Origin(source, 6),
        "default via 10.4.0.1 dev eth0 table 100": Origin(source, 9),
        "10.4.0.0/24 dev eth0 scope link metric 100 table 100": Origin(source, 12),
        "priority 32765 from 10.4.0.5/32 table 100": Origin(source, 17),
    }
    # Non-identity metadata the equality above does not see.
    assert [rule.ifname for rule in config.desired.rules] == ["eth0"]
    assert all(route.ifname == "eth0" for route in config.desired.routes)
    assert config.snapshot is True and not config.snapshot_interfaces
    assert config.files == (source,)
    assert config.desired.interfaces == frozenset({"eth0"})
    assert config.desired.tables == frozenset({mgmt})


def test_loader_is_libyaml_when_available_and_never_the_full_loader() -> None:
    expected = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    assert loader_class() is expected
    assert loader_class() in (getattr(yaml, "CSafeLoader", None), yaml.SafeLoader)


def test_merge_overrides_scalars_and_concatenates_lists(tables: RouteTables) -> None:
    config = read_case("valid/drop-ins", tables)
    assert config.files == ("valid/drop-ins/nethook.yaml", "valid/drop-ins/conf.d/10-mgmt.yaml",
                            "valid/drop-ins/conf.d/20-local.yaml")
    assert config.snapshot is False  # 20-local.yaml overrides nethook.yaml
    assert (config.snapshot_enabled("eth0"), config.snapshot_enabled("eth1")) == (True, False)
    assert sorted(str(a.interface) for a in config.desired.scoped("eth0").addresses) == [
        "192.0.2.10/24", "192.0.2.11/24"]


def test_config_is_immutable(tables: RouteTables) -> None:
    config = read_case("valid/snapshot-only.yaml", tables)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.snapshot = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.snapshot_interfaces["eth9"] = True  # type: ignore[index]
    assert hash(config) == hash(read_case("valid/snapshot-only.yaml", tables))


def test_nothing_to_read() -> None:
    assert load([]) == Config()
    assert Config().snapshot_enabled("eth0") is True


@pytest.mark.parametrize("text", ["", "# only comments\n", "---\n...\n", "{}\n", "version: 1\n",
                                  "version: 1\ninterfaces:\n", "version: 1\ninterfaces: {}\n"])
def test_files_that_declare_nothing(tmp_path: Path, text: str) -> None:
    path = tmp_path / "nethook.yaml"
    path.write_text(text)
    assert load([path]) == Config(files=(str(path),))


def test_without_tables_only_builtin_names(tmp_path: Path) -> None:
    path = tmp_path / "nethook.yaml"
    path.write_text("version: 1\ninterfaces:\n  eth0:\n    routes:\n"
                    "      - {to: default, via: 10.0.0.1, table: main}\n"
                    "      - {to: default, via: 10.0.0.1, table: MGMT}\n")
    with pytest.raises(ConfigError) as caught:
        load([path])
    assert str(caught.value) == (
        f"{path}:6: interfaces.eth0.routes[1].table: unknown routing table 'MGMT': not a number, "
        "nor a name defined in iproute2's built-in list; known names: default, main")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load([tmp_path])
    assert str(caught.value) == f"{tmp_path}: cannot read: Is a directory"


# --- discover -------------------------------------------------------------------------

def touch(path: Path, text: str = "version: 1\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_discover_default_layout(tmp_path: Path) -> None:
    etc = tmp_path / "etc" / "nethook"
    main = touch(etc / "nethook.yaml")
    drop_ins = [touch(etc / "conf.d" / name) for name in ("10-b.yaml", "9-a.yaml", "B.yaml")]
    for ignored in ("README", "x.yml", ".#10-b.yaml", "old.yaml.dpkg-old", "sub/x.yaml",
                    ".hidden.yaml/x.yaml"):
        touch(etc / "conf.d" / ignored)
    touch(etc / "other.yaml")  # only nethook.yaml is read at the top, as by default
    # Code-point name order: "10-b" < "9-a" < "B".
    assert discover(tmp_path, None) == [main, *drop_ins]
    assert discover(tmp_path) == [main, *drop_ins]


@pytest.mark.parametrize("where", ["etc/nethook/conf.d", "frags"])
def test_a_directory_named_like_a_drop_in_is_an_error(tmp_path: Path, where: str) -> None:
    """It was skipped without a word: whoever made it meant a file."""
    touch(tmp_path / "etc/nethook/nethook.yaml")
    touch(tmp_path / where / "10-x.yaml" / "addresses.yaml")
    with pytest.raises(ConfigError) as caught:
        discover(tmp_path, None if where.startswith("etc") else tmp_path / where)
    assert str(caught.value) == (f"{tmp_path / where}/10-x.yaml: a directory where a "
                                 "configuration file is expected (every *.yaml here is read "
                                 "as one)")


@pytest.mark.parametrize("command", [["status"], ["plan"], ["apply", "--dry-run"]])
def test_commands_stop_with_status_2_naming_the_directory(tmp_path: Path,
                                                          command: List[str]) -> None:
    """Before anything reads the kernel: no privileges needed."""
    touch(tmp_path / "etc/nethook/conf.d/10-x.yaml/addresses.yaml")
    src = Path(__file__).resolve().parents[2] / "src"  # absent where pybuild runs the tests
    path = [str(src)] if src.is_dir() else []
    env = {"PATH": "/usr/bin:/bin", "NETHOOK_STATE_DIR": str(tmp_path / "state"),
           "NETHOOK_RUN_DIR": str(tmp_path / "run"),
           "PYTHONPATH": os.pathsep.join([*path, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "nethook", "--root", str(tmp_path), *command],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert (f"{tmp_path}/etc/nethook/conf.d/10-x.yaml: a directory where a configuration file "
            "is expected") in done.stderr


def test_discover_nothing_is_nothing(tmp_path: Path) -> None:
    assert discover(tmp_path, None) == []
    only_drop_in = touch(tmp_path / "etc" / "nethook" / "conf.d" / "a.yaml")
    assert discover(tmp_path, None) == [only_drop_in]


def test_discover_override_file_alone(tmp_path: Path) -> None:
    touch(tmp_path / "root" / "etc" / "nethook" / "nethook.yaml")
    mine = touch(tmp_path / "try-this.conf")
    assert discover(tmp_path / "root", mine) == [mine]


def test_discover_override_directory_like_etc_nethook(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    main = touch(copy / "nethook.yaml")
    drop_in = touch(copy / "conf.d" / "10-a.yaml")
    touch(copy / "notes.yaml")
    assert discover(tmp_path, copy) == [main, drop_in]
    assert discover(tmp_path, copy / "conf.d") == [drop_in]


def test_discover_override_directory_of_fragments(tmp_path: Path) -> None:
    frags = [touch(tmp_path / "frags" / name) for name in ("a.yaml", "b.yaml")]
    touch(tmp_path / "frags" / ".hidden.yaml")
    assert discover(tmp_path, tmp_path / "frags") == frags


def test_discover_missing_override_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        discover(tmp_path, tmp_path / "nethok.yaml")
    assert str(caught.value) == f"{tmp_path}/nethok.yaml: no such file or directory"


def test_dangling_drop_in_is_found_then_unreadable(tmp_path: Path) -> None:
    link = tmp_path / "etc" / "nethook" / "conf.d" / "50-gone.yaml"
    link.parent.mkdir(parents=True)
    link.symlink_to(tmp_path / "nowhere.yaml")
    assert discover(tmp_path) == [link]
    with pytest.raises(ConfigError) as caught:
        load(discover(tmp_path))
    assert str(caught.value) == f"{link}: cannot read: No such file or directory"


# --- values ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("10.0.0.5/24", "10.0.0.5/24"),
    ("2001:DB8:0:0::1/64", "2001:db8::1/64"),
    ("::ffff:10.0.0.5/128", "::ffff:a00:5/128"),
    ("10.0.0.5/0024", "10.0.0.5/24"),
])
def test_interface_address(text: str, expected: str) -> None:
    assert str(values.interface_address(text)) == expected


@pytest.mark.parametrize("text, host_ok, expected", [
    ("10.4.0.5", True, "10.4.0.5/32"),
    ("2001:db8::5", True, "2001:db8::5/128"),
    ("2001:db8::/32", False, "2001:db8::/32"),
    ("0.0.0.0/0", False, "0.0.0.0/0"),
])
def test_network(text: str, host_ok: bool, expected: str) -> None:
    assert str(values.network(text, host_ok=host_ok)) == expected


@pytest.mark.parametrize("value, expected", [
    (16, (16, None)), ("0x10", (16, None)), ("16/0xff", (16, 255)), ("0x10/0xFFFFFFFF", (16, None)),
    ("0/0xff", (0, 255)), ("0x10/0", (16, 0)),
])
def test_mark(value: object, expected: object) -> None:
    assert values.mark(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value, expected", [
    ("global", "global"), ("link", "link"), (0, "global"), (200, "site"), (253, "link"),
    (254, "host"), (17, "17"),
])
def test_scope(value: object, expected: str) -> None:
    assert values.scope(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["eth0", "lo", "bond0.100", "br-0a1b2c3d4e5f", "wlp2s0", "a" * 15])
def test_valid_interface_names(name: str) -> None:
    assert values.ifname_problem(name) is None


@pytest.mark.parametrize("name", ["", ".", "a" * 16, "é" * 8, "eth\t0"])
def test_invalid_interface_names(name: str) -> None:
    assert values.ifname_problem(name) is not None

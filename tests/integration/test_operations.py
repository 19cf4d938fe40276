"""The operators' surface, run for real in a test namespace: --json on every verb (checked
against the shipped JSON Schemas), the exit statuses, ``nethook check`` as a Nagios plugin,
``nethook metrics`` as Prometheus reads it, and one syslog line per kernel change."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Dict, List

import jsonschema
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lab.nethook_env import NethookDirs, temporary_dirs
from lab.netns import VethNamespace, lan_namespace
from lab.procs import poll_until
from lab.watcher import Watcher

pytestmark = pytest.mark.privileged

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
CONFIG = """\
version: 1
interfaces:
  eth0:
    addresses:
      - {address: 10.77.0.50/24, label: "eth0:0"}
      - 10.77.0.51/24
    routes:
      - {to: default, via: 10.77.0.1, table: 100}
    routing-policy:
      - {from: 10.77.0.50, table: 100, priority: 1000}
"""


@pytest.fixture
def lab() -> Iterator[VethNamespace]:
    with lan_namespace("nho-") as veth:
        yield veth


@pytest.fixture
def dirs() -> Iterator[NethookDirs]:
    with temporary_dirs("nho-", CONFIG) as made:
        yield made


def validate(document: Dict[str, Any]) -> Dict[str, Any]:
    schema = json.loads((SCHEMAS / f"{document['kind']}.schema.json").read_text())
    jsonschema.validate(document, schema)
    return document


def as_json(lab: VethNamespace, dirs: NethookDirs, *args: str, code: int) -> Dict[str, Any]:
    done = dirs.command(lab.name, "--json", *args)
    assert done.returncode == code, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return validate(json.loads(done.stdout))


# -- --json on every verb, each document valid against its schema -----------------------------


def test_every_verb_prints_one_valid_document(lab: VethNamespace, dirs: NethookDirs) -> None:
    assert as_json(lab, dirs, "status", code=1)["missing"] == 4
    assert len(as_json(lab, dirs, "plan", code=1)["plan"]) == 4
    assert as_json(lab, dirs, "apply", code=0)["missing"] == 0
    assert as_json(lab, dirs, "status", code=0)["kind"] == "status"
    assert as_json(lab, dirs, "check", code=0)["state"] == "OK"
    assert "nethook_up 1" in as_json(lab, dirs, "metrics", code=0)["exposition"]
    lab.ns.ip("addr", "add", "10.77.0.70/24", "dev", "eth0")
    assert as_json(lab, dirs, "snapshot", "eth0", code=0)["objects"] == [
        "10.77.0.70/24 dev eth0"]
    lab.ns.ip("addr", "del", "10.77.0.70/24", "dev", "eth0")
    replayed = as_json(lab, dirs, "replay", "eth0", "--dry-run", code=1)
    assert [run["plan"] for run in replayed["runs"]] == [
        [{"op": "ip -4 address add 10.77.0.70/24 dev eth0", "origin": replayed["runs"][0]
          ["plan"][0]["origin"]}]]
    assert as_json(lab, dirs, "import", code=0)["objects"] == []
    doctor = as_json(lab, dirs, "doctor", code=1)
    assert doctor["findings"], doctor


@pytest.mark.parametrize("args, code, error_class", [
    (("status",), 2, "configuration"),
    (("check",), 3, None),
    (("status", "nosuchif0"), 2, "usage"),
    (("replay", "../../x"), 2, "usage"),
])
def test_errors_are_documents_too(lab: VethNamespace, dirs: NethookDirs,
                                  args: tuple[str, ...], code: int,
                                  error_class: str | None) -> None:
    if error_class != "usage":
        dirs.write_config(CONFIG.replace("10.77.0.51/24", "10.77.0.300/24"))
    document = as_json(lab, dirs, *args, code=code)
    if error_class is None:  # check reports in its own format: UNKNOWN
        assert document["state"] == "UNKNOWN"
        assert "invalid configuration" in document["summary"]
        return
    assert document["kind"] == "error"
    assert document["error"]["class"] == error_class
    if error_class == "configuration":
        error = document["error"]
        assert error["file"].endswith("nethook.yaml") and error["line"] == 6
        assert error["key"] == "interfaces.eth0.addresses[1]"
        assert error["message"] == "'10.77.0.300/24' is not an IP address"


# -- exit statuses ----------------------------------------------------------------------------


def test_an_unknown_interface_is_a_usage_error(lab: VethNamespace, dirs: NethookDirs) -> None:
    done = dirs.command(lab.name, "status", "nosuchif0")
    assert done.returncode == 2
    assert done.stderr.strip() == "nethook: nosuchif0: no such interface, and nothing is " \
                                  "kept on it"


def test_a_user_who_is_not_root_gets_one_line_and_status_3(lab: VethNamespace,
                                                           dirs: NethookDirs) -> None:
    os.chmod(dirs.base, 0o755)
    for path in (dirs.config, dirs.root):
        os.chmod(path, 0o755)
    argv = ["ip", "netns", "exec", lab.name, "setpriv", "--reuid=65534", "--regid=65534",
            "--clear-groups", sys.executable, "-m", "nethook", "status"]
    done = subprocess.run(argv, env={"PATH": os.environ["PATH"], **dirs.env()},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 3, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("nethook: cannot check: ") and line.endswith(
        "; nethook must run as root")


# -- check, the monitoring plugin -------------------------------------------------------------


def check(lab: VethNamespace, dirs: NethookDirs) -> tuple[int, List[str]]:
    done = dirs.command(lab.name, "check")
    return done.returncode, done.stdout.splitlines()


def test_check_follows_the_plugin_guidelines(lab: VethNamespace, dirs: NethookDirs) -> None:
    code, lines = check(lab, dirs)
    assert code == 2 and lines[0].startswith("NETHOOK CRITICAL - eth0: 4 of 4 missing (")
    assert lines[0].endswith("| kept=4;;;0 present=0;;;0 missing=4;;1;0 restored_24h=0;;;0 "
                             "watcher_up=0;;;0;1")
    assert len(lines) == 5  # the long output names each missing object
    dirs.command(lab.name, "apply").check_returncode()
    code, lines = check(lab, dirs)
    assert (code, lines) == (0, [
        "NETHOOK OK - 4 object(s) kept, all present | kept=4;;;0 present=4;;;0 "
        "missing=0;;1;0 restored_24h=4;;;0 watcher_up=0;;;0;1"])
    lab.ns.ip("addr", "del", "10.77.0.51/24", "dev", "eth0")
    code, lines = check(lab, dirs)
    assert code == 2
    assert lines[0].startswith("NETHOOK CRITICAL - eth0: 1 of 4 missing (10.77.0.51/24 dev "
                               "eth0) | ")
    dirs.write_config("version: 1\nbogus: 1\n")
    code, lines = check(lab, dirs)
    assert code == 3 and lines[0].startswith("NETHOOK UNKNOWN - invalid configuration: ")


# -- metrics ----------------------------------------------------------------------------------


def samples(text: str) -> Dict[str, Dict[tuple[tuple[str, str], ...], float]]:
    found: Dict[str, Dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = \
                sample.value
    return found


def test_metrics_parse_as_prometheus_reads_them(lab: VethNamespace, dirs: NethookDirs,
                                                tmp_path: Path) -> None:
    dirs.command(lab.name, "apply").check_returncode()
    lab.ns.ip("addr", "del", "10.77.0.51/24", "dev", "eth0")
    textfile = tmp_path / "textfile"
    textfile.mkdir()
    done = dirs.command(lab.name, "metrics", "--textfile", str(textfile))
    assert done.returncode == 0 and done.stdout == "", done.stderr
    assert sorted(os.listdir(textfile)) == ["nethook.prom"]  # no temporary file left
    assert (textfile / "nethook.prom").stat().st_mode & 0o777 == 0o644
    found = samples((textfile / "nethook.prom").read_text())
    assert found["nethook_up"] == {(): 1.0}
    assert found["nethook_config_valid"] == {(): 1.0}
    objects = found["nethook_objects"]
    assert objects[(("interface", "eth0"), ("kind", "address"), ("state", "missing"))] == 1
    assert objects[(("interface", "eth0"), ("kind", "address"), ("state", "present"))] == 1
    assert objects[(("interface", "eth0"), ("kind", "route"), ("state", "present"))] == 1
    assert found["nethook_restores_total"] == {(("interface", "eth0"), ("source", "cli")): 4.0}
    assert found["nethook_watcher_up"] == {(): 0.0}
    assert set(found["nethook_last_event_timestamp_seconds"]) == {(("interface", "eth0"),)}


def test_metrics_when_nothing_can_be_read(lab: VethNamespace, dirs: NethookDirs) -> None:
    os.chmod(dirs.run, 0o777)
    done = dirs.command(lab.name, "metrics")
    assert done.returncode == 3
    assert samples(done.stdout) == {"nethook_up": {(): 0.0}}


# -- syslog -----------------------------------------------------------------------------------


def test_every_kernel_change_is_one_syslog_line_from_any_verb(
        lab: VethNamespace, dirs: NethookDirs) -> None:
    path = dirs.base / "log"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as syslog:
        syslog.bind(str(path))
        syslog.settimeout(5)
        done = dirs.command(lab.name, "apply", env={"NETHOOK_SYSLOG_SOCKET": str(path)})
        assert done.returncode == 0, done.stderr
        lines = [syslog.recv(4096).decode() for _ in range(4)]
    assert all(line.startswith("<30>nethook[") for line in lines)  # daemon.info
    changes = sorted(line.split("]: ", 1)[1].rstrip("\x00") for line in lines)
    assert changes[0] == "ip -4 address add 10.77.0.50/24 dev eth0 label eth0:0 (apply from cli)"
    assert len(changes) == 4 and all(line.endswith("(apply from cli)") for line in changes)


def test_the_watcher_refreshes_the_textfile_after_a_restore(
        lab: VethNamespace, dirs: NethookDirs, tmp_path: Path) -> None:
    textfile = tmp_path / "node-exporter"
    textfile.mkdir()
    dirs.write_config(CONFIG + f"metrics:\n  textfile: {textfile}\n")
    dirs.command(lab.name, "apply").check_returncode()
    with Watcher(dirs, lab.name) as watcher:
        lab.ns.ip("addr", "del", "10.77.0.51/24", "dev", "eth0")
        prom = textfile / "nethook.prom"
        assert poll_until(lambda: prom.exists() and "source=\"netlink\"" in prom.read_text(),
                          15.0), watcher.log()
        assert watcher.stop() == 0
    found = samples(prom.read_text())
    assert found["nethook_restores_total"][(("interface", "eth0"), ("source", "netlink"))] == 1
    assert found["nethook_watcher_up"] == {(): 1.0}


def test_a_command_line_argparse_refuses_is_an_error_document_too(
        lab: VethNamespace, dirs: NethookDirs) -> None:
    done = dirs.command(lab.name, "--json", "staus")
    assert done.returncode == 2
    document = validate(json.loads(done.stdout))
    assert (document["kind"], document["command"], document["error"]["class"]) == (
        "error", None, "usage")


@pytest.mark.parametrize("verb", [("plan",), ("apply",), ("apply", "--dry-run"), ("replay",),
                                  ("snapshot",)])
def test_every_verb_refuses_an_interface_neither_kept_nor_present(
        lab: VethNamespace, dirs: NethookDirs, verb: tuple[str, ...]) -> None:
    done = dirs.command(lab.name, *verb, "nosuchif0")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "nosuchif0: no such interface, and nothing is kept on it" in done.stderr
    assert not list(dirs.state.glob("journal*"))  # nothing was run


def test_a_detached_check_gets_its_interface_after_dashes(dirs: NethookDirs) -> None:
    from nethook.base.context import RunContext
    from nethook.base.spawn import nethook_argv
    from nethook.cli.parser import parser

    argv = nethook_argv(RunContext(), ("services-check",), ("-x",))
    assert argv[-3:] == ["services-check", "--", "-x"]
    parsed = parser().parse_args(argv[3:])  # after python -m nethook
    assert (parsed.verb, parsed.interface, parsed.root) == ("services-check", "-x", "/")

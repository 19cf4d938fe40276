"""`nethook doctor` as a whole: the text report, exit statuses, a check that cannot run,
and the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nethook
from nethook.base.errors import ObserveError
from nethook.cli.parser import parser as _parser
from nethook.model.objects import Observed
from tests.unit.test_doctor_checks import (
    EXPECTED,
    copy_tree,
    doctor,
    in_fixtures,  # noqa: F401 (roots relative to the fixtures)
    live_of,
    report,
)
from tests.unit.test_doctor_live import FakeLive

SRC = Path(__file__).resolve().parents[2] / "src"


def test_clean_tree_prints_nothing_alarming_and_exits_0(tmp_path: Path) -> None:
    code, out = doctor("clean", tmp_path, as_json=False)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "nethook doctor: nothing wrong found; 1 note(s) (9 checks, root clean)"
    assert not [line for line in lines if line.startswith(("ERROR", "WARNING", "COULD NOT"))]
    assert [line for line in lines if line.startswith("INFO")] == [
        "INFO     aliases: eth0: 1 address(es) share 10.77.0.0/24 with the DHCP lease and "
        "promote_secondaries is 0"]


def test_text_report(tmp_path: Path) -> None:
    code, out = doctor("debian-gateway", tmp_path, as_json=False)
    assert code == 1
    expected = EXPECTED / "debian-gateway.txt"
    if os.environ.get("NETHOOK_DOCTOR_REGEN") == "1":
        expected.write_text(out)
    assert out == expected.read_text()


def test_warnings_exit_1_notes_exit_0(tmp_path: Path) -> None:
    assert report("noping", tmp_path)["exit"] == 1  # a warning
    assert report("policy", tmp_path)["counts"]["info"] == 2
    assert report("clean", tmp_path)["exit"] == 0  # a note only


class Unreadable(FakeLive):
    def observed(self) -> Observed:
        raise ObserveError("cannot read the kernel's network state: [Errno 13] Permission denied")


def test_a_check_that_cannot_run_exits_2_and_the_others_still_report(tmp_path: Path) -> None:
    live = Unreadable()
    code, out = doctor("noping", tmp_path, live=live, as_json=False)
    assert code == 2
    assert ("COULD NOT RUN default-routes: cannot read the kernel's network state: [Errno 13] "
            "Permission denied") in out
    assert "WARNING  dhclient: dhclient-script runs ping on TIMEOUT" in out  # files only
    data = report("noping", tmp_path, live=Unreadable())
    # (xinetd's check reads the kernel only when there is an xinetd.conf; this tree has none)
    assert [c["check"] for c in data["could_not_run"]] == ["default-routes", "mac", "policy",
                                                          "aliases"]
    assert data["exit"] == 2


def test_an_unreadable_file_is_never_an_empty_one(tmp_path: Path) -> None:
    root = copy_tree("noping", tmp_path)
    interfaces = root / "etc/network/interfaces"
    interfaces.unlink()
    interfaces.symlink_to(interfaces)  # reading it fails with ELOOP, even as root
    data = report("noping", tmp_path, root=root, live=live_of("noping"))
    assert data["exit"] == 2
    failed = {c["check"]: c["error"] for c in data["could_not_run"]}
    assert set(failed) == {"default-routes", "policy", "aliases", "dhclient", "hooks",
                           "nethook"}
    assert all("ymbolic link" in error or "ymlink loop" in error for error in failed.values())


def test_command_line() -> None:
    args = _parser().parse_args(["doctor", "--root", "/srv/chroot", "--json", "--fix"])
    assert (args.root, args.json, args.fix) == ("/srv/chroot", True, True)
    assert _parser().parse_args(["doctor"]).fix is False


def test_the_cli_imports_doctor_only_when_asked() -> None:
    code = "import sys, nethook.cli; print(sorted(m for m in sys.modules if 'doctor' in m))"
    # Wherever this run imports nethook from (src/, tox's env, pybuild's build tree).
    where = str(Path(nethook.__file__).resolve().parent.parent)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": where}, timeout=60, check=True)
    assert proc.stdout.strip() == "[]"

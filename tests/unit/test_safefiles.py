"""nethook's directories and files: trusted or refused, never followed through a link.

Run as root (as nethook is), these tests hand directories and files to ``nobody`` with
chown to play the other user; unprivileged, those cases are skipped.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from nethook.base.safefiles import TrustedDir, UntrustedError, check_name, open_path

NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def base(tmp_path: Path) -> Path:
    tmp_path.chmod(0o700)
    return tmp_path


def test_missing_directories_are_made_private_one_level_at_a_time(base: Path) -> None:
    with open_path(base / "run" / "nethook", ["events", "count"]) as made:
        assert made.path == base / "run" / "nethook" / "events" / "count"
    for path in (base / "run", base / "run/nethook", base / "run/nethook/events",
                 base / "run/nethook/events/count"):
        assert mode(path) == 0o700, path


@pytest.mark.parametrize("problem", ["symlink", "file", "group-writable", "other-writable"])
def test_a_directory_that_is_not_nethook_s_own_is_refused(base: Path, problem: str) -> None:
    target = base / "run"
    if problem == "symlink":
        (base / "elsewhere").mkdir(mode=0o700)
        target.symlink_to(base / "elsewhere")
    elif problem == "file":
        target.write_text("")
    else:
        target.mkdir(mode=0o700)
        target.chmod(0o770 if problem == "group-writable" else 0o707)
    with pytest.raises(UntrustedError) as caught:
        TrustedDir.open(target)
    assert str(target) in str(caught.value)


@as_root
def test_a_directory_owned_by_another_user_is_refused(base: Path) -> None:
    (base / "run").mkdir(mode=0o700)
    os.chown(base / "run", NOBODY, NOBODY)
    with pytest.raises(UntrustedError, match="owned by uid 65534"):
        TrustedDir.open(base / "run")


def test_an_ancestor_writable_by_others_is_refused_unless_sticky(base: Path) -> None:
    (base / "shared").mkdir(mode=0o777)
    (base / "shared").chmod(0o777)
    with pytest.raises(UntrustedError, match="writable by others"):
        TrustedDir.open(base / "shared" / "run")
    (base / "shared").chmod(0o1777)  # like /tmp
    with TrustedDir.open(base / "shared" / "run") as opened:
        assert opened.names() == []


def test_a_planted_link_is_never_followed(base: Path) -> None:
    victim = base / "victim"
    victim.write_text("root's own\n")
    with TrustedDir.open(base / "run") as run:
        os.symlink(victim, base / "run" / "served")
        with pytest.raises(UntrustedError, match="symbolic link"):
            run.append("served", b".")
        with pytest.raises(UntrustedError, match="symbolic link"):
            run.read("served", 100)
        run.write("served", b"1")  # replaces the link itself, never writes through it
    assert victim.read_text() == "root's own\n"
    assert (base / "run" / "served").read_text() == "1"
    assert not (base / "run" / "served").is_symlink()


def test_a_fifo_is_not_a_file(base: Path) -> None:
    with TrustedDir.open(base / "run") as run:
        os.mkfifo(base / "run" / "lock")
        with pytest.raises(UntrustedError, match="not a regular file"):
            run.open_file("lock", os.O_RDWR | os.O_CREAT)


@as_root
def test_another_user_s_file_is_refused(base: Path) -> None:
    with TrustedDir.open(base / "state") as state:
        (base / "state" / "owned.json").write_text("{}")
        os.chown(base / "state" / "owned.json", NOBODY, NOBODY)
        with pytest.raises(UntrustedError, match="owned by uid 65534"):
            state.read("owned.json", 100)


def test_writes_are_atomic_private_and_leave_nothing_behind(base: Path) -> None:
    with TrustedDir.open(base / "state") as state:
        state.write("owned.json", b"first")
        state.write("owned.json", b"second")
        assert state.read("owned.json", 100) == b"second"
        assert state.read("absent.json", 100) is None
    assert sorted(os.listdir(base / "state")) == ["owned.json"]
    assert mode(base / "state" / "owned.json") == 0o600


def test_an_oversized_file_is_refused_unread(base: Path) -> None:
    with TrustedDir.open(base / "run") as run:
        run.write("big.json", b"x" * 2048)
        with pytest.raises(UntrustedError, match="2048 bytes, more than the 1024"):
            run.read("big.json", 1024)


def test_a_linked_subdirectory_is_refused(base: Path) -> None:
    (base / "elsewhere").mkdir(mode=0o700)
    with TrustedDir.open(base / "run") as run:
        os.symlink(base / "elsewhere", base / "run" / "snapshot")
        with pytest.raises(UntrustedError, match="not a directory of nethook's"):
            run.subdir("snapshot")


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../../etc/passwd", "x\0y"])
def test_names_are_single_components(name: str) -> None:
    with pytest.raises(UntrustedError):
        check_name(name)


def test_names_lists_regular_files_only(base: Path) -> None:
    with TrustedDir.open(base / "run") as run:
        run.write("eth0.json", b"{}")
        run.subdir("restored").close()
        os.symlink("eth0.json", base / "run" / "eth1.json")
        (base / "run" / ".eth0.json.tmp").write_text("")
        assert run.names() == ["eth0.json"]

"""The default /etc/nethook/nethook.yaml the packages install (etc/nethook.yaml).

It must load, declare nothing (a fresh install changes nothing on its own), and its
commented example must stay valid when an administrator uncomments it.
debian/pybuild.testfiles copies etc/ next to tests/ for the build-time run.
"""

from __future__ import annotations

from pathlib import Path

from nethook.config.load import load
from nethook.model.objects import Desired

SHIPPED = Path(__file__).resolve().parents[2] / "etc" / "nethook.yaml"


def test_the_shipped_configuration_declares_nothing() -> None:
    config = load([SHIPPED])
    assert config.desired == Desired()
    assert config.snapshot is True


def test_its_commented_example_is_valid(tmp_path: Path) -> None:
    lines = SHIPPED.read_text().splitlines()
    example = lines[lines.index("version: 1") + 1:]
    uncommented = tmp_path / "nethook.yaml"
    uncommented.write_text("version: 1\n" + "\n".join(
        line[2:] if line.startswith("# ") else line.lstrip("#") for line in example) + "\n")
    desired = load([uncommented]).desired
    assert desired.interfaces == {"eth0"}
    assert (len(desired.addresses), len(desired.routes), len(desired.rules)) == (3, 2, 1)

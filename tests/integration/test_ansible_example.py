"""The Ansible example (examples/ansible): its syntax, and its configuration step for real.

ansible-playbook comes from the venv `make test` makes (.venv-ansible, from
examples/ansible/requirements.txt), named by NETHOOK_ANSIBLE_PLAYBOOK (else the first one on
PATH); without it these tests skip, or fail under NETHOOK_REQUIRE_NETNS=1.

The configuration step runs the real playbook with ``--tags config`` against localhost
(``-c local``) inside a network namespace of the test's: Ansible renders the template from
the example's variables and has nethook validate it before putting it in place, exactly as
on a host. The file goes to the test's directory, ``nethook_command`` is a wrapper running
this checkout with the test's directories (lab.nethook_env), and HOME and Ansible's
temporary directories are the test's: nothing is installed and nothing outside the test's
directories is written. .ci/package-test runs the whole playbook against the installed
package.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.nethook_env import REPO, NethookDirs, temporary_dirs
from lab.netns import VethNamespace, veth_namespace
from lab.services_lab import require
from nethook.config.load import load

EXAMPLE = REPO / "examples" / "ansible"
PLAYBOOK = EXAMPLE / "site.yml"
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

pytestmark = pytest.mark.skipif(not PLAYBOOK.exists(),
                                reason="examples/ is not here (a package build)")


def playbook_command() -> str:
    found = os.environ.get("NETHOOK_ANSIBLE_PLAYBOOK") or shutil.which("ansible-playbook")
    require(None if found and os.access(found, os.X_OK) else
            "no ansible-playbook: `make test` installs one into .venv-ansible "
            "(NETHOOK_ANSIBLE_PLAYBOOK names it)")
    assert found is not None
    return found


def ansible_env(base: Path) -> dict[str, str]:
    """Everything Ansible writes goes under ``base``."""
    for name in ("home", "ansible-local", "ansible-remote"):
        (base / name).mkdir(exist_ok=True)
    return {"PATH": PATH, "HOME": str(base / "home"), "LC_ALL": "C.UTF-8",
            "ANSIBLE_LOCAL_TEMP": str(base / "ansible-local"),
            "ANSIBLE_REMOTE_TEMP": str(base / "ansible-remote"),
            "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3"}


def test_the_playbook_passes_the_syntax_check(tmp_path: Path) -> None:
    done = subprocess.run([playbook_command(), "--syntax-check", "-i", "localhost,",
                           "-e", "nethook_hosts=localhost", str(PLAYBOOK)],
                          env=ansible_env(tmp_path), capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr


@pytest.fixture
def lab() -> Iterator[VethNamespace]:
    with veth_namespace(prefix="nha-", ipv6=False) as veth:
        yield veth


@pytest.fixture
def dirs() -> Iterator[NethookDirs]:
    with temporary_dirs("nha-") as made:
        yield made


def example_vars() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((EXAMPLE / "vars" / "example.yml").read_text())
    return loaded


def configure(lab: VethNamespace, dirs: NethookDirs, dest: Path,
              settings: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """The playbook's configuration step, on localhost in ``lab``'s namespace."""
    variables = {**settings, "nethook_hosts": "localhost", "ansible_become": False,
                 "nethook_install": False, "nethook_check": False,
                 "nethook_apply_on_change": False, "nethook_watch": False,
                 "nethook_config_path": str(dest),
                 "nethook_command": str(dirs.wrapper() / "nethook")}
    extra = dirs.base / "vars.yml"
    extra.write_text(yaml.safe_dump(variables), encoding="utf-8")
    return subprocess.run(["ip", "netns", "exec", lab.name, playbook_command(), "-c", "local",
                           "-i", "localhost,", "--tags", "config", "-e", f"@{extra}",
                           str(PLAYBOOK)],
                          env=ansible_env(dirs.base), capture_output=True, text=True,
                          timeout=300, check=False)


def recap(output: str) -> dict[str, int]:
    found = re.search(r"^localhost\s*:\s*(.*)$", output, re.M)
    assert found is not None, output
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", found.group(1))}


@pytest.mark.privileged
def test_the_config_step_writes_what_nethook_validated(
        lab: VethNamespace, dirs: NethookDirs) -> None:
    dest = dirs.base / "etc-nethook.yaml"
    first = configure(lab, dirs, dest, example_vars())
    assert first.returncode == 0, first.stdout + first.stderr
    assert recap(first.stdout)["changed"] == 1
    # nethook checked the file Ansible rendered, through the validate command, and took
    # `plan`'s status 1 (operations pending: eth0 lacks the addresses) for a valid file.
    assert dirs.call_count() == 1
    assert dirs.command(lab.name, "--config", str(dest), "plan").returncode == 1
    config = load([dest])
    declared = config.desired
    assert {a.interface.with_prefixlen for a in declared.addresses} == {
        "203.0.113.10/24", "198.51.100.20/24"}
    assert {a.label for a in declared.addresses} == {"eth0:web", "eth0:api"}
    assert [(r.table, str(r.gateway)) for r in declared.routes] == [(100, "198.51.100.1")]
    assert [(r.table, r.priority) for r in declared.rules] == [(100, 1000)]
    assert config.imports == ()
    assert [u.unit for u in config.services.units] == ["nginx.service"]
    assert dest.stat().st_mode & 0o777 == 0o644

    again = configure(lab, dirs, dest, example_vars())
    assert again.returncode == 0, again.stdout + again.stderr
    assert recap(again.stdout)["changed"] == 0  # the same variables change nothing


@pytest.mark.privileged
def test_an_invalid_config_is_refused_and_never_put_in_place(
        lab: VethNamespace, dirs: NethookDirs) -> None:
    settings = example_vars()
    settings["nethook_interfaces"]["eth0"]["addresses"][1]["address"] = "198.51.100.300/24"
    dest = dirs.base / "etc-nethook.yaml"
    done = configure(lab, dirs, dest, settings)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "failed to validate" in output, output
    # nethook's own line, naming the line of the file Ansible rendered and the key.
    assert re.search(r"\.yaml:\d+: interfaces\.eth0\.addresses\[1\]\.address: "
                     r"'198\.51\.100\.300/24' is not an IP address", output), output
    assert not dest.exists()

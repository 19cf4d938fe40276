"""The shipped shims in hooks/, each run exactly the way its caller runs it.

Every run happens inside a test network namespace and a private mount namespace
(``unshare --mount --propagation private``) where /usr/bin is overlaid with a directory
holding the test's /usr/bin/nethook (tests/lab/nethook_env.py): a wrapper running this
checkout with the test's NETHOOK_* directories, one that hangs, or an overlayfs whiteout
(the package removed but not purged). The host's /usr/bin never changes.

Callers, as they run the shims:

* Debian's dhclient-script sources ``dhclient-{enter,exit}-hooks.d/*`` with ``. FILE`` in
  its own dash (run_hook), listed by ``run-parts --list``;
* RHEL's dhclient-script sources every executable ``dhclient.d/*.sh`` and calls
  ``NAME_config`` or ``NAME_restore`` (its NetworkManager sources them too, with
  NM_DISPATCHER_ACTION set);
* nm-dispatcher executes ``dispatcher.d/*`` with argv (interface, action);
* ifupdown runs ``run-parts --exit-on-error --verbose /etc/network/if-up.d``;
* networkd-dispatcher executes ``routable.d/*`` with IFACE and STATE.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import pytest

from lab.dhcp_lab import Mount, host_mount_leaks, private_mounts_argv
from lab.nethook_env import (
    ALL_SHIMS,
    DEBIAN_ENTER,
    DEBIAN_EXIT,
    EXECUTED_SHIMS,
    IFUPDOWN,
    NETWORKD,
    NETWORKMANAGER,
    RHEL,
    SOURCED_SHIMS,
    NethookDirs,
    install_shim,
    lab_config,
    reconcile_runs,
)
from lab.netns import VethNamespace, require, veth_namespace
from nethook.cli.hook import HOOK_LOCK_TIMEOUT

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "env"
LEASE = "10.77.0.10"
ALIASES = (("10.77.0.50", "eth0:0"), ("10.77.0.51", "eth0:1"))
CONFIG = lab_config()
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOOK_NAME = re.compile(r"[A-Za-z0-9_-]+")  # run-parts' default (lanana) name rule
TIMEOUT_CALL = re.compile(r"\btimeout -k (\d+) (\d+) /usr/bin/nethook hook ")
CEILING = 60.0  # no shim may keep its caller longer than this, whatever nethook does

# How RHEL's dhclient-script runs dhclient.d (execute_client_side_configuration_scripts):
# each executable *.sh is sourced into the script's bash, then NAME_config (after the
# address is configured) or NAME_restore (when the lease goes) is called.
RHEL_CALLER = r"""
ETCDIR=$1
for f in "$ETCDIR"/dhclient.d/*.sh; do
    if [ -x "$f" ]; then
        subsystem="${f%.sh}"
        subsystem="${subsystem##*/}"
        . "$f"
        "${subsystem}_$2"
        echo "status=$?"
    fi
done
echo "caller continued"
"""

# Debian's run_hook, reduced to what matters here: `. FILE` in the script's own shell.
# `set` is recorded before and after: a sourced hook must change none of the variables.
DEBIAN_CALLER = r"""
nh_hook=$1
nh_out=$2
shift 2
{ set; printf 'argv:%s\n' "$#" "$@"; } > "$nh_out/before"
. "$nh_hook"
echo "status=$?" > "$nh_out/status"
{ set; printf 'argv:%s\n' "$#" "$@"; } > "$nh_out/after"
echo "caller continued" > "$nh_out/tail"
"""


def _fixture(name: str) -> Dict[str, str]:
    env: Dict[str, str] = json.loads((FIXTURES / f"{name}.env").read_text(encoding="utf-8"))
    return env


DHCLIENT_FIXTURES = sorted(p.stem for p in FIXTURES.glob("dhclient-debian-*.env"))
IFUPDOWN_FIXTURES = sorted(p.stem for p in FIXTURES.glob("ifupdown-*.env"))

NM_UP_ENV = {
    "CONNECTION_DBUS_PATH": "/org/freedesktop/NetworkManager/Settings/1",
    "CONNECTION_FILENAME": "/etc/NetworkManager/system-connections/lab.nmconnection",
    "CONNECTION_ID": "lab", "CONNECTION_UUID": "5b1e7f8a-0c1d-4e2f-9a3b-6c7d8e9f0a1b",
    "DEVICE_IFACE": "eth0", "DEVICE_IP_IFACE": "eth0",
    "DHCP4_BROADCAST_ADDRESS": "10.77.0.255", "DHCP4_DHCP_LEASE_TIME": "120",
    "DHCP4_DHCP_SERVER_IDENTIFIER": "10.77.0.1", "DHCP4_EXPIRY": "1795248987",
    "DHCP4_IP_ADDRESS": LEASE, "DHCP4_NEXT_SERVER": "10.77.0.1",
    "DHCP4_REQUESTED_ROUTERS": "1", "DHCP4_REQUESTED_SUBNET_MASK": "1",
    "DHCP4_ROUTERS": "10.77.0.1", "DHCP4_SUBNET_MASK": "255.255.255.0",
    "IP4_ADDRESS_0": f"{LEASE}/24 10.77.0.1", "IP4_GATEWAY": "10.77.0.1",
    "IP4_NUM_ADDRESSES": "1", "IP4_NUM_ROUTES": "1", "IP4_ROUTE_0": "10.77.0.0/24 0.0.0.0 100",
    "IP6_GATEWAY": "0.0.0.0", "NM_DISPATCHER_ACTION": "up", "PATH": PATH,
}
RHEL_BOUND_ENV = {
    "PATH": "/usr/sbin:/sbin:/bin:/usr/bin", "reason": "BOUND", "interface": "eth0",
    "new_ip_address": LEASE, "new_subnet_mask": "255.255.255.0",
    "new_network_number": "10.77.0.0", "new_broadcast_address": "10.77.0.255",
    "new_routers": "10.77.0.1", "new_dhcp_lease_time": "120",
    "new_dhcp_server_identifier": "10.77.0.1", "requested_routers": "1",
}
NETWORKD_ENV = {
    "PATH": PATH, "IFACE": "eth0", "STATE": "routable", "AdministrativeState": "configured",
    "OperationalState": "routable", "ADDR": LEASE, "IP_ADDRS": LEASE, "IP6_ADDRS": "",
    "ESSID": "", "json": json.dumps({"Name": "eth0", "OperationalState": "routable"}),
}


# -- running shims ------------------------------------------------------------------------


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str
    elapsed: float
    out: Path  # the directory the caller scripts write their records to

    def record(self, name: str) -> Optional[str]:
        path = self.out / name
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else None


@dataclass
class ShimLab:
    """A test namespace with ``eth0`` holding the lease, and the test's nethook."""

    veth: VethNamespace
    dirs: NethookDirs
    tmp: Path
    _bins: Dict[str, Path] = field(default_factory=dict)
    _runs: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def bin_dir(self, kind: str) -> Path:
        """The directory laid over /usr/bin for a ``kind`` of nethook, made once."""
        with self._lock:
            if kind not in self._bins:
                self._bins[kind] = self.dirs.wrapper(kind, name=f"bin-{kind}")
            return self._bins[kind]

    def install(self, shim: Path, directory: str, name: Optional[str] = None) -> Path:
        """The shipped file, copied once (runs may come from several threads)."""
        with self._lock:
            target = self.tmp / directory / (name or shim.name)
            if not target.exists():
                install_shim(shim, target.parent, name)
            assert target.read_bytes() == shim.read_bytes()
            return target

    def run(self, argv: Sequence[str], env: Mapping[str, str], *, nethook: str = "run",
            timeout: float = CEILING + 30) -> Ran:
        """``argv`` with ``env`` only, in the namespace, with /usr/bin overlaid."""
        with self._lock:
            self._runs += 1
            out = self.tmp / f"out-{self._runs}"
            out.mkdir()
        mounts = [Mount(str(self.bin_dir(nethook)), "/usr/bin", "overlay")]
        full = [arg.replace("@OUT@", str(out)) for arg in argv]
        started = time.monotonic()
        done = subprocess.run(private_mounts_argv(self.veth.name, mounts, full),
                              env=dict(env), capture_output=True, text=True,
                              errors="replace", timeout=timeout, cwd="/",
                              stdin=subprocess.DEVNULL)
        return Ran(done.returncode, done.stdout, done.stderr, time.monotonic() - started, out)

    def addresses(self) -> List[Tuple[str, str, bool]]:
        """(cidr, label, secondary) on eth0: the first as listed, the others sorted."""
        links = self.veth.ns.ip_json("-4", "addr", "show", "dev", "eth0")
        found = [(f"{a['local']}/{a['prefixlen']}", a.get("label", "eth0"),
                  bool(a.get("secondary"))) for link in links for a in link["addr_info"]]
        return found[:1] + sorted(found[1:])

    def drop_aliases(self) -> None:
        for ip, _ in ALIASES:
            self.veth.ns.run(["ip", "addr", "del", f"{ip}/24", "dev", "eth0"], check=False)
        assert self.addresses() == [(f"{LEASE}/24", "eth0", False)]


RESTORED = [(f"{LEASE}/24", "eth0", False), *((f"{ip}/24", lb, True) for ip, lb in ALIASES)]
BARE = [(f"{LEASE}/24", "eth0", False)]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[ShimLab]:
    assert host_mount_leaks() == []
    dirs = NethookDirs.create(tmp_path / "nethook", CONFIG)
    with veth_namespace(ipv6=False) as veth:
        veth.ns.ip("addr", "add", f"{LEASE}/24", "dev", "eth0")
        yield ShimLab(veth, dirs, tmp_path)
        assert _pids(veth.name) == [], "processes left in the namespace"
    assert host_mount_leaks() == []


def _pids(netns: str) -> List[str]:
    return subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True,
                          check=True, timeout=10).stdout.split()


def _run_parts() -> str:
    found = shutil.which("run-parts")
    if found is None:
        require("needs run-parts (debianutils), which lists and runs the hooks")
    return found


def _sh() -> str:
    dash = shutil.which("dash")
    if dash is None:
        require("needs dash, the shell Debian's dhclient-script runs in")
    return dash


def _source_debian(lab: ShimLab, shim: Path, env: Mapping[str, str],
                   nethook: str = "run") -> Ran:
    hook = lab.install(shim, shim.parent.name)
    return lab.run([_sh(), "-c", DEBIAN_CALLER, "dhclient-script", str(hook), "@OUT@"],
                   env, nethook=nethook)


def _assert_clean_source(ran: Ran) -> None:
    """The caller went on, with its variables untouched and status 0."""
    assert ran.returncode == 0, ran.stderr
    assert ran.record("tail") == "caller continued\n", ran.stderr
    assert ran.record("status") == "status=0\n"
    assert ran.record("after") == ran.record("before")
    assert "Traceback" not in ran.stderr


def _enter_calls(env: Mapping[str, str]) -> bool:
    """When the enter shim must run nethook: before teardown-like reasons, and before a
    renewal that moves the lease (a same-address RENEW changes nothing)."""
    reason = env.get("reason", "")
    if reason in ("RENEW", "REBIND", "RENEW6", "REBIND6"):
        return (env.get("old_ip_address") != env.get("new_ip_address")
                or env.get("old_ip6_address") != env.get("new_ip6_address"))
    return reason in ("EXPIRE", "FAIL", "RELEASE", "STOP", "TIMEOUT",
                      "EXPIRE6", "RELEASE6", "STOP6")


def _exit_calls(env: Mapping[str, str]) -> bool:
    return env.get("reason") in ("BOUND", "RENEW", "REBIND", "REBOOT", "TIMEOUT",
                                 "BOUND6", "RENEW6", "REBIND6")


# -- the shipped files themselves (no privileges needed) ----------------------------------


def _code_lines(path: Path) -> List[str]:
    """The shell code of a shim: comment lines and trailing comments removed."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        code = re.sub(r"(^|\s)#.*$", "", line).rstrip()
        if code.strip():
            lines.append(code)
    return lines


@pytest.mark.parametrize("shim", SOURCED_SHIMS, ids=lambda p: p.parent.name)
def test_sourced_fragments_are_0644_without_shebang_and_listed(shim: Path) -> None:
    assert stat.S_IMODE(shim.stat().st_mode) == 0o644
    assert not shim.read_bytes().startswith(b"#!")
    assert HOOK_NAME.fullmatch(shim.name)
    listed = subprocess.run([_run_parts(), "--list", str(shim.parent)], capture_output=True,
                            text=True, check=True, timeout=10).stdout.split()
    assert listed == [str(shim)]
    subprocess.run([_sh(), "-n", str(shim)], check=True, timeout=10)


@pytest.mark.parametrize("shim", [*EXECUTED_SHIMS, RHEL], ids=lambda p: p.parent.name)
def test_executed_scripts_are_0755_with_a_shebang_and_valid_syntax(shim: Path) -> None:
    assert stat.S_IMODE(shim.stat().st_mode) == 0o755
    first = shim.read_text(encoding="utf-8").splitlines()[0]
    shell = "/bin/bash" if shim == RHEL else "/bin/sh"
    assert first == f"#!{shell}"
    subprocess.run(["bash" if shim == RHEL else _sh(), "-n", str(shim)], check=True,
                   timeout=10)
    if shim == RHEL:
        assert shim.name.endswith(".sh")  # RHEL's script only looks at dhclient.d/*.sh
    else:
        assert HOOK_NAME.fullmatch(shim.name)  # run-parts, nm-dispatcher, networkd-dispatcher
    if shim == IFUPDOWN:
        listed = subprocess.run([_run_parts(), "--list", str(shim.parent)],
                                capture_output=True, text=True, check=True, timeout=10)
        assert listed.stdout.split() == [str(shim)]


@pytest.mark.parametrize("shim", ALL_SHIMS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_shim_evaluates_anything(shim: Path) -> None:
    code = "\n".join(_code_lines(shim))
    for pattern in (r"\beval\b", r"\$\(", r"`", r"\bsource\b", r"(^|[;&|]\s*)\.\s",
                    r"\bexec\b", r"\bsh -c\b", r"\bbash -c\b"):
        assert not re.search(pattern, code, re.MULTILINE), (pattern, shim)


@pytest.mark.parametrize("shim", ALL_SHIMS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_arguments_follow_a_double_dash(shim: Path) -> None:
    """Whatever a shim passes after the source comes after `--`: a caller's value that
    starts with '-' (an interface named -h) is then never read as an option."""
    for line in _code_lines(shim):
        found = re.search(r"/usr/bin/nethook hook [a-z-]+ (.*?)\s*</dev/null", line)
        if found and found.group(1):
            assert found.group(1).split()[0] == "--", line


@pytest.mark.parametrize("shim", ALL_SHIMS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_nethook_call_is_absolute_bounded_and_detached(shim: Path) -> None:
    calls = [line for line in _code_lines(shim) if "nethook hook" in line]
    assert calls
    for line in calls:
        found = TIMEOUT_CALL.search(line)
        assert found, line
        kill_after, limit = int(found.group(1)), int(found.group(2))
        # The hook gives up waiting for the run lock before the shim kills it.
        assert limit > HOOK_LOCK_TIMEOUT and kill_after + limit < CEILING
        assert "</dev/null" in line and ">/dev/null" in line and line.rstrip().endswith("|| :")
    print(f"\n{shim.relative_to(shim.parents[1])}: timeout -k {kill_after} {limit}")


# -- Debian: sourced by dhclient-script ----------------------------------------------------


@pytest.mark.privileged
@pytest.mark.parametrize("fixture", DHCLIENT_FIXTURES)
@pytest.mark.parametrize("shim", SOURCED_SHIMS, ids=["enter", "exit"])
def test_debian_shim_sourced_with_each_captured_env(lab: ShimLab, shim: Path,
                                                    fixture: str) -> None:
    env = _fixture(fixture)

    ran = _source_debian(lab, shim, env)

    _assert_clean_source(ran)
    expected = _enter_calls(env) if shim == DEBIAN_ENTER else _exit_calls(env)
    assert lab.dirs.call_count() == int(expected)
    assert len(lab.dirs.journal()) == int(expected)  # each call journaled one event


@pytest.mark.privileged
@pytest.mark.parametrize("fixture", ["dhclient-debian-EXPIRE", "dhclient-debian-BOUND"])
@pytest.mark.parametrize("shim", SOURCED_SHIMS, ids=["enter", "exit"])
def test_debian_shim_without_nethook_installed(lab: ShimLab, shim: Path, fixture: str) -> None:
    ran = _source_debian(lab, shim, _fixture(fixture), nethook="absent")

    _assert_clean_source(ran)
    assert lab.dirs.call_count() == 0 and lab.dirs.journal() == []


@pytest.mark.privileged
def test_debian_exit_shim_restores_and_enter_shim_snapshots(lab: ShimLab) -> None:
    lab.drop_aliases()
    _assert_clean_source(_source_debian(lab, DEBIAN_EXIT, _fixture("dhclient-debian-BOUND")))
    assert lab.addresses() == RESTORED
    [bound] = lab.dirs.journal()
    assert (bound["event"]["source"], bound["event"]["reason"]) == ("dhclient", "BOUND")
    assert len(bound["plan"]) == 2 and bound["exit"] == 0

    lab.veth.ns.run(["ip", "addr", "add", "10.77.0.77/24", "dev", "eth0"])  # by hand
    _assert_clean_source(_source_debian(lab, DEBIAN_ENTER, _fixture("dhclient-debian-EXPIRE")))
    snapshot = lab.dirs.snapshot("eth0")
    assert snapshot is not None and snapshot["reason"] == "EXPIRE"
    # The declared aliases nethook added are its own: its configuration keeps them.
    assert [o["address"] for o in snapshot["objects"]] == ["10.77.0.77/24"]
    assert lab.dirs.journal()[-1]["action"].startswith("snapshot of 1")


@pytest.mark.privileged
def test_debian_shims_through_the_real_run_hookdir(lab: ShimLab) -> None:
    """dhclient-script's own run_hook/run_hookdir (taken from /sbin/dhclient-script)."""
    script = Path("/sbin/dhclient-script")
    if not script.exists():
        require("needs Debian's /sbin/dhclient-script")
    text = script.read_text(encoding="utf-8")
    found = re.search(r"^run_hook\(\) \{.*?^\}\n.*?^run_hookdir\(\) \{.*?^\}\n", text,
                      re.MULTILINE | re.DOTALL)
    assert found, "run_hook/run_hookdir not found in /sbin/dhclient-script"
    hooks = lab.tmp / "exit-hooks.d"
    lab.install(DEBIAN_EXIT, "exit-hooks.d")
    (hooks / "zzz-after").write_text('echo "after: $reason" >> "$nh_out/ran"\n')
    caller = (found.group(0) + 'nh_out=$1\nrun_hookdir "$2"\necho "hookdir=$?" >> "$nh_out/ran"\n'
              'echo "caller continued" > "$nh_out/tail"\n')
    lab.drop_aliases()

    ran = lab.run([_sh(), "-c", caller, "dhclient-script", "@OUT@", str(hooks)],
                  _fixture("dhclient-debian-RENEW"))

    assert ran.returncode == 0, ran.stderr
    assert ran.record("ran") == "after: RENEW\nhookdir=0\n"
    assert ran.record("tail") == "caller continued\n"
    assert lab.addresses() == RESTORED


# -- RHEL: dhclient.d/nethook.sh -----------------------------------------------------------


def _rhel(lab: ShimLab, action: str, env: Mapping[str, str], nethook: str = "run") -> Ran:
    lab.install(RHEL, "etc/dhclient.d")
    return lab.run(["bash", "-c", RHEL_CALLER, "dhclient-script", str(lab.tmp / "etc"),
                    action], env, nethook=nethook)


@pytest.mark.privileged
def test_rhel_config_restores_declared_aliases(lab: ShimLab) -> None:
    lab.drop_aliases()

    ran = _rhel(lab, "config", RHEL_BOUND_ENV)

    assert (ran.returncode, ran.stdout) == (0, "status=0\ncaller continued\n"), ran.stderr
    assert "Traceback" not in ran.stderr
    assert lab.addresses() == RESTORED
    [entry] = lab.dirs.journal()
    assert entry["event"] == {"source": "dhclient-rhel", "kind": "configure", "reason": "BOUND",
                              "ifname": "eth0", "new_address": f"{LEASE}/24",
                              "routers": ["10.77.0.1"]}
    assert len(entry["plan"]) == 2


@pytest.mark.privileged
def test_rhel_shim_as_a_plain_bash_source(lab: ShimLab) -> None:
    shim = lab.install(RHEL, "plain")
    lab.drop_aliases()

    ran = lab.run(["bash", "-c", '. "$1"; nethook_config; echo "status=$?"', "x", str(shim)],
                  RHEL_BOUND_ENV)

    assert (ran.returncode, ran.stdout) == (0, "status=0\n"), ran.stderr
    assert lab.addresses() == RESTORED


@pytest.mark.privileged
def test_rhel_restore_on_expire_restores_nothing(lab: ShimLab) -> None:
    env = {"PATH": RHEL_BOUND_ENV["PATH"], "reason": "EXPIRE", "interface": "eth0",
           "old_ip_address": LEASE, "old_subnet_mask": "255.255.255.0"}
    lab.drop_aliases()

    ran = _rhel(lab, "restore", env)

    assert (ran.returncode, ran.stdout) == (0, "status=0\ncaller continued\n"), ran.stderr
    assert lab.addresses() == BARE
    [entry] = lab.dirs.journal()
    assert "plan" not in entry and entry["event"]["kind"] == "teardown"
    assert entry["event"]["reason"] == "EXPIRE"


@pytest.mark.privileged
@pytest.mark.parametrize("action", ["config", "restore"])
def test_rhel_shim_under_networkmanager_does_nothing(lab: ShimLab, action: str) -> None:
    ran = _rhel(lab, action, {**RHEL_BOUND_ENV, "NM_DISPATCHER_ACTION": "dhcp4-change"})

    assert (ran.returncode, ran.stdout) == (0, "status=0\ncaller continued\n"), ran.stderr
    assert lab.dirs.call_count() == 0 and lab.dirs.journal() == []


@pytest.mark.privileged
def test_rhel_shim_without_nethook_installed(lab: ShimLab) -> None:
    ran = _rhel(lab, "config", RHEL_BOUND_ENV, nethook="absent")

    assert (ran.returncode, ran.stdout) == (0, "status=0\ncaller continued\n"), ran.stderr
    assert lab.dirs.journal() == []


# -- NetworkManager dispatcher --------------------------------------------------------------


def _nm(lab: ShimLab, argv: Sequence[str], env: Mapping[str, str],
        nethook: str = "run") -> Ran:
    shim = lab.install(NETWORKMANAGER, "dispatcher.d")
    return lab.run([str(shim), *argv], env, nethook=nethook)


@pytest.mark.privileged
def test_networkmanager_up_restores_declared_aliases(lab: ShimLab) -> None:
    lab.drop_aliases()

    ran = _nm(lab, ["eth0", "up"], NM_UP_ENV)

    assert (ran.returncode, ran.stdout) == (0, ""), ran.stderr
    assert "Traceback" not in ran.stderr
    assert lab.addresses() == RESTORED
    [entry] = lab.dirs.journal()
    assert entry["event"]["source"] == "networkmanager" and entry["event"]["reason"] == "up"
    assert entry["event"]["new_address"] == f"{LEASE}/24"


@pytest.mark.privileged
@pytest.mark.parametrize(("argv", "env"), [
    (["none", "hostname"], {"NM_DISPATCHER_ACTION": "hostname", "PATH": PATH}),
    (["", "connectivity-change"], {"NM_DISPATCHER_ACTION": "connectivity-change",
                                   "CONNECTIVITY_STATE": "FULL", "PATH": PATH}),
    (["eth0", "pre-up"], {**NM_UP_ENV, "NM_DISPATCHER_ACTION": "pre-up"}),
], ids=["hostname", "connectivity-change", "pre-up"])
def test_networkmanager_other_actions_start_nothing(lab: ShimLab, argv: List[str],
                                                    env: Dict[str, str]) -> None:
    ran = _nm(lab, argv, env)

    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "", "")
    assert lab.dirs.call_count() == 0  # /usr/bin/nethook never ran: no Python started
    assert lab.dirs.journal() == []


@pytest.mark.privileged
@pytest.mark.parametrize("name", ["-h", "--json", "--", "-o"])
def test_networkmanager_interface_named_like_an_option(lab: ShimLab, name: str) -> None:
    """The kernel accepts these names; the dispatcher passes one as $1. Without `--` it was
    parsed as an option of nethook's (help, an unknown option, the end of options) and the
    event was lost without a word."""
    ns = lab.veth.ns
    ns.ip("link", "set", "dev", "eth0", "down")
    ns.ip("link", "set", "dev", "eth0", "name", name)
    ns.ip("link", "set", "dev", name, "up")
    lab.dirs.write_config("version: 1\ninterfaces:\n"
                          f"  {json.dumps(name)}:\n    addresses:\n"
                          f'      - {{address: 10.77.0.50/24, label: "{name}:0"}}\n')

    ran = _nm(lab, [name, "up"], {**NM_UP_ENV, "DEVICE_IFACE": name, "DEVICE_IP_IFACE": name})

    assert (ran.returncode, ran.stdout) == (0, ""), ran.stderr
    [entry] = lab.dirs.journal()
    assert (entry["event"]["ifname"], entry["event"]["reason"]) == (name, "up")
    assert entry["exit"] == 0
    held = ns.ip_json("-4", "addr", "show", "dev", name)
    assert sorted((a["local"], a.get("label")) for link in held for a in link["addr_info"]) == [
        (LEASE, name), ("10.77.0.50", f"{name}:0")]


@pytest.mark.privileged
def test_networkmanager_down_only_journals(lab: ShimLab) -> None:
    env = {k: v for k, v in NM_UP_ENV.items()
           if k.startswith(("CONNECTION_", "DEVICE_")) or k == "PATH"}
    ran = _nm(lab, ["eth0", "down"], {**env, "NM_DISPATCHER_ACTION": "down"})

    assert ran.returncode == 0, ran.stderr
    [entry] = lab.dirs.journal()
    assert "plan" not in entry and entry["event"]["kind"] == "teardown"


# -- ifupdown: run-parts --exit-on-error if-up.d ---------------------------------------------


def _ifup(lab: ShimLab, env: Mapping[str, str], nethook: str = "run") -> Ran:
    lab.install(IFUPDOWN, "if-up.d")
    return lab.run(["run-parts", "--exit-on-error", "--verbose", str(lab.tmp / "if-up.d")],
                   env, nethook=nethook)


@pytest.mark.privileged
@pytest.mark.parametrize("fixture", IFUPDOWN_FIXTURES)
def test_ifupdown_shim_with_each_captured_env(lab: ShimLab, fixture: str) -> None:
    lab.drop_aliases()

    ran = _ifup(lab, _fixture(fixture))

    assert ran.returncode == 0, ran.stderr
    assert "Traceback" not in ran.stderr
    assert lab.addresses() == RESTORED
    [entry] = lab.dirs.journal()
    assert (entry["event"]["source"], entry["event"]["ifname"]) == ("ifupdown", "eth0")


@pytest.mark.privileged
@pytest.mark.parametrize("change", [{"METHOD": "NetworkManager"}, {"IFACE": "--all"},
                                    {"MODE": "stop", "PHASE": "post-down"}],
                         ids=["NetworkManager", "all", "stop"])
def test_ifupdown_shim_skips_without_python(lab: ShimLab, change: Dict[str, str]) -> None:
    ran = _ifup(lab, {**_fixture("ifupdown-dhcp"), **change})

    assert ran.returncode == 0, ran.stderr
    assert lab.dirs.call_count() == 0 and lab.dirs.journal() == []


@pytest.mark.privileged
def test_ifupdown_shim_without_nethook_installed(lab: ShimLab) -> None:
    ran = _ifup(lab, _fixture("ifupdown-dhcp"), nethook="absent")

    assert ran.returncode == 0, ran.stderr
    assert lab.dirs.journal() == []


# -- networkd-dispatcher ----------------------------------------------------------------------


def _networkd(lab: ShimLab, env: Mapping[str, str], nethook: str = "run") -> Ran:
    shim = lab.install(NETWORKD, "routable.d")
    return lab.run([str(shim)], env, nethook=nethook)


@pytest.mark.privileged
def test_networkd_routable_restores_declared_aliases(lab: ShimLab) -> None:
    lab.drop_aliases()

    ran = _networkd(lab, NETWORKD_ENV)

    assert (ran.returncode, ran.stdout) == (0, ""), ran.stderr
    assert "Traceback" not in ran.stderr
    assert lab.addresses() == RESTORED
    [entry] = lab.dirs.journal()
    assert (entry["event"]["source"], entry["event"]["reason"]) == ("networkd", "routable")


@pytest.mark.privileged
@pytest.mark.parametrize("state", ["degraded", "configuring", "off", ""])
def test_networkd_other_states_start_nothing(lab: ShimLab, state: str) -> None:
    ran = _networkd(lab, {**NETWORKD_ENV, "STATE": state})

    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "", "")
    assert lab.dirs.call_count() == 0


# -- every entry point: nethook hangs ---------------------------------------------------------


@dataclass(frozen=True)
class EntryPoint:
    """One shim and how its caller runs it: ``run(lab, ifname, values, nethook)``."""

    name: str
    run: Callable[[ShimLab, str, Sequence[str], str], Ran]
    clean: Callable[[Ran], None]  # the caller's own success check


def _values(values: Sequence[str], i: int) -> str:
    return values[i % len(values)]


def _unrelated(values: Sequence[str]) -> Dict[str, str]:
    """Variables the shims never read, all hostile."""
    names = ("new_domain_name", "new_host_name", "new_domain_search", "new_bootfile_name",
             "new_dhcp_message", "new_tftp_server_name", "DHCP4_DOMAIN_NAME",
             "DHCP4_HOST_NAME", "IF_NETHOOK_ALIASES", "CONNECTION_ID", "ESSID", "json")
    return {name: _values(values, i) for i, name in enumerate(names)}


def _debian_env(reason: str, ifname: str, values: Sequence[str]) -> Dict[str, str]:
    env = {**_fixture("dhclient-debian-RENEW"), "reason": reason, "interface": ifname}
    if values:
        env.update({"old_ip_address": _values(values, 0), "new_ip_address": _values(values, 1),
                    "new_subnet_mask": _values(values, 2), "old_subnet_mask": _values(values, 3),
                    "new_routers": _values(values, 4), "new_ip6_address": _values(values, 5),
                    "new_ip6_prefixlen": _values(values, 6), "pid": _values(values, 7),
                    **_unrelated(values)})
    return env


def _debian(shim: Path, reason: str) -> EntryPoint:
    def run(lab: ShimLab, ifname: str, values: Sequence[str], nethook: str) -> Ran:
        return _source_debian(lab, shim, _debian_env(reason, ifname, values), nethook)
    return EntryPoint(f"debian-{shim.parent.name.split('-')[1]}-{reason}", run,
                      _assert_clean_source)


def _rhel_run(lab: ShimLab, ifname: str, values: Sequence[str], nethook: str) -> Ran:
    env = {**RHEL_BOUND_ENV, "interface": ifname}
    if values:
        # RHEL's shim filters no reason: nethook itself gets and journals this one.
        env.update({"new_ip_address": _values(values, 0), "new_subnet_mask": _values(values, 1),
                    "old_ip_address": _values(values, 2), "new_routers": _values(values, 3),
                    "reason": _values(values, 5), **_unrelated(values)})
    return _rhel(lab, "config", env, nethook)


def _rhel_clean(ran: Ran) -> None:
    assert (ran.returncode, ran.stdout) == (0, "status=0\ncaller continued\n"), ran.stderr


def _nm_run(lab: ShimLab, ifname: str, values: Sequence[str], nethook: str) -> Ran:
    env = {**NM_UP_ENV, "DEVICE_IFACE": ifname, "DEVICE_IP_IFACE": ifname}
    argv1 = ifname
    if values:
        argv1 = _values(values, 4)
        env.update({"DHCP4_IP_ADDRESS": _values(values, 0), "DHCP4_SUBNET_MASK": _values(
            values, 1), "IP4_ADDRESS_0": _values(values, 2), "DHCP4_ROUTERS": _values(values, 3),
            **_unrelated(values)})
    return _nm(lab, [argv1, "up"], env, nethook)


def _ifupdown_run(lab: ShimLab, ifname: str, values: Sequence[str], nethook: str) -> Ran:
    env = {**_fixture("ifupdown-dhcp"), "IFACE": ifname, "LOGICAL": ifname}
    if values:
        env.update({"IF_ADDRESS": _values(values, 0), "IF_NETMASK": _values(values, 1),
                    "VERBOSITY": _values(values, 2), **_unrelated(values)})
    return _ifup(lab, env, nethook)


def _networkd_run(lab: ShimLab, ifname: str, values: Sequence[str], nethook: str) -> Ran:
    env = {**NETWORKD_ENV, "IFACE": ifname}
    if values:
        env.update({"ADDR": _values(values, 0), "IP_ADDRS": _values(values, 1),
                    "OperationalState": _values(values, 2), **_unrelated(values)})
    return _networkd(lab, env, nethook)


def _exit_zero(ran: Ran) -> None:
    assert ran.returncode == 0, ran.stderr


ENTRY_POINTS = (
    _debian(DEBIAN_ENTER, "EXPIRE"),
    _debian(DEBIAN_EXIT, "BOUND"),
    EntryPoint("rhel-config", _rhel_run, _rhel_clean),
    EntryPoint("networkmanager-up", _nm_run, _exit_zero),
    EntryPoint("ifupdown-post-up", _ifupdown_run, _exit_zero),
    EntryPoint("networkd-routable", _networkd_run, _exit_zero),
)


@pytest.mark.privileged
def test_a_hanging_nethook_is_cut_off_by_every_shim(lab: ShimLab) -> None:
    """/usr/bin/nethook never returns and ignores SIGTERM: `timeout -k` must end it."""
    limits = {int(m.group(1)) + int(m.group(2)) for shim in ALL_SHIMS
              for m in TIMEOUT_CALL.finditer(shim.read_text(encoding="utf-8"))}
    with ThreadPoolExecutor(len(ENTRY_POINTS)) as pool:
        ran = list(pool.map(lambda e: e.run(lab, "eth0", (), "hang"), ENTRY_POINTS))

    for entry, result in zip(ENTRY_POINTS, ran):
        entry.clean(result)
        assert result.elapsed < CEILING, (entry.name, result.elapsed)
    assert lab.dirs.call_count() == len(ENTRY_POINTS)  # each really ran the hanging nethook
    print(f"\nshim bound (timeout -k + limit): {sorted(limits)} s; returned after "
          + ", ".join(f"{e.name} {r.elapsed:.1f} s" for e, r in zip(ENTRY_POINTS, ran)))


# -- every entry point: hostile values ----------------------------------------------------------




def hostile_values(canary: Path) -> List[str]:
    """Values that run a command (creating a file in ``canary``) if anything evaluates them."""
    c = str(canary)
    return [
        f"$(touch {c}/dollar)",
        f"`touch {c}/backtick`",
        f"eth0;touch {c}/semicolon;",
        f"x'\"$(touch {c}/quotes)\"'\\",
        f"x\ntouch {c}/newline\n",
        f"a|touch {c}/pipe&&touch {c}/and||touch {c}/or&",
        f"$((1))${{x:=$(touch {c}/param)}}",
        f">{c}/redirect <{c}/in",
        "!", "(", "-o", "=", "",
        "A" * 10_000 + f"$(touch {c}/long)",
    ]


@pytest.mark.privileged
@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=lambda e: e.name)
def test_hostile_values_execute_nothing(lab: ShimLab, canary: Path, entry: EntryPoint) -> None:
    values = hostile_values(canary)
    # One run per hostile interface name (argv $1 too, for NM), and one with a valid name
    # and every other value hostile, so that nethook gets as far as reading the lease.
    cases: List[Tuple[str, Sequence[str]]] = [(v, ()) for v in values]
    cases += [("eth0", values), ("eth0", values[::-1])]
    lab.drop_aliases()
    with ThreadPoolExecutor(4) as pool:
        ran = list(pool.map(lambda c: entry.run(lab, c[0], c[1], "run"), cases))

    assert sorted(p.name for p in canary.iterdir()) == []
    for (ifname, _), result in zip(cases, ran):
        entry.clean(result)
        assert "Traceback" not in result.stderr, (ifname[:40], result.stderr)
        assert result.elapsed < CEILING
    assert lab.dirs.call_count() >= 2  # the valid-name runs reached nethook
    runs = reconcile_runs(lab.dirs.journal())  # every line parses, every run went well
    assert all(run["exit"] == 0 for run in runs)


# What each shim tests before it starts nethook: a hostile value there starts nothing.
GATES: Dict[str, Callable[[ShimLab, str], Ran]] = {
    "debian-enter-reason": lambda lab, v: _source_debian(
        lab, DEBIAN_ENTER, {**_fixture("dhclient-debian-EXPIRE"), "reason": v}),
    "debian-exit-reason": lambda lab, v: _source_debian(
        lab, DEBIAN_EXIT, {**_fixture("dhclient-debian-BOUND"), "reason": v}),
    "rhel-NM_DISPATCHER_ACTION": lambda lab, v: _rhel(
        lab, "config", {**RHEL_BOUND_ENV, "NM_DISPATCHER_ACTION": v or "x"}),
    "networkmanager-action": lambda lab, v: _nm(lab, ["eth0", v], NM_UP_ENV),
    "ifupdown-MODE": lambda lab, v: _ifup(lab, {**_fixture("ifupdown-dhcp"), "MODE": v}),
    "ifupdown-METHOD": lambda lab, v: _ifup(
        lab, {**_fixture("ifupdown-dhcp"), "METHOD": "NetworkManager", "IFACE": v}),
    "networkd-STATE": lambda lab, v: _networkd(lab, {**NETWORKD_ENV, "STATE": v}),
}


@pytest.mark.privileged
@pytest.mark.parametrize("gate", sorted(GATES))
def test_hostile_gate_values_start_nothing(lab: ShimLab, canary: Path, gate: str) -> None:
    values = hostile_values(canary)
    with ThreadPoolExecutor(4) as pool:
        ran = list(pool.map(lambda v: GATES[gate](lab, v), values))

    assert sorted(p.name for p in canary.iterdir()) == []
    for result in ran:
        assert result.returncode == 0, result.stderr
        assert result.elapsed < CEILING
        if gate.startswith("debian"):
            _assert_clean_source(result)
    assert lab.dirs.call_count() == 0 and lab.dirs.journal() == []


# -- a bug: an interface name that is not UTF-8 -------------------------------------------------


@pytest.mark.privileged
@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=lambda e: e.name)
def test_a_non_utf8_interface_name_is_refused_without_a_traceback(lab: ShimLab,
                                                                  entry: EntryPoint) -> None:
    """The kernel accepts any byte but '/', ':', whitespace and NUL in a name, so a hook can
    be handed b"e\\xff". Python decodes it to the lone surrogate "\\udcff"; nethook must
    refuse the name with a warning like any other invalid one, not crash on it."""
    ran = entry.run(lab, "e\udcff", (), "run")

    entry.clean(ran)
    assert lab.dirs.call_count() == 1
    assert "Traceback" not in ran.stderr, ran.stderr
    assert "ignoring invalid interface name" in ran.stderr


"""Real daemons for the services tests: ntpsec's ntpd, xinetd and chronyd in a test namespace.

What running them safely takes:

* time is not namespaced: ntpd in a network namespace could still set the host's clock, so
  it runs without ``cap_sys_time`` in its bounding and inheritable sets (``setpriv``; its
  adjtime calls then fail with EPERM) and its configuration has ``disable ntp`` and
  ``disable kernel``; never with ``-u`` (ntpsec's sandbox would then ask for cap_sys_time
  and exit);
* it gets its own configuration, pid, log and stats files, in the test's directory;
* ntpd rescans its interfaces ~2 s after the last address change: it logs ``Deleting
  interface #N eth0:0, 10.77.0.50#123`` when the alias goes and ``Listen normally on N
  eth0:0 10.77.0.50:123`` when it is back;
* SIGHUP is never sent to it.

chronyd is Debian 12's, unpacked by ``make lab-debs`` into .lab/debs/chrony (the chrony
package conflicts with ntpsec, so it is not installed): it runs with ``-x`` (it never
touches the clock) and without cap_sys_time too, on its own configuration, pid file and
command socket.

Every process is started in the test's namespace and stopped by PID (the namespace's own
cleanup kills what is left, by PID too).
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable, Optional

from lab.nethook_env import NethookDirs
from lab.netns import Namespace, require
from nethook.daemons import listeners
from nethook.daemons.listeners import Listener

NTPD = "/usr/sbin/ntpd"
XINETD = "/usr/sbin/xinetd"
CHRONYD = Path(__file__).resolve().parents[1] / ".lab" / "debs" / "chrony" / "usr/sbin/chronyd"
SAFE_TIME = ("setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time")
LEASE, ALIAS, PREFIX = "10.77.0.10", "10.77.0.50", 24
CHILD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DELETED = re.compile(r"Deleting interface #\d+ eth0:0, 10\.77\.0\.50#123")
LISTENING = re.compile(r"Listen normally on \d+ eth0:0 10\.77\.0\.50:123")


def require_tools(*names: str) -> None:
    absent = [n for n in names if shutil.which(n, path=CHILD_PATH) is None]
    require(f"not installed: {', '.join(absent)}" if absent else None)


def wait_for(check: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


class Ntpd:
    """One ntpd's files: configuration (optionally with a control key), keys, log, pid."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "stats").mkdir(exist_ok=True)
        self.conf = self.dir / "ntp.conf"
        self.keys = self.dir / "ntp.keys"
        self.log = self.dir / "ntpd.log"
        self.pid_file = self.dir / "ntpd.pid"

    def write_conf(self, rules: Sequence[str], *, key: bool = False) -> None:
        lines = [f"logfile {self.log}", "logconfig =allall", f"statsdir {self.dir}/stats/",
                 "disable ntp", "disable kernel", "disable stats",
                 "restrict default kod limited nomodify noquery",
                 "restrict 127.0.0.1", "restrict ::1"]
        if key:
            self.keys.write_text(f"1 SHA1 {secrets.token_hex(20)}\n")
            self.keys.chmod(0o600)
            lines += [f"keys {self.keys}", "trustedkey 1", "controlkey 1"]
        self.conf.write_text("\n".join([*lines, *rules]) + "\n")

    def argv(self) -> list[str]:
        return [*SAFE_TIME, NTPD, "-n", "-c", str(self.conf), "-p", str(self.pid_file)]

    def log_text(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, pattern: re.Pattern[str], count: int = 1,
                     timeout: float = 10.0) -> bool:
        return wait_for(lambda: len(pattern.findall(self.log_text())) >= count, timeout)

    def ntpq(self, ns: Namespace, command: str) -> str:
        """A runtime :config, as an administrator (or a test) sends it."""
        done = ns.run(["ntpq", "-a", "1", "-k", str(self.keys), "-c", command, "127.0.0.1"])
        return done.stdout + done.stderr


class Chronyd:
    """One chronyd's files: chrony.conf (its server socket on ``bind``), pid file, socket."""

    def __init__(self, directory: Path, bind: str) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "chrony.conf"
        self.pid_file = self.dir / "chronyd.pid"
        self.conf.write_text(f"bindaddress {bind}\nallow\npidfile {self.pid_file}\n"
                             f"cmdport 0\nbindcmdaddress {self.dir}/chronyd.sock\n"
                             f"driftfile {self.dir}/drift\nserver 10.77.0.1 iburst\n")

    def argv(self, user: Optional[str] = None) -> list[str]:
        """chronyd in the foreground, never adjusting the clock; ``user``: drop to it."""
        return [*SAFE_TIME, str(CHRONYD), "-d", "-x", "-f", str(self.conf),
                "-u", user or "root"]

    def pid(self) -> Optional[int]:
        try:
            return int(self.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None


def socket_table(ns: Namespace) -> list[Listener]:
    """The namespace's listeners, read and parsed by nethook's own reader."""
    found: list[Listener] = []
    for proto, name in listeners.TABLES:
        text = ns.run(["cat", f"/proc/net/{name}"], check=False).stdout
        if text:
            found.extend(listeners.parse(text, proto))
    return found


def listens(ns: Namespace, proto: str, address: str, port: int) -> bool:
    return any(e.proto == proto and str(e.address) == address and e.port == port
               for e in socket_table(ns))


def has_address(ns: Namespace, address: str) -> bool:
    return any(a.get("local") == address for link in ns.ip_json("addr", "show", "dev", "eth0")
               for a in link.get("addr_info", []))


def alias_config(*, services: str = "") -> str:
    """eth0's alias, declared (no snapshots), and a ``services:`` section."""
    return ("version: 1\nsnapshot: false\ninterfaces:\n  eth0:\n    addresses:\n"
            f'      - {{address: {ALIAS}/{PREFIX}, label: "eth0:0"}}\n' + services)


def run_hook(ns: Namespace, dirs: NethookDirs,
             extra_env: Optional[dict[str, str]] = None) -> subprocess.CompletedProcess[str]:
    """``nethook hook dhclient-exit`` for a BOUND of the lease, in the namespace, with only the
    environment dhclient-script would give it (plus the test's NETHOOK_* paths)."""
    env = {"PATH": CHILD_PATH, **dirs.env(), **(extra_env or {}), "reason": "BOUND",
           "interface": "eth0", "new_ip_address": LEASE, "new_subnet_mask": "255.255.255.0",
           "new_routers": "10.77.0.1"}
    argv = ["env", "-i", *(f"{k}={v}" for k, v in env.items()),
            sys.executable, "-m", "nethook", "hook", "dhclient-exit"]
    return ns.run(argv)


def checks(dirs: NethookDirs) -> list[dict[str, Any]]:
    """The journal entries of services checks, oldest first."""
    return [e for e in dirs.journal() if "services_check" in e]


def netns_pids(ns: Namespace) -> list[int]:
    out = subprocess.run(["ip", "netns", "pids", ns.name], capture_output=True, text=True,
                         check=False, timeout=10).stdout
    return [int(pid) for pid in out.split()]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def check_running(ns: Namespace) -> bool:
    """Whether a ``nethook services-check`` process runs in the namespace."""
    return any(b"services-check" in _cmdline(pid) for pid in netns_pids(ns))


def wait_for_checks(ns: Namespace, dirs: NethookDirs, count: int,
                    timeout: float = 30.0) -> list[dict[str, Any]]:
    """The check entries once ``count`` are journaled and no check runs or is queued."""
    queued = dirs.run / "services" / "queued" / "eth0"

    def settled() -> bool:
        return (len(checks(dirs)) >= count and not queued.exists()
                and not check_running(ns))

    if not wait_for(settled, timeout, interval=0.1):
        raise AssertionError(f"no {count} services check(s) within {timeout} s: "
                             f"{json.dumps(checks(dirs), indent=1)}")
    return checks(dirs)


def ntpd_pids(ns: Namespace) -> list[int]:
    return sorted(pid for pid in netns_pids(ns) if _cmdline(pid).startswith(NTPD.encode()))


def nethook(ns: Namespace, dirs: NethookDirs, *args: str, root: Optional[str] = None,
            extra_env: Optional[dict[str, str]] = None) -> subprocess.CompletedProcess[str]:
    """``nethook ARGS`` in the namespace with only the test's paths in its environment;
    ``root``: another NETHOOK_ROOT (``/`` for doctor to look at the running daemons)."""
    env = {"PATH": CHILD_PATH, **dirs.env(), **(extra_env or {}),
           **({"NETHOOK_ROOT": root} if root else {})}
    return ns.run(["env", "-i", *(f"{k}={v}" for k, v in env.items()),
                   sys.executable, "-m", "nethook", *args], check=False)


# The services step a run takes (nethook.services.trigger.after_run), on its own: with
# nothing restored, and the alias present. NETHOOK_* give the paths, argv[1] the address.
AFTER_RUN = """\
import ipaddress, os, sys
from nethook.base.context import RunContext
from nethook.engine.services_check import watched_settings
from nethook.model.objects import Address
from nethook.services import trigger
ctx = RunContext.from_options(os.environ)
present = [Address("eth0", ipaddress.ip_interface(sys.argv[1]), "eth0:0")]
print(trigger.after_run(ctx, "eth0", present, [], watched_settings(ctx)))
"""


def after_run(ns: Namespace, dirs: NethookDirs, address: str,
              extra_env: Optional[dict[str, str]] = None) -> bool:
    """Whether the services step of a run that restored nothing started a check."""
    env = {"PATH": CHILD_PATH, **dirs.env(), **(extra_env or {})}
    done = ns.run(["env", "-i", *(f"{k}={v}" for k, v in env.items()), sys.executable, "-c",
                   AFTER_RUN, address])
    return done.stdout.strip() == "True"


def service_rows(ns: Namespace, dirs: NethookDirs, service: str) -> tuple[int, list[Any]]:
    """``nethook status --json``: its exit status and one service's listeners."""
    done = nethook(ns, dirs, "status", "--json")
    found = [s for s in json.loads(done.stdout)["services"] if s["service"] == service]
    return done.returncode, found[0]["listeners"] if found else []


def doctor_findings(ns: Namespace, dirs: NethookDirs, check: str) -> list[dict[str, Any]]:
    """One check's findings of ``nethook doctor --json`` on the running system (the
    namespace's daemons; the host's files are only read). A check that could not run
    fails the test."""
    data = json.loads(nethook(ns, dirs, "doctor", "--json", root="/").stdout)
    failed = [c for c in data["could_not_run"] if c["check"] == check]
    assert failed == [], failed
    return [f for f in data["findings"] if f["check"] == check]

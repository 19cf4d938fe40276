"""The benchmark's own network namespace, and a timing child living inside it.

::

    nhb-<tag>: eth0 10.88.0.2/16  <-- veth -->  nhb-<tag>-peer: p0 10.88.0.1/16

Both veth ends are created directly inside the namespaces, IPv6 is off in both (per
namespace, through ``ip netns exec``), and ``close()`` kills what was started by PID,
deletes both namespaces and removes the temporary directory.

The timing child (``_spawner.py``) runs in ``nhb-<tag>`` under ``unshare --mount
--propagation private``, where an overlay lays a directory of the benchmark's own over
``/usr/bin``: the shipped shims find ``/usr/bin/nethook`` there, a wrapper that sets every
``NETHOOK_*`` path to the benchmark's temporary directories (tests/lab's
``NethookDirs``) and execs this checkout's ``nethook.cli.main`` the way the package's
console script does (not ``python -m``, which loads runpy too). No mount is ever seen
by the host's mount namespace, and nothing reads or writes the host's /etc/nethook,
/var/lib/nethook or /run/nethook.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Callable, Dict, List, Optional, Sequence, Tuple, Type

from lab.nethook_env import NethookDirs as LabDirs

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
HOOKS = REPO / "hooks"
SPAWNER = Path(__file__).resolve().with_name("_spawner.py")

PREFIX = "nhb-"
IFNAME = "eth0"
PEER_IFNAME = "p0"
PRIMARY = "10.88.0.2"
GATEWAY = "10.88.0.1"
PREFIXLEN = 16
NETMASK = "255.255.0.0"
# What dhclient exports to its script (as captured from it), and what the
# baselines' shells get too.
HOOK_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
TOOL_ENV = {"PATH": HOOK_PATH, "LC_ALL": "C"}
TIMEOUT = 120.0

Log = Callable[[str], None]  # where a part reports its progress
Command = Tuple[List[str], Dict[str, str]]  # argv and environment, for Sandbox.spawn

# Shipped shims, as a package installs them: sourced ones 0644, executed ones 0755.
SHIMS = {
    "dhclient-enter": (HOOKS / "dhclient-enter-hooks.d" / "nethook", 0o644),
    "dhclient-exit": (HOOKS / "dhclient-exit-hooks.d" / "nethook", 0o644),
    "dhclient-rhel": (HOOKS / "dhclient.d" / "nethook.sh", 0o755),
    "networkmanager": (HOOKS / "NetworkManager" / "50-nethook", 0o755),
    "ifupdown": (HOOKS / "if-up.d" / "nethook", 0o755),
    "networkd": (HOOKS / "networkd-dispatcher" / "50-nethook", 0o755),
}
# What /usr/bin/nethook runs: the console script's ``from nethook.cli import main``.
CONSOLE_SCRIPT = "import sys; from nethook.cli import main; sys.exit(main())"

_WRAPPER = """\
#!/bin/sh
# /usr/bin/nethook inside the benchmark's private mount namespace (bench/sandbox.py).
NETHOOK_CONFIG={config}
NETHOOK_ROOT={root}
NETHOOK_STATE_DIR={state}
NETHOOK_RUN_DIR={run}
PYTHONPATH={src}
export NETHOOK_CONFIG NETHOOK_ROOT NETHOOK_STATE_DIR NETHOOK_RUN_DIR PYTHONPATH
exec {python} -c {script} "$@"
"""

# Run inside `unshare --mount`: lay $1 over /usr/bin, then exec the rest.
_OVERLAY_AND_EXEC = """\
mount -t overlay -o "lowerdir=$1:/usr/bin" nhb-overlay /usr/bin || exit 99
[ -x /usr/bin/nethook ] || exit 98
shift
exec "$@"
"""


class BenchError(RuntimeError):
    """The benchmark could not set up or run what it measures."""


def tool(name: str) -> str:
    found = shutil.which(name, path=HOOK_PATH)
    if found is None:
        raise BenchError(f"{name} not found in {HOOK_PATH}")
    return found


def missing_requirements() -> Optional[str]:
    """Why the benchmark cannot run here, or None."""
    if os.geteuid() != 0:
        return "the benchmark needs root (network and mount namespaces)"
    for name in ("ip", "unshare", "mount", "sh", "timeout"):
        if shutil.which(name, path=HOOK_PATH) is None:
            return f"the benchmark needs {name} in {HOOK_PATH}"
    return None


def run_tool(argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(argv), env=TOOL_ENV, capture_output=True, text=True,
                          timeout=TIMEOUT, stdin=subprocess.DEVNULL, cwd="/")
    if check and done.returncode != 0:
        raise BenchError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")
    return done


@dataclass(frozen=True)
class Spawned:
    """What the timing child measured for one command."""

    seconds: float
    status: int
    maxrss_kib: int
    user_s: float
    system_s: float

    @property
    def cpu_ms(self) -> float:
        """User and system time of the command and the descendants it waited for."""
        return (self.user_s + self.system_s) * 1000


class NethookDirs(LabDirs):
    """The directories the wrapper gives nethook through ``NETHOOK_*`` (tests/lab's).

    The benchmark's wrapper logs no calls and lets Python write its bytecode caches, as
    an installed nethook has them: a run never pays for compiling nethook.
    """

    @classmethod
    def make(cls, base: Path, config: Optional[str] = None) -> NethookDirs:
        made = cls.create(base, config)  # typed as the lab's class; it is ``cls``
        assert isinstance(made, NethookDirs)
        return made

    def env(self) -> Dict[str, str]:
        """What the wrapper exports, for running the interpreter without it."""
        env = super().env()
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return env

    def forget(self) -> None:
        """Empty the state directory (ownership record, journal, counters): as on a host
        whose nethook has only known the configuration written next, not the bigger
        workload measured before it, whose objects would stay in its record."""
        for entry in self.state.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def last_journal_entry(self) -> Optional[Dict[str, Any]]:
        entries = self.journal()
        return entries[-1] if entries else None

    def write_wrapper(self, directory: Path, python: str) -> Path:
        """``directory/nethook``; returns ``directory``, to be laid over /usr/bin."""
        directory.mkdir(parents=True, exist_ok=True)
        quote = shlex.quote
        target = directory / "nethook"
        target.write_text(_WRAPPER.format(
            config=quote(str(self.config)), root=quote(str(self.root)),
            state=quote(str(self.state)), run=quote(str(self.run)), src=quote(str(SRC)),
            python=quote(python), script=quote(CONSOLE_SCRIPT)), encoding="utf-8")
        target.chmod(0o755)
        return directory


def install_shims(directory: Path) -> Dict[str, Path]:
    """Byte-identical copies of the shipped shims, with their installed modes."""
    directory.mkdir(parents=True, exist_ok=True)
    installed = {}
    for name, (shipped, mode) in SHIMS.items():
        target = directory / name
        shutil.copyfile(shipped, target)
        target.chmod(mode)
        if target.read_bytes() != shipped.read_bytes():
            raise BenchError(f"the copy of {shipped} differs from it")
        installed[name] = target
    return installed


class Sandbox:
    """A namespace with a veth pair, nethook's directories and the timing child.

    Use as a context manager; ``__exit__`` always calls :meth:`close`.
    """

    def __init__(self, python: str = sys.executable, base_dir: Optional[str] = None) -> None:
        self.python = os.path.abspath(python)  # a venv's python: keep the link, not its target
        self.tag = secrets.token_hex(3)
        self.ns = f"{PREFIX}{self.tag}"
        self.peer_ns = f"{PREFIX}{self.tag}-peer"
        self._base_dir = base_dir
        self._base: Optional[Path] = None
        self._namespaces: List[str] = []
        self._child: Optional[subprocess.Popen[str]] = None
        self.dirs = NethookDirs(Path("/nonexistent"))
        self.shims: Dict[str, Path] = {}

    @property
    def base(self) -> Path:
        if self._base is None:
            raise BenchError("the sandbox is not up")
        return self._base

    def __enter__(self) -> Sandbox:
        try:
            self.up()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, kind: Optional[Type[BaseException]], value: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        self.close()

    def up(self) -> None:
        self._base = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{self.tag}-", dir=self._base_dir))
        self.dirs = NethookDirs.make(self.base / "nethook")
        bin_dir = self.dirs.write_wrapper(self.base / "bin", self.python)
        self.shims = install_shims(self.base / "hooks")
        for name in (self.ns, self.peer_ns):
            run_tool(["ip", "netns", "add", name])
            self._namespaces.append(name)
        run_tool(["ip", "link", "add", IFNAME, "netns", self.ns, "type", "veth",
                  "peer", "name", PEER_IFNAME, "netns", self.peer_ns])
        for name, dev, address in ((self.ns, IFNAME, PRIMARY),
                                   (self.peer_ns, PEER_IFNAME, GATEWAY)):
            for key in ("all", "default"):
                run_tool(["ip", "netns", "exec", name, "sysctl", "-qw",
                          f"net.ipv6.conf.{key}.disable_ipv6=1"])
            run_tool(["ip", "-n", name, "link", "set", "lo", "up"])
            run_tool(["ip", "-n", name, "addr", "add", f"{address}/{PREFIXLEN}", "dev", dev])
            run_tool(["ip", "-n", name, "link", "set", dev, "up"])
        self._start_child(bin_dir)

    def _start_child(self, bin_dir: Path) -> None:
        argv = ["ip", "netns", "exec", self.ns, "unshare", "--mount", "--propagation",
                "private", "sh", "-c", _OVERLAY_AND_EXEC, "nhb-wrap", str(bin_dir),
                sys.executable, str(SPAWNER)]
        self._child = subprocess.Popen(argv, env=TOOL_ENV, stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True, cwd="/",
                                       start_new_session=True)
        probe = self.spawn([tool("sh"), "-c", "[ -x /usr/bin/nethook ]"], TOOL_ENV)
        if probe.status != 0:
            raise BenchError("the timing child does not see /usr/bin/nethook")

    def spawn(self, argv: Sequence[str], env: Dict[str, str], *,
              stdout: Optional[Path] = None, stderr: Optional[Path] = None) -> Spawned:
        """Run ``argv`` in the namespace (with the overlay) and time it; waits for it."""
        child = self._child
        if child is None or child.stdin is None or child.stdout is None:
            raise BenchError("the timing child is not running")
        request = {"argv": list(argv), "env": env,
                   "stdout": str(stdout) if stdout else None,
                   "stderr": str(stderr) if stderr else None}
        _send(child.stdin, json.dumps(request))
        line = child.stdout.readline()
        if not line:
            try:
                status: Optional[int] = child.wait(5.0)
            except subprocess.TimeoutExpired:
                status = None
            raise BenchError(f"the timing child ended (status {status}); see its stderr")
        answer = json.loads(line)
        if "error" in answer:
            raise BenchError(f"{argv[0]}: {answer['error']}")
        return Spawned(float(answer["seconds"]), int(answer["status"]),
                       int(answer["maxrss_kib"]), float(answer["user_s"]),
                       float(answer["system_s"]))

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``ip -n NS args...`` from the host side (never timed)."""
        return run_tool(["ip", "-n", self.ns, *args], check=check)

    def ip_json(self, *args: str) -> Any:
        out = run_tool(["ip", "-j", "-n", self.ns, *args]).stdout.strip()
        return json.loads(out) if out else []

    def ip_batch(self, path: Path, *, force: bool = False) -> None:
        """Apply a batch file from the host side (state changes that are never timed)."""
        run_tool(["ip", "-n", self.ns, *(["-force"] if force else []), "-batch", str(path)],
                 check=not force)

    def close(self) -> None:
        """Stop the child, kill what is left in the namespaces by PID, delete them."""
        problems: List[str] = []
        try:
            self._stop_child(problems)
            for name in self._namespaces:
                _kill_inside(name, problems)
        finally:
            for name in list(self._namespaces):
                done = run_tool(["ip", "netns", "delete", name], check=False)
                if done.returncode != 0 and os.path.exists(f"/run/netns/{name}"):
                    problems.append(f"ip netns delete {name}: {done.stderr.strip()}")
                self._namespaces.remove(name)
            if self._base is not None:
                shutil.rmtree(self._base, ignore_errors=True)
                self._base = None
        if problems:
            raise BenchError("sandbox cleanup: " + "; ".join(problems))

    def _stop_child(self, problems: List[str]) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(5.0)
        except subprocess.TimeoutExpired:
            child.kill()
            try:
                child.wait(5.0)
            except subprocess.TimeoutExpired:
                problems.append(f"timing child PID {child.pid} survived SIGKILL")
        if child.stdout is not None:
            child.stdout.close()


def _send(stream: IO[str], line: str) -> None:
    stream.write(line + "\n")
    stream.flush()


def _kill_inside(name: str, problems: List[str]) -> None:
    """SIGKILL processes still in namespace ``name``, checked by its nsfs inode."""
    try:
        inode = os.stat(f"/run/netns/{name}").st_ino
    except FileNotFoundError:
        return
    done = run_tool(["ip", "netns", "pids", name], check=False)
    for word in done.stdout.split():
        pid = int(word)
        try:
            if os.stat(f"/proc/{pid}/ns/net").st_ino == inode:
                os.kill(pid, signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError, PermissionError) as exc:
            if not isinstance(exc, (FileNotFoundError, ProcessLookupError)):
                problems.append(f"cannot kill PID {pid} in {name}: {exc}")

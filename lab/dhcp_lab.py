"""A real DHCP lab in network namespaces: dnsmasq serves, isc dhclient asks.

The lab runs Debian's stock ``/sbin/dhclient-script`` unmodified.  That script
hard-codes its hook directories under ``/etc/dhcp``, so every dhclient process
(the daemon, and the ``-r``/``-x`` processes that run RELEASE and STOP) runs in
a private mount namespace, inside the client network namespace, where the
lab's own directories are bind-mounted over ``/etc/dhcp`` and
``/var/lib/dhcp``.  Nothing is mounted in the host's mount namespace and no
host interface is touched.

Layout of the lab directory (``$LAB``)::

    etc/dhcp-hosts          dnsmasq hostsfile: client MAC -> address
    dhcp/                   seen as /etc/dhcp by dhclient and its script
      dhclient.conf
      dhclient-enter-hooks.d/00-lab-safety, 01-lab-trace
      dhclient-exit-hooks.d/zzz-lab-trace
      lab/trace             one line per hook run (see TraceEntry)
      lab/env/              `env -0` dumps per hook run (capture_env=True)
    var/lib-dhcp/           seen as /var/lib/dhcp (lease and pid files)
    var/dnsmasq.leases
    run/dnsmasq.pid
    log/dnsmasq.log  log/dhclient.log  log/dhclient-ctl.log  log/ipmon.log

Topology::

    nhl-<tag>-srv: s0 10.77.0.1/24 <-- veth --> nhl-<tag>-cli: eth0 (DHCP)

Everything is bounded by timeouts, and ``close()`` kills what the lab started
by PID, deletes its namespaces and removes its directory.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import NamedTuple, Union

from .hooks import HOOK_NAME, SAFETY_HOOK, TraceEntry, parse_trace, read_env0, trace_hook
from .procs import is_running, kill_and_wait, poll_until, terminate

__all__ = ["DhcpLab", "IfAddress", "LabError", "LabTimeout", "MonitorEvent", "Mount",
           "TraceEntry", "host_mount_leaks", "missing_requirements", "parse_monitor",
           "private_mounts_argv", "read_env0"]

SERVER_MAC = "02:77:00:00:00:01"
CLIENT_MAC = "02:77:00:00:00:10"
SERVER_ADDRESS = "10.77.0.1"
PREFIXLEN = 24
CLIENT_IFACE = "eth0"
SERVER_IFACE = "s0"
LAB_NETWORK = ipaddress.ip_network("10.77.0.0/16")
DEFAULT_REQUEST = ("subnet-mask", "broadcast-address", "routers", "interface-mtu")
# The environment every lab process starts with: nothing of the caller's leaks in.
CHILD_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
# Reasons after which the lease is configured on the interface.
BOUND_REASONS = frozenset({"BOUND", "RENEW", "REBIND", "REBOOT", "TIMEOUT"})

# Run inside `unshare --mount`: apply (kind, src, dst) triples up to "--",
# then exec the command.  Paths arrive as positional arguments only.
_MOUNT_AND_EXEC = r"""
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
    case "$1" in
        bind) mount --bind "$2" "$3" || exit 99 ;;
        overlay) mount -t overlay -o "lowerdir=$2:$3" nhl-overlay "$3" || exit 99 ;;
        *) echo "nhl-wrap: unknown mount kind: $1" >&2; exit 99 ;;
    esac
    shift 3
done
[ "$#" -gt 1 ] || { echo "nhl-wrap: no command" >&2; exit 99; }
shift
exec "$@"
"""

class LabError(RuntimeError):
    """The lab could not do what was asked; the message carries log tails."""


class LabTimeout(LabError):
    """A bounded wait in the lab ran out."""


class Mount(NamedTuple):
    """A mount applied in the private mount namespace of wrapped commands.

    ``kind="bind"`` bind-mounts ``src`` over ``dst`` (both must exist).
    ``kind="overlay"`` lays directory ``src`` read-only over directory ``dst``
    (overlayfs with two lower layers), so ``dst`` keeps its own files and gains
    ``src``'s, e.g. ``Mount("/tmp/x/bin", "/usr/bin", "overlay")`` adds
    ``/usr/bin/nethook`` without touching the host's /usr/bin.
    """

    src: str
    dst: str
    kind: str = "bind"


MountSpec = Union[Mount, "tuple[str, str]"]


@dataclass(frozen=True)
class IfAddress:
    """An IPv4 address as `ip -j addr` reports it."""

    address: str
    prefixlen: int
    label: str
    secondary: bool
    dynamic: bool

    @property
    def cidr(self) -> str:
        return f"{self.address}/{self.prefixlen}"


@dataclass(frozen=True)
class MonitorEvent:
    """One notification printed by ``ip -ts monitor`` (continuation lines joined)."""

    time: datetime.datetime
    deleted: bool
    text: str  # without the timestamp and without "Deleted "


_MONITOR_LINE = re.compile(r"\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)\] (Deleted )?(.*)")


def parse_monitor(text: str) -> list[MonitorEvent]:
    """Parse ``ip -ts monitor`` output; a last line without its newline is skipped."""
    events: list[MonitorEvent] = []
    for line in text.split("\n")[:-1]:
        found = _MONITOR_LINE.fullmatch(line)
        if found is None:
            if events and line[:1].isspace():
                last = events[-1]
                events[-1] = MonitorEvent(last.time, last.deleted, f"{last.text} {line.strip()}")
            continue
        stamp = datetime.datetime.strptime(found.group(1), "%Y-%m-%dT%H:%M:%S.%f")
        events.append(MonitorEvent(stamp, found.group(2) is not None, found.group(3).strip()))
    return events


def _lab_address(value: str) -> str:
    addr = ipaddress.ip_address(value)
    if addr not in LAB_NETWORK:
        raise ValueError(f"{value}: the lab only uses addresses in {LAB_NETWORK}")
    return str(addr)


def _as_mount(spec: MountSpec) -> Mount:
    mount = spec if isinstance(spec, Mount) else Mount(spec[0], spec[1])
    if mount.kind not in ("bind", "overlay"):
        raise ValueError(f"unknown mount kind {mount.kind!r}")
    for path in (mount.src, mount.dst):
        if not os.path.isabs(path):
            raise ValueError(f"mount paths must be absolute: {path!r}")
        if mount.kind == "overlay" and (":" in path or "," in path):
            raise ValueError(f"overlay paths cannot contain ':' or ',': {path!r}")
    return mount


def private_mounts_argv(netns: str, mounts: Iterable[MountSpec],
                        argv: Sequence[str]) -> list[str]:
    """argv running ``argv`` in network namespace ``netns`` and a private mount namespace.

    ``mounts`` are applied in order inside ``unshare --mount --propagation private``, so
    none of them is ever seen by the host's mount namespace.
    """
    mount_args = [arg for spec in mounts
                  for mount in (_as_mount(spec),) for arg in (mount.kind, mount.src, mount.dst)]
    return ["ip", "netns", "exec", netns,
            "unshare", "--mount", "--uts", "--propagation", "private",
            "sh", "-c", _MOUNT_AND_EXEC, "nhl-wrap", *mount_args, "--", *argv]


def _tool(name: str) -> str:
    found = shutil.which(name, path=CHILD_ENV["PATH"])
    if found is None:
        raise LabError(f"{name} not found in {CHILD_ENV['PATH']}")
    return found


def missing_requirements() -> str | None:
    """Why the lab cannot run here (a pytest skip reason), or None."""
    if os.geteuid() != 0:
        return "the DHCP lab needs root (network and mount namespaces)"
    for name in ("ip", "unshare", "dnsmasq", "dhclient", "dhclient-script", "run-parts"):
        if shutil.which(name, path=CHILD_ENV["PATH"]) is None:
            return f"the DHCP lab needs {name}"
    return None


def host_mount_leaks() -> list[str]:
    """Mount table lines of *this* process that mention the lab's mount points."""
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        return [line.rstrip("\n") for line in mountinfo
                if " /etc/dhcp " in line or " /var/lib/dhcp " in line
                or " nhl-overlay " in line]


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"--- {path.name}: (missing)"
    return f"--- {path.name} (last {lines} lines):\n" + "\n".join(text.splitlines()[-lines:])


class DhcpLab:
    """dnsmasq and the real dhclient in two fresh network namespaces.

    Use as a context manager; ``__exit__`` always calls :meth:`close`::

        with DhcpLab(address="10.77.0.10", t1=4, t2=8) as lab:
            lab.wait_bound("10.77.0.10")
            mark = lab.mark()
            lab.renumber("10.77.0.11")
            lab.wait_for_reason("BOUND", after=mark)
    """

    def __init__(
        self,
        *,
        address: str = "10.77.0.10",
        t1: int = 10,
        t2: int = 20,
        lease_time: str = "2m",
        request: Sequence[str] = DEFAULT_REQUEST,
        client_timeout: int | None = None,
        dhclient_conf_extra: str = "",
        dnsmasq_args: Sequence[str] = (),
        extra_mounts: Sequence[MountSpec] = (),
        capture_env: bool = False,
        monitor: bool = True,
        monitor_objects: Sequence[str] = ("address",),
        autostart: bool = True,
        base_dir: str | None = None,
        keep_dir: bool | None = None,
    ) -> None:
        self.address = _lab_address(address)
        self.t1, self.t2, self.lease_time = t1, t2, lease_time
        self.request = tuple(request)
        self.client_timeout = client_timeout
        self.dhclient_conf_extra = dhclient_conf_extra
        self.dnsmasq_args = tuple(dnsmasq_args)
        self.extra_mounts = tuple(_as_mount(m) for m in extra_mounts)
        self.capture_env = capture_env
        self.monitor = monitor
        self.monitor_objects = tuple(monitor_objects)
        self.autostart = autostart
        # NETHOOK_LAB_KEEP=1 keeps the lab directory (logs, trace) for a post-mortem.
        self.keep_dir = os.environ.get("NETHOOK_LAB_KEEP") == "1" if keep_dir is None \
            else keep_dir
        self.base_dir = base_dir
        self.tag = secrets.token_hex(3)
        self.server_ns = f"nhl-{self.tag}-srv"
        self.client_ns = f"nhl-{self.tag}-cli"
        self._dir: Path | None = None
        self._namespaces: dict[str, int] = {}  # name -> nsfs inode
        self._procs: list[subprocess.Popen[bytes]] = []
        self._dnsmasq: subprocess.Popen[bytes] | None = None
        self._dhclient: subprocess.Popen[bytes] | None = None
        self._closed = False

    # ----------------------------------------------------------------- paths
    @property
    def dir(self) -> Path:
        """The lab directory ($LAB); it exists from :meth:`up` until :meth:`close`."""
        if self._dir is None:
            raise LabError("the lab is not up")
        return self._dir

    @property
    def dhcp_dir(self) -> Path:
        """The directory dhclient and its script see as /etc/dhcp."""
        return self.dir / "dhcp"

    @property
    def enter_hook_dir(self) -> Path:
        return self.dhcp_dir / "dhclient-enter-hooks.d"

    @property
    def exit_hook_dir(self) -> Path:
        return self.dhcp_dir / "dhclient-exit-hooks.d"

    @property
    def lease_dir(self) -> Path:
        """The directory dhclient sees as /var/lib/dhcp."""
        return self.dir / "var" / "lib-dhcp"

    @property
    def lease_file(self) -> Path:
        return self.lease_dir / f"dhclient.{CLIENT_IFACE}.leases"

    @property
    def hosts_file(self) -> Path:
        return self.dir / "etc" / "dhcp-hosts"

    @property
    def trace_file(self) -> Path:
        return self.dhcp_dir / "lab" / "trace"

    @property
    def env_dir(self) -> Path:
        return self.dhcp_dir / "lab" / "env"

    def log(self, name: str) -> Path:
        """A log file of the lab: dnsmasq, dhclient, dhclient-ctl, ipmon."""
        return self.dir / "log" / f"{name}.log"

    # ------------------------------------------------------------- lifecycle
    def __enter__(self) -> DhcpLab:
        try:
            self.up()
            if self.autostart:
                self.start_dhclient()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def up(self) -> None:
        """Write the lab's files, create the namespaces and start dnsmasq."""
        if self._dir is not None:
            raise LabError("the lab is already up")
        self._dir = Path(tempfile.mkdtemp(prefix=f"nhl-{self.tag}-", dir=self.base_dir))
        self._write_files()
        for name in (self.server_ns, self.client_ns):
            self._run(["ip", "netns", "add", name])
            self._namespaces[name] = -1  # known before anything can fail: close() deletes it
            self._namespaces[name] = os.stat(f"/run/netns/{name}").st_ino
        # Both veth ends are created inside the namespaces: the host never has them.
        self._run(["ip", "link", "add", SERVER_IFACE, "netns", self.server_ns,
                   "address", SERVER_MAC, "type", "veth", "peer", "name", CLIENT_IFACE,
                   "netns", self.client_ns, "address", CLIENT_MAC])
        for ns in (self.server_ns, self.client_ns):
            self._run(["ip", "-n", ns, "link", "set", "lo", "up"])
            self._run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                       "net.ipv6.conf.all.disable_ipv6=1"])
        self._run(["ip", "-n", self.server_ns, "addr", "add",
                   f"{SERVER_ADDRESS}/{PREFIXLEN}", "dev", SERVER_IFACE])
        self._run(["ip", "-n", self.server_ns, "link", "set", SERVER_IFACE, "up"])
        self._run(["ip", "-n", self.client_ns, "link", "set", CLIENT_IFACE, "up"])
        if self.monitor:
            self._spawn(["ip", "-n", self.client_ns, "-ts", "monitor",
                         *self.monitor_objects], self.log("ipmon"))
        self.start_server()

    def close(self) -> None:
        """Kill everything the lab started (by PID), delete namespaces and files."""
        if self._closed:
            return
        self._closed = True
        problems: list[str] = []
        try:
            for proc in reversed(self._procs):
                if not terminate(proc):
                    problems.append(f"PID {proc.pid} survived SIGKILL")
            self._kill_namespace_leftovers(problems)
        finally:
            for name in list(self._namespaces):
                done = subprocess.run(["ip", "netns", "delete", name], env=CHILD_ENV,
                                      capture_output=True, text=True, timeout=10)
                if done.returncode != 0 and os.path.exists(f"/run/netns/{name}"):
                    problems.append(f"ip netns delete {name}: {done.stderr.strip()}")
                else:
                    del self._namespaces[name]
            if self._dir is not None and not self.keep_dir:
                shutil.rmtree(self._dir, ignore_errors=True)
        if problems:
            raise LabError("lab cleanup: " + "; ".join(problems))

    # ---------------------------------------------------------------- server
    def start_server(self, extra_args: Sequence[str] = ()) -> None:
        """Start dnsmasq (DHCP only) in the server namespace and wait until ready."""
        if self._dnsmasq is not None and self._dnsmasq.poll() is None:
            raise LabError("dnsmasq is already running")
        log = self.log("dnsmasq")
        offset = log.stat().st_size if log.exists() else 0
        argv = [
            "ip", "netns", "exec", self.server_ns, _tool("dnsmasq"), "--keep-in-foreground",
            "--conf-file=/dev/null", "--port=0", "--no-resolv", "--no-hosts", "--user=root",
            f"--interface={SERVER_IFACE}", "--bind-interfaces", "--dhcp-authoritative",
            f"--dhcp-range=10.77.0.100,10.77.0.199,255.255.255.0,{self.lease_time}",
            f"--dhcp-option=option:router,{SERVER_ADDRESS}",
            f"--dhcp-option=option:T1,{self.t1}", f"--dhcp-option=option:T2,{self.t2}",
            f"--dhcp-hostsfile={self.hosts_file}",
            f"--dhcp-leasefile={self.dir / 'var' / 'dnsmasq.leases'}",
            f"--pid-file={self.dir / 'run' / 'dnsmasq.pid'}",
            "--log-dhcp", f"--log-facility={log}",
            *self.dnsmasq_args, *extra_args,
        ]
        self._dnsmasq = self._spawn(argv, self.log("dnsmasq-stderr"))
        self._wait_log(log, offset, f"read {self.hosts_file}", 10.0, self._dnsmasq)

    def stop_server(self) -> None:
        """Stop dnsmasq (SIGTERM, by PID) so that dhclient sees no server."""
        if self._dnsmasq is not None:
            if not terminate(self._dnsmasq):
                raise LabError(f"dnsmasq (PID {self._dnsmasq.pid}) survived SIGKILL")
            self._dnsmasq = None

    def renumber(self, address: str, timeout: float = 5.0) -> None:
        """Map the client MAC to ``address`` and make dnsmasq re-read it.

        dhclient's next unicast RENEW (within T1) is NAKed and dhclient runs
        EXPIRE -> PREINIT -> BOUND with the new address.
        """
        if self._dnsmasq is None or self._dnsmasq.poll() is not None:
            raise LabError("dnsmasq is not running")
        self.address = _lab_address(address)
        log = self.log("dnsmasq")
        offset = log.stat().st_size
        self._write_hosts()
        self._dnsmasq.send_signal(signal.SIGHUP)
        # SIGHUP is handled asynchronously: a REQUEST arriving before the
        # re-read would still be answered with the old mapping.
        self._wait_log(log, offset, f"read {self.hosts_file}", timeout, self._dnsmasq)

    # ---------------------------------------------------------------- client
    def wrap(self, argv: Sequence[str], mounts: Iterable[MountSpec] = ()) -> list[str]:
        """argv running ``argv`` in the client netns and a private mount namespace.

        The lab's directories are bind-mounted over /etc/dhcp and /var/lib/dhcp,
        then ``extra_mounts`` and ``mounts`` are applied, in that order.
        """
        all_mounts = [Mount(str(self.dhcp_dir), "/etc/dhcp"),
                      Mount(str(self.lease_dir), "/var/lib/dhcp"),
                      *self.extra_mounts, *mounts]
        return private_mounts_argv(self.client_ns, all_mounts, argv)

    def run_wrapped(self, argv: Sequence[str], *, mounts: Iterable[MountSpec] = (),
                    timeout: float = 30.0, check: bool = True,
                    log_name: str = "wrapped") -> subprocess.CompletedProcess[str]:
        """Run ``argv`` like :meth:`wrap` does and wait for it; output goes to a log too."""
        done = subprocess.run(self.wrap(argv, mounts), env=CHILD_ENV, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL, cwd="/")
        with open(self.log(log_name), "a", encoding="utf-8") as log:
            log.write(f"$ {' '.join(argv)}  # exit {done.returncode}\n{done.stdout}{done.stderr}")
        if check and done.returncode != 0:
            raise LabError(f"{' '.join(argv)}: exit {done.returncode}\n{done.stderr}"
                           + self._diagnostics())
        return done

    def dhclient_argv(self, *options: str) -> list[str]:
        """dhclient with the lab's conf, lease and pid files (paths as seen inside)."""
        return [_tool("dhclient"), "-4", "-v", "-cf", "/etc/dhcp/dhclient.conf",
                "-lf", f"/var/lib/dhcp/dhclient.{CLIENT_IFACE}.leases",
                "-pf", f"/var/lib/dhcp/dhclient.{CLIENT_IFACE}.pid", *options, CLIENT_IFACE]

    def start_dhclient(self, *options: str) -> None:
        """Start the dhclient daemon in the foreground (``-d``), logging to dhclient.log.

        ``options`` go before the interface, e.g. ``"-1"`` to try once and exit.
        """
        if self._dhclient is not None and self._dhclient.poll() is None:
            raise LabError("dhclient is already running")
        self._dhclient = self._spawn(self.wrap(self.dhclient_argv("-d", *options)),
                                     self.log("dhclient"))

    @property
    def dhclient_pid(self) -> int | None:
        """PID of the running dhclient daemon (`ip netns exec` and `unshare` exec it)."""
        if self._dhclient is None or self._dhclient.poll() is not None:
            return None
        return self._dhclient.pid

    def wait_dhclient_exit(self, timeout: float = 15.0) -> int:
        """Wait for the daemon to exit by itself (e.g. ``-1`` after FAIL); its status."""
        if self._dhclient is None:
            raise LabError("dhclient was never started")
        try:
            return self._dhclient.wait(timeout)
        except subprocess.TimeoutExpired:
            raise LabTimeout(f"dhclient still running after {timeout} s"
                             + self._diagnostics()) from None

    def kill_dhclient(self) -> None:
        """SIGTERM the daemon by PID: it exits and runs no script."""
        if self._dhclient is not None and not terminate(self._dhclient):
            raise LabError(f"dhclient (PID {self._dhclient.pid}) survived SIGKILL")

    def release(self, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
        """``dhclient -r``: a new process kills the daemon and runs RELEASE."""
        return self._control("-r", timeout)

    def stop(self, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
        """``dhclient -x``: a new process kills the daemon and runs STOP."""
        return self._control("-x", timeout)

    def _control(self, flag: str, timeout: float) -> subprocess.CompletedProcess[str]:
        done = self.run_wrapped(self.dhclient_argv(flag), timeout=timeout,
                                log_name="dhclient-ctl", check=False)
        # The new process found the daemon through the pid file and killed it;
        # reap it here, and make sure of it if the pid file was not written yet.
        if self._dhclient is not None:
            try:
                self._dhclient.wait(5.0)
            except subprocess.TimeoutExpired:
                self.kill_dhclient()
        if done.returncode != 0:
            raise LabError(f"dhclient {flag}: exit {done.returncode}\n{done.stderr}")
        return done

    def wait_lease_file(self, address: str, timeout: float = 20.0) -> None:
        """Wait until the lease file's last lease is ``address``.

        dhclient rewrites the file at most every 15 s, and ``-x``/``-r``/a
        restart read it: wait for this before a REBOOT or STOP that should see
        the current lease.
        """
        def caught_up() -> bool:
            try:
                text = self.lease_file.read_text(encoding="utf-8")
            except FileNotFoundError:
                return False
            found = re.findall(r"fixed-address ([0-9.]+);", text)
            return bool(found) and found[-1] == address

        if not poll_until(caught_up, timeout, 0.2):
            raise LabTimeout(f"lease file did not record {address} within {timeout} s"
                             + self._diagnostics())

    def write_dhclient_conf(self, *, extra: str | None = None,
                            client_timeout: int | None = None) -> None:
        """(Re)write dhclient.conf; dhclient reads it when it starts.

        ``extra`` comes before the ``request`` statement, so that it can
        declare options to request; e.g. ``"reboot 0; initial-interval 1;"``
        with ``client_timeout=4`` gives TIMEOUT or FAIL within about 7 s
        when the server is down (with the defaults it takes about 26 s).
        """
        if extra is not None:
            self.dhclient_conf_extra = extra
        if client_timeout is not None:
            self.client_timeout = client_timeout
        conf = ["# nethook lab (lab/dhcp_lab.py)", self.dhclient_conf_extra,
                f"request {', '.join(self.request)};"]
        if self.client_timeout is not None:
            conf.append(f"timeout {self.client_timeout};")
        (self.dhcp_dir / "dhclient.conf").write_text("\n".join(conf) + "\n", encoding="utf-8")

    # ----------------------------------------------------------- observation
    def install_hook(self, kind: str, name: str, text: str) -> Path:
        """Put a hook into the lab's ``enter`` or ``exit`` hook directory."""
        if not HOOK_NAME.fullmatch(name):
            raise ValueError(f"run-parts would silently skip a hook named {name!r}")
        directory = {"enter": self.enter_hook_dir, "exit": self.exit_hook_dir}[kind]
        path = directory / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)  # sourced, so the execute bit is not needed
        return path

    def trace(self) -> list[TraceEntry]:
        """All hook runs so far, in order."""
        try:
            text = self.trace_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return parse_trace(text)

    def mark(self) -> int:
        """A position in the trace, for ``after=`` of the waits."""
        return len(self.trace())

    def reasons(self, after: int = 0, phase: str = "exit") -> list[str]:
        """The reasons of the script runs from trace position ``after`` on."""
        return [e.reason for e in self.trace()[after:] if e.phase == phase]

    def wait_for_reason(self, reason: str, *, after: int = 0, timeout: float = 15.0,
                        phase: str = "exit") -> TraceEntry:
        """The first hook run for ``reason`` at or after trace position ``after``.

        With ``phase="exit"`` (default) the script has finished that run.
        """
        return self.wait_for_sequence([reason], after=after, timeout=timeout, phase=phase)[0]

    def wait_for_sequence(self, reasons: Sequence[str], *, after: int = 0,
                          timeout: float = 15.0, phase: str = "exit") -> list[TraceEntry]:
        """Wait until ``reasons`` appear in this order (other runs may come between)."""
        found: list[TraceEntry] = []

        def seen() -> bool:
            found.clear()
            for entry in self.trace()[after:]:
                if entry.phase == phase and entry.reason == reasons[len(found)]:
                    found.append(entry)
                    if len(found) == len(reasons):
                        return True
            return False

        if not poll_until(seen, timeout):
            raise LabTimeout(f"no {' -> '.join(reasons)} ({phase}) after trace position "
                             f"{after} within {timeout} s" + self._diagnostics())
        return list(found)

    def wait_bound(self, address: str | None = None, *, after: int = 0,
                   timeout: float = 10.0) -> TraceEntry:
        """Wait until a script run configured ``address`` and it is on eth0."""
        wanted = _lab_address(address or self.address)
        result: list[TraceEntry] = []

        def bound() -> bool:
            runs = [e for e in self.trace()[after:] if e.phase == "exit"
                    and e.reason in BOUND_REASONS and e.new_ip == wanted]
            if runs and any(a.address == wanted and a.label == CLIENT_IFACE
                            for a in self.addresses()):
                result.append(runs[-1])
                return True
            if self._dhclient is not None and self._dhclient.poll() is not None:
                raise LabError(f"dhclient exited with {self._dhclient.returncode} before "
                               f"binding {wanted}" + self._diagnostics())
            return False

        if not poll_until(bound, timeout, 0.05):
            raise LabTimeout(f"{wanted} not bound within {timeout} s" + self._diagnostics())
        return result[0]

    def captured_env(self, entry: TraceEntry) -> dict[str, str]:
        """The environment dhclient-script gave the hooks in that run (capture_env)."""
        path = self.env_dir / f"{entry.script_pid}-{entry.phase}.env0"
        if not path.exists():
            raise LabError(f"no environment recorded for {entry} (capture_env=True?)")
        return read_env0(path)

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``ip args...`` in the client namespace."""
        return self._run(["ip", "-n", self.client_ns, *args], check=check)

    def exec_client(self, argv: Sequence[str], *, timeout: float = 30.0,
                    check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the client network namespace (no private mounts)."""
        return self._run(["ip", "netns", "exec", self.client_ns, *argv],
                         check=check, timeout=timeout)

    def addresses(self, dev: str = CLIENT_IFACE) -> list[IfAddress]:
        """IPv4 addresses on ``dev`` in the client namespace."""
        links = json.loads(self.ip("-j", "-4", "addr", "show", "dev", dev).stdout or "[]")
        return [IfAddress(info["local"], int(info["prefixlen"]), info.get("label", dev),
                          bool(info.get("secondary", False)), bool(info.get("dynamic", False)))
                for link in links for info in link.get("addr_info", [])
                if info.get("family") == "inet"]

    def monitor_events(self) -> list[MonitorEvent]:
        """What the lab's ``ip -ts monitor`` (``monitor_objects``) has printed so far."""
        try:
            text = self.log("ipmon").read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        return parse_monitor(text)

    def pids(self) -> list[int]:
        """PIDs living in the lab's namespaces (checked by netns inode)."""
        pids: list[int] = []
        for name, inode in self._namespaces.items():
            done = subprocess.run(["ip", "netns", "pids", name], env=CHILD_ENV,
                                  capture_output=True, text=True, timeout=10)
            for word in done.stdout.split():
                pid = int(word)
                try:
                    if os.stat(f"/proc/{pid}/ns/net").st_ino == inode:
                        pids.append(pid)
                except (FileNotFoundError, ProcessLookupError, PermissionError):
                    pass
        return pids

    # -------------------------------------------------------------- internal
    def _write_files(self) -> None:
        for sub in ("etc", "var/lib-dhcp", "run", "log", "dhcp/lab",
                    "dhcp/dhclient-enter-hooks.d", "dhcp/dhclient-exit-hooks.d"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        if self.capture_env:
            self.env_dir.mkdir(exist_ok=True)
        self.trace_file.touch()
        self._write_hosts()
        self.write_dhclient_conf()
        self.install_hook("enter", "00-lab-safety", SAFETY_HOOK)
        self.install_hook("enter", "01-lab-trace", trace_hook("enter"))
        self.install_hook("exit", "zzz-lab-trace", trace_hook("exit"))

    def _write_hosts(self) -> None:
        tmp = self.hosts_file.with_suffix(".tmp")
        tmp.write_text(f"{CLIENT_MAC},{self.address}\n", encoding="utf-8")
        os.replace(tmp, self.hosts_file)

    def _run(self, argv: Sequence[str], *, check: bool = True,
             timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(list(argv), env=CHILD_ENV, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, cwd="/")
        if check and done.returncode != 0:
            raise LabError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")
        return done

    def _spawn(self, argv: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            proc = subprocess.Popen(list(argv), env=CHILD_ENV, stdin=subprocess.DEVNULL, cwd="/",
                                    stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self._procs.append(proc)
        return proc

    def _wait_log(self, log: Path, offset: int, needle: str, timeout: float,
                  proc: subprocess.Popen[bytes]) -> None:
        def found() -> bool:
            if proc.poll() is not None:
                raise LabError(f"PID {proc.pid} exited with {proc.returncode} before "
                               f"logging {needle!r}" + self._diagnostics())
            try:
                with open(log, "rb") as f:
                    f.seek(offset)
                    return needle.encode() in f.read()
            except FileNotFoundError:
                return False

        if not poll_until(found, timeout):
            raise LabTimeout(f"{needle!r} not logged in {log.name} within {timeout} s"
                             + self._diagnostics())

    def _kill_namespace_leftovers(self, problems: list[str]) -> None:
        """Kill processes still inside the lab's namespaces, e.g. ifup's dhclient.

        They were re-parented away from us, so they cannot be reaped here; a
        zombie left for PID 1 to reap counts as gone.
        """
        alive = [pid for pid in self.pids() if is_running(pid)]
        if alive and not kill_and_wait(alive, 3.0):
            problems.append(f"processes left in lab namespaces: {self.pids()}")

    def _diagnostics(self) -> str:
        parts = [_tail(self.trace_file), _tail(self.log("dhclient")),
                 _tail(self.log("dnsmasq")), _tail(self.log("dnsmasq-stderr"), 5),
                 _tail(self.log("dhclient-ctl"), 8)]
        return "\n" + "\n".join(parts)

"""Real NetworkManager in a network namespace, on a private system bus, with nm-dispatcher.

The recipe::

    nml-<tag>-srv: s0 10.78.0.1/24 (dnsmasq, DHCP only) <-- veth --> nml-<tag>-cli: nml0

* ``dbus-daemon`` runs in ``nml-<tag>-cli`` in a private mount (and UTS) namespace,
  which ``ns-init.sh`` prepares: a tmpfs over /run (NetworkManager's run directory starts
  empty every time, and its bus socket lives there), the lab's own /etc/NetworkManager and
  /var/lib/NetworkManager, the lab's dispatcher scripts over
  /usr/lib/NetworkManager/dispatcher.d, an overlay that adds a test's /usr/bin/nethook,
  and a read-only /sys (NetworkManager then runs without udev). Nothing of it is seen by
  the host's mount namespace, and the host's /etc is never written.
* NetworkManager joins that namespace (``nsenter``) with ``--debug`` (logs on stderr, no
  daemon); dbus-daemon activates the real ``nm-dispatcher`` from the lab's service
  directory, so scripts run in the client namespace with NetworkManager's environment.
* The bus is also reachable from outside at ``$LAB/run/system_bus_socket``:
  ``DBUS_SYSTEM_BUS_ADDRESS`` for ``nmcli`` and for the watcher.

Everything started is stopped by PID (dbus-daemon's children, nm-dispatcher among
them, included); the namespaces and the directory are removed by ``close()``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from lab.procs import is_running, kill_and_wait, poll_until, terminate
from lab.stack_lab import PATH, TIMEOUT, LabError, StackLab
from lab.stack_lab import run as _run

IFACE = "nml0"
SERVER = "10.78.0.1"
RANGES = {"first": ("10.78.0.100", "10.78.0.150"), "second": ("10.78.0.200", "10.78.0.240")}

_SYSTEM_CONF = """\
<busconfig>
  <type>system</type>
  <listen>unix:path={lab}/run/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{lab}/dbus/services</servicedir>
  <policy context="default">
    <allow user="*"/> <allow own="*"/> <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
  <limit name="service_start_timeout">30000</limit>
</busconfig>
"""
_DISPATCHER_SERVICE = """\
[D-BUS Service]
Name=org.freedesktop.nm_dispatcher
Exec=/usr/lib/NetworkManager/nm-dispatcher --debug
User=root
"""
_NM_CONF = f"""\
[main]
plugins=keyfile
no-auto-default=*
dhcp=internal
dns=none
rc-manager=unmanaged
systemd-resolved=false
hostname-mode=none
auth-polkit=false

[keyfile]
path=/etc/NetworkManager/system-connections
unmanaged-devices=except:interface-name:{IFACE}

[connectivity]
enabled=false

[logging]
level=INFO
domains=DEFAULT,DHCP4:DEBUG,DISPATCH:DEBUG
"""
_CONNECTION = f"""\
[connection]
id=nml-dhcp
uuid=5b1e7f8a-0c1d-4e2f-9a3b-6c7d8e9f0a1b
type=ethernet
interface-name={IFACE}
autoconnect=true

[ethernet]

[ipv4]
method=auto
dhcp-timeout=30

[ipv6]
method=disabled
"""
# Logs every dispatcher call: proof of which events NetworkManager sent.
_TRACE = """\
#!/bin/sh
echo "$(date +%s.%N) ${{1-}} ${{2-}}" >> {trace}
"""
_NS_INIT = f"""\
#!/bin/sh
set -e
mount -t tmpfs -o mode=755 nml-run /run
mkdir -p /run/NetworkManager
mount --bind "$LAB/etc/NetworkManager" /etc/NetworkManager
mount --bind "$LAB/var/lib/NetworkManager" /var/lib/NetworkManager
mount --bind "$LAB/dispatcher.d" /usr/lib/NetworkManager/dispatcher.d
mount -t overlay -o "lowerdir=$BIN:/usr/bin" nml-overlay /usr/bin
mount -o remount,bind,ro /sys
hostname nml-lab
exec env -i PATH="{PATH}" LANG=C.UTF-8 \\
    DBUS_SYSTEM_BUS_ADDRESS="unix:path=$LAB/run/system_bus_socket" \\
    dbus-daemon --config-file="$LAB/dbus/system.conf" --nofork --nopidfile
"""


def missing_requirements() -> Optional[str]:
    if os.geteuid() != 0:
        return "the NetworkManager lab needs root"
    for tool in ("NetworkManager", "nmcli", "dnsmasq", "dbus-daemon", "nsenter", "unshare"):
        if shutil.which(tool, path=PATH) is None:
            return f"the NetworkManager lab needs {tool} (make deps installs it)"
    if not Path("/usr/lib/NetworkManager/nm-dispatcher").exists():
        return "the NetworkManager lab needs /usr/lib/NetworkManager/nm-dispatcher"
    return None


def nm_version() -> tuple[int, ...]:
    done = subprocess.run(["NetworkManager", "--version"], capture_output=True, text=True,
                          check=True, timeout=10)
    return tuple(int(p) for p in done.stdout.strip().split("-")[0].split(".")[:3])


class NmLab(StackLab):
    iface = IFACE

    def __init__(self, *, bin_dir: Path, scripts: Sequence[Path] = (), t1: int = 4,
                 t2: int = 6) -> None:
        super().__init__(bin_dir=bin_dir, scripts=scripts)
        self.t1, self.t2 = t1, t2

    def up(self) -> None:
        self._write_files()
        for name in (self.server_ns, self.client_ns):
            _run(["ip", "netns", "add", name])
            self._namespaces.append(name)
            _run(["ip", "-n", name, "link", "set", "lo", "up"])
        _run(["ip", "link", "add", "s0", "netns", self.server_ns, "type", "veth",
              "peer", "name", IFACE, "netns", self.client_ns])
        _run(["ip", "-n", self.server_ns, "addr", "add", f"{SERVER}/24", "dev", "s0"])
        _run(["ip", "-n", self.server_ns, "link", "set", "s0", "up"])
        self.start_dnsmasq("first")
        self._start_bus()
        self._start_networkmanager()
        if not poll_until(lambda: self.lease() is not None and self.connected(), TIMEOUT, 0.1):
            raise LabError(f"NetworkManager did not connect {IFACE}\n{self.tails()}")

    def _write_files(self) -> None:
        lab = self.dir
        for sub in ("etc/NetworkManager/system-connections", "etc/NetworkManager/conf.d",
                    "etc/NetworkManager/dispatcher.d", "var/lib/NetworkManager", "run",
                    "dbus/services", "dispatcher.d", "empty", "log"):
            (lab / sub).mkdir(parents=True, exist_ok=True)
        (lab / "dbus/system.conf").write_text(_SYSTEM_CONF.format(lab=lab))
        (lab / "dbus/services/org.freedesktop.nm_dispatcher.service").write_text(
            _DISPATCHER_SERVICE)
        (lab / "etc/NetworkManager/NetworkManager.conf").write_text(_NM_CONF)
        connection = lab / "etc/NetworkManager/system-connections/nml-dhcp.nmconnection"
        connection.write_text(_CONNECTION)
        connection.chmod(0o600)
        for script in self.scripts:  # nm-dispatcher: root's, 0755, not writable by others
            target = lab / "dispatcher.d" / script.name
            shutil.copyfile(script, target)
            target.chmod(0o755)
        trace = lab / "dispatcher.d" / "99-nml-trace"
        trace.write_text(_TRACE.format(trace=self.trace))
        trace.chmod(0o755)
        init = lab / "ns-init.sh"
        init.write_text(_NS_INIT)
        init.chmod(0o755)

    def start_dnsmasq(self, which: str) -> None:
        """(Re)start the DHCP server handing out range ``which`` (first or second)."""
        old = self._procs.pop("dnsmasq", None)
        if old is not None:
            terminate(old)
        low, high = RANGES[which]
        log = self.dir / "log" / f"dnsmasq-{which}.log"
        argv = ["ip", "netns", "exec", self.server_ns, "dnsmasq", "--keep-in-foreground",
                "--conf-file=/dev/null", "--port=0", "--no-resolv", "--no-hosts",
                "--interface=s0", "--bind-interfaces", "--except-interface=lo",
                f"--dhcp-range={low},{high},255.255.255.0,2m", "--dhcp-authoritative",
                "--no-ping", f"--dhcp-option=option:router,{SERVER}",
                f"--dhcp-option=option:T1,{self.t1}", f"--dhcp-option=option:T2,{self.t2}",
                f"--dhcp-leasefile={self.dir}/log/dnsmasq-{which}.leases",
                "--user=root", "--log-dhcp", f"--log-facility={log}"]
        with open(log.with_suffix(".err"), "wb") as err:
            self._procs["dnsmasq"] = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                                      stderr=err)

    def _start_bus(self) -> None:
        env = {"PATH": PATH, "LAB": str(self.dir), "BIN": str(self.bin_dir)}
        argv = ["ip", "netns", "exec", self.client_ns, "unshare", "--mount", "--uts",
                "--propagation", "private", "sh", str(self.dir / "ns-init.sh")]
        with open(self.dir / "log" / "dbus.log", "wb") as log:
            self._procs["dbus"] = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                                   stdout=log, stderr=log)
        socket_path = self.dir / "run" / "system_bus_socket"
        if not poll_until(socket_path.exists, 10.0):
            raise LabError(f"dbus-daemon did not start\n{self.tails()}")

    def _start_networkmanager(self) -> None:
        lab = self.dir
        argv = ["nsenter", "-t", str(self._procs["dbus"].pid), "-m", "-n", "-u",
                "env", "-i", f"PATH={PATH}", f"DBUS_SYSTEM_BUS_ADDRESS={self.bus_address}",
                "NetworkManager", "--debug",
                "--config=/etc/NetworkManager/NetworkManager.conf",
                f"--config-dir={lab}/etc/NetworkManager/conf.d",
                f"--system-config-dir={lab}/empty",
                f"--state-file={lab}/var/lib/NetworkManager/NetworkManager.state",
                f"--intern-config={lab}/var/lib/NetworkManager/NetworkManager-intern.conf"]
        with open(lab / "log" / "nm.log", "wb") as log:
            self._procs["nm"] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                                 stderr=log)

    def stop_processes(self) -> None:
        for name in ("nm", "dnsmasq"):
            proc = self._procs.pop(name, None)
            if proc is not None:
                terminate(proc, 5.0)
        bus = self._procs.pop("dbus", None)
        if bus is not None:
            children = _children(bus.pid)  # nm-dispatcher, activated by the bus
            terminate(bus, 5.0)
            kill_and_wait(children)

    # -- looking and poking ----------------------------------------------------------------

    def env(self) -> Dict[str, str]:
        return {"PATH": PATH, "DBUS_SYSTEM_BUS_ADDRESS": self.bus_address}

    def nmcli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run(["nmcli", *args], env=self.env(), check=check)

    def connected(self) -> bool:
        out = self.nmcli("-t", "-f", "GENERAL.STATE", "device", "show", IFACE,
                         check=False).stdout
        return out.strip().startswith("GENERAL.STATE:100")

    def running(self) -> bool:
        return all(is_running(p.pid) for p in self._procs.values())

def _children(pid: int) -> List[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found

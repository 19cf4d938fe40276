"""Real systemd-networkd and networkd-dispatcher in a network namespace, on a private bus.

The recipe::

    nml-<tag>-srv: s1 10.78.1.1/24 (dnsmasq) <-- veth --> nml-<tag>-nd: nml1 (networkd, DHCP)

* ``dbus-daemon`` for the lab's "system" bus runs in the client namespace; its socket is a
  path in the lab directory, given to everything as ``DBUS_SYSTEM_BUS_ADDRESS``.
* ``systemd-networkd`` runs in a private mount namespace (``ns-networkd.sh``): a tmpfs on
  /run/systemd with the netif directories its own user owns, the lab's .network file over
  /etc/systemd/network, an overlay adding a test's /usr/bin/nethook, a read-only /sys. It
  drops to the systemd-network user and registers ``org.freedesktop.network1``.
* ``networkd-dispatcher`` and ``networkctl`` join that mount namespace (both read
  /run/systemd/netif); the dispatcher runs the scripts of the lab's ``-S`` directory,
  which must be root:root 0755 all the way down.

Everything started is stopped by PID; ``close()`` removes the namespaces and the directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Dict, List, Optional

from lab.procs import poll_until, terminate
from lab.stack_lab import PATH, TIMEOUT, LabError, StackLab
from lab.stack_lab import run as _run

IFACE = "nml1"
SERVER = "10.78.1.1"
NETWORKD = "/lib/systemd/systemd-networkd"
DISPATCHER = "/usr/bin/networkd-dispatcher"

_SYSTEM_CONF = """\
<busconfig>
  <type>system</type>
  <listen>unix:path={lab}/run/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/> <allow own="*"/> <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""
_NETWORK = f"""\
[Match]
Name={IFACE}

[Network]
DHCP=ipv4
LinkLocalAddressing=no

[DHCPv4]
UseHostname=false
"""
_TRACE = """\
#!/bin/sh
echo "$(date +%s.%N) ${{IFACE-}} ${{STATE-}}" >> {trace}
"""
_NS_NETWORKD = f"""\
#!/bin/sh
set -e
mount -t tmpfs -o mode=755 nml-sd /run/systemd
mkdir -p /run/systemd/netif/links /run/systemd/netif/leases /run/systemd/netif/lldp
chown -R systemd-network:systemd-network /run/systemd/netif
mount --bind "$LAB/network" /etc/systemd/network
mount -t overlay -o "lowerdir=$BIN:/usr/bin" nml-overlay /usr/bin
mount -o remount,bind,ro /sys
exec env -i PATH="{PATH}" DBUS_SYSTEM_BUS_ADDRESS="unix:path=$LAB/run/system_bus_socket" \\
    SYSTEMD_LOG_LEVEL=debug SYSTEMD_LOG_TARGET=console {NETWORKD}
"""


def missing_requirements() -> Optional[str]:
    if os.geteuid() != 0:
        return "the networkd lab needs root"
    for path in (NETWORKD, DISPATCHER):
        if not os.path.exists(path):
            return f"the networkd lab needs {path} (make deps installs it)"
    for tool in ("dnsmasq", "dbus-daemon", "nsenter", "unshare", "networkctl"):
        if shutil.which(tool, path=PATH) is None:
            return f"the networkd lab needs {tool}"
    return None


class NetworkdLab(StackLab):
    iface = IFACE
    client_suffix = "nd"

    def up(self) -> None:
        self._write_files()
        for name in (self.server_ns, self.client_ns):
            _run(["ip", "netns", "add", name])
            self._namespaces.append(name)
            _run(["ip", "-n", name, "link", "set", "lo", "up"])
        _run(["ip", "link", "add", "s1", "netns", self.server_ns, "type", "veth",
              "peer", "name", IFACE, "netns", self.client_ns])
        _run(["ip", "-n", self.server_ns, "addr", "add", f"{SERVER}/24", "dev", "s1"])
        _run(["ip", "-n", self.server_ns, "link", "set", "s1", "up"])
        self._start("dnsmasq", ["ip", "netns", "exec", self.server_ns, "dnsmasq",
                                "--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
                                "--no-resolv", "--no-hosts", "--interface=s1",
                                "--bind-interfaces", "--except-interface=lo",
                                "--dhcp-range=10.78.1.100,10.78.1.150,255.255.255.0,2m",
                                "--dhcp-authoritative", "--no-ping",
                                f"--dhcp-option=option:router,{SERVER}",
                                f"--dhcp-leasefile={self.dir}/log/dnsmasq.leases",
                                "--user=root", f"--log-facility={self.dir}/log/dnsmasq.log"])
        self._start("dbus", ["ip", "netns", "exec", self.client_ns, "dbus-daemon",
                             f"--config-file={self.dir}/dbus/system.conf", "--nofork",
                             "--nopidfile"])
        if not poll_until((self.dir / "run" / "system_bus_socket").exists, 10.0):
            raise LabError(f"dbus-daemon did not start\n{self.tails()}")
        self._start("networkd", ["ip", "netns", "exec", self.client_ns, "unshare", "--mount",
                                 "--uts", "--propagation", "private", "sh",
                                 str(self.dir / "ns-networkd.sh")],
                    env={"PATH": PATH, "LAB": str(self.dir), "BIN": str(self.bin_dir)})
        networkd = self._procs["networkd"]
        if not poll_until(lambda: networkd.poll() is not None or (
                self.lease() is not None and self.configured()), TIMEOUT, 0.1) \
                or networkd.poll() is not None:
            raise LabError(f"networkd did not configure {IFACE}\n{self.tails()}")
        self._start("dispatcher", self._inside(
            ["/usr/bin/python3", DISPATCHER, "-S", str(self.dir / "dispatcher"), "-v"]))
        if not poll_until(lambda: "Startup complete" in self._log("dispatcher"), TIMEOUT):
            raise LabError(f"networkd-dispatcher did not start\n{self.tails()}")

    def _write_files(self) -> None:
        # networkd drops to the systemd-network user: it must reach the bus socket.
        self.dir.chmod(0o755)
        for sub in ("network", "dispatcher/routable.d", "run", "dbus", "log"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (self.dir / "dbus" / "system.conf").write_text(_SYSTEM_CONF.format(lab=self.dir))
        (self.dir / "network" / f"50-{IFACE}.network").write_text(_NETWORK)
        scripts = self.dir / "dispatcher" / "routable.d"
        for script in self.scripts:
            shutil.copyfile(script, scripts / script.name)
        (scripts / "99-nml-trace").write_text(_TRACE.format(trace=self.trace))
        for path in (self.dir / "dispatcher", scripts, *scripts.iterdir()):
            path.chmod(0o755)  # networkd-dispatcher skips anything else
        init = self.dir / "ns-networkd.sh"
        init.write_text(_NS_NETWORKD)
        init.chmod(0o755)

    def _start(self, name: str, argv: List[str], env: Optional[Dict[str, str]] = None) -> None:
        with open(self.dir / "log" / f"{name}.log", "wb") as log:
            self._procs[name] = subprocess.Popen(argv, env=env or {"PATH": PATH},
                                                 stdin=subprocess.DEVNULL, stdout=log,
                                                 stderr=log)

    def _inside(self, argv: List[str]) -> List[str]:
        """``argv`` in networkd's network and mount namespaces, with the lab's bus."""
        return ["nsenter", "-t", str(self._procs["networkd"].pid), "-m", "-n", "env", "-i",
                f"PATH={PATH}", f"DBUS_SYSTEM_BUS_ADDRESS={self.bus_address}", *argv]

    def stop_processes(self) -> None:
        for name in ("dispatcher", "networkd", "dbus", "dnsmasq"):
            proc = self._procs.pop(name, None)
            if proc is not None:
                terminate(proc, 5.0)

    # -- looking and poking ----------------------------------------------------------------

    def networkctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _run(self._inside(["networkctl", *args]))

    def configured(self) -> bool:
        """``networkctl list`` says the link's setup is ``configured``."""
        out = _run(self._inside(["networkctl", "--no-legend", "list"]), check=False).stdout
        return any(line.split()[1:2] == [IFACE] and line.split()[-1] == "configured"
                   for line in out.splitlines() if line.strip())

    def _log(self, name: str) -> str:
        try:
            return (self.dir / "log" / f"{name}.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

"""The distro's own network tools as answer keys for nethook's importers.

Each tool reads a fixture tree and configures what it would configure, inside a
throw-away network namespace that has the fixture's links as veth pairs; the kernel's
state is then read back with nethook's own observer and compared with what nethook
imports from the same tree. Nothing touches the host's interfaces or /etc:

* ifupdown (Debian's package, installed by ``make deps``): ``ifup --no-act -v -a`` prints
  the commands it would run; the ``ip ... add`` ones are run in the namespace;
* ifupdown2: its dry run (``ifup -n -v -a``) logs the netlink requests and commands it
  would make; the ``ip ... add`` ones are run in the namespace;
* ifupdown-ng: the real ``ifup -a`` runs in the namespace, with its ``dhcp`` executor
  replaced by one that only prints (no DHCP client is ever started);
* netplan: ``netplan generate --root-dir`` writes networkd files, which are turned into
  ``ip`` commands the way networkd applies them (a Destination or From/To without a prefix
  length is a host prefix; a rule without Table looks up main).

ifupdown2, ifupdown-ng and netplan.io conflict with ifupdown and with each other, so they
are never installed: :func:`unpack` fetches them with ``apt-get download`` and unpacks
them with ``dpkg -x`` into a cache directory. Each tool runs in a private mount namespace
(that of ``ip netns exec``) where the fixture's ``etc/network`` is bind-mounted over
``/etc/network`` and tmpfs covers the directories the tools write state to.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from .netns import Namespace

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("ifupdown2", "ifupdown-ng", "netplan.io", "libnetplan0")
_TIMEOUT = 60.0
_IP_ADD = re.compile(r"^(?:/s?bin/|/usr/s?bin/)?ip(?:\s+-[46])?\s+(?:-[46]\s+)?"
                     r"(?:a|ad|add|addr|addre|addres|address|r|ro|rou|rout|route|ru|rul|rule)"
                     r"\s+(?:a|ad|add|replace|append|prepend)\s")


def default_cache() -> Path:
    return Path(os.environ.get("NETHOOK_TOOLS_CACHE", REPO / ".cache" / "distro-tools"))


def _run(argv: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=_TIMEOUT,
                          check=False, **kwargs)  # type: ignore[call-overload]


def unpack(cache: Path) -> Optional[str]:
    """Fetch and unpack the tools into ``cache`` (once); None, or why it failed."""
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    for package in PACKAGES:
        target = cache / package
        if (target / ".unpacked").exists():
            continue
        if not list(debs.glob(f"{package}_*.deb")):
            got = _run(["apt-get", "download", package], cwd=debs)
            if got.returncode != 0:  # a fresh machine: the package lists first
                _run(["apt-get", "update", "-q"])
                got = _run(["apt-get", "download", package], cwd=debs)
            if got.returncode != 0:
                return f"apt-get download {package} failed: {got.stderr.strip()}"
        deb = sorted(debs.glob(f"{package}_*.deb"))[-1]
        shutil.rmtree(target, ignore_errors=True)
        unpacked = _run(["dpkg", "-x", str(deb), str(target)])
        if unpacked.returncode != 0:
            return f"dpkg -x {deb.name} failed: {unpacked.stderr.strip()}"
        _after_unpack(package, target)
        (target / ".unpacked").touch()
    return None


def _after_unpack(package: str, target: Path) -> None:
    """What ``dpkg -i`` would have set up: a library link, a configuration ifupdown2
    looks up next to its code when /etc has none."""
    if package == "libnetplan0":
        lib = target / "usr" / "lib" / "x86_64-linux-gnu"
        for found in lib.glob("libnetplan.so.*.*"):
            link = lib / "libnetplan.so.0"
            if not link.exists():
                link.symlink_to(found.name)
    if package == "ifupdown2":
        share = target / "usr" / "share" / "ifupdown2"
        shutil.copytree(target / "etc" / "network" / "ifupdown2",
                        share / "etc" / "network" / "ifupdown2", dirs_exist_ok=True)
        (share / "ifupdown2").chmod(0o755)


@dataclass
class Answer:
    """What a tool configured: the kernel's objects (canonical text), and failed commands."""

    objects: List[str] = field(default_factory=list)
    failed: List[str] = field(default_factory=list)
    log: str = ""


def _in_private_mounts(ns: Namespace, tree: Path, script: str,
                       env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess[str]:
    """``script`` under ``sh`` in the namespace, /etc/network being the fixture's."""
    setup = (f"mount -t tmpfs none /var/tmp && mount -t tmpfs none /run && "
             f"mkdir /run/network && mount --bind '{tree}/etc/network' /etc/network && ")
    return _run(ns.exec_argv(["sh", "-c", setup + script]),
                env={**os.environ, **(env or {})})


def _apply(ns: Namespace, lines: Sequence[str], answer: Answer) -> None:
    for line in lines:
        done = _run(ns.exec_argv(["sh", "-c", line]))
        if done.returncode != 0:
            answer.failed.append(f"{line}: {done.stderr.strip()}")


def ifupdown(ns: Namespace, tree: Path, cache: Path, work: Path) -> Answer:
    got = _in_private_mounts(ns, tree, f"exec ifup --no-act -v -a -i /etc/network/interfaces "
                                       f"--state-dir '{work}'")
    answer = Answer(log=got.stdout + got.stderr)  # --no-act prints the commands on stderr
    _apply(ns, [line.strip() for line in answer.log.splitlines()
                if _IP_ADD.match(line.strip())], answer)
    return answer


def ifupdown2(ns: Namespace, tree: Path, cache: Path, work: Path) -> Answer:
    tool = cache / "ifupdown2" / "usr" / "share" / "ifupdown2" / "ifupdown2"
    bin_dir = work / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "ifup").unlink(missing_ok=True)
    (bin_dir / "ifup").symlink_to(tool)  # ifupdown2 acts by the name it is called by
    got = _in_private_mounts(ns, tree, f"exec '{bin_dir}/ifup' -n -v -a")
    answer = Answer(log=got.stdout + got.stderr)
    lines = []
    for line in answer.log.splitlines():
        command = re.sub(r"^info: DRY-RUN: (?:\S+: netlink: |executing )", "", line)
        if command != line and _IP_ADD.match(command):
            lines.append(command)
    _apply(ns, lines, answer)
    return answer


# Its output would be read as dependencies in the depend phase: it says nothing on stdout.
_PRINTING_DHCP = "#!/bin/sh\necho \"dhcp executor, not run: $IFACE $PHASE\" >&2\n"


def ifupdown_ng(ns: Namespace, tree: Path, cache: Path, work: Path) -> Answer:
    root = cache / "ifupdown-ng"
    executors = work / "executors"
    shutil.copytree(root / "usr" / "libexec" / "ifupdown-ng", executors, dirs_exist_ok=True)
    (executors / "dhcp").write_text(_PRINTING_DHCP)
    for phase in ("if-pre-up.d", "if-up.d", "if-post-up.d"):
        (tree / "etc" / "network" / phase).mkdir(exist_ok=True)
    got = _in_private_mounts(ns, tree, f"exec '{root}/sbin/ifupdown' ifup -a -l "
                                       f"-i /etc/network/interfaces -E '{executors}' "
                                       f"-S '{work}/state'")
    answer = Answer(log=got.stdout + got.stderr)
    if got.returncode != 0:
        answer.failed.append(f"ifup: exit {got.returncode}")
    return answer


def netplan(ns: Namespace, tree: Path, cache: Path, work: Path) -> Answer:
    generate = cache / "netplan.io" / "usr" / "libexec" / "netplan" / "generate"
    lib = cache / "libnetplan0" / "usr" / "lib" / "x86_64-linux-gnu"
    got = _run([str(generate), "--root-dir", str(tree)],
               env={**os.environ, "LD_LIBRARY_PATH": str(lib)})
    answer = Answer(log=got.stdout + got.stderr)
    if got.returncode != 0:
        answer.failed.append(f"netplan generate: exit {got.returncode}")
    for path in sorted((tree / "run" / "systemd" / "network").glob("*.network")):
        _apply(ns, networkd_commands(path.read_text()), answer)
    return answer


def networkd_commands(text: str) -> List[str]:
    """The ``ip`` commands for a .network file's addresses, routes and rules, with
    networkd's defaults (see the module's docstring)."""
    name, commands = "", []
    for section, keys in _sections(text):
        if section == "Match":
            name = keys.get("Name", [""])[0]
        elif section == "Network":
            commands += [f"ip addr add {a} dev {name}" for a in keys.get("Address", [])]
        elif section == "Address":
            label = f" label {keys['Label'][0]}" if "Label" in keys else ""
            commands += [f"ip addr add {a} dev {name}{label}" for a in keys.get("Address", [])]
        elif section == "Route":
            commands.append(_route_command(keys, name))
        elif section == "RoutingPolicyRule":
            commands.append(_rule_command(keys))
    return commands


def _sections(text: str) -> List[tuple[str, Dict[str, List[str]]]]:
    found: List[tuple[str, Dict[str, List[str]]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            found.append((line[1:-1], {}))
        elif "=" in line and found and not line.startswith("#"):
            key, value = line.split("=", 1)
            found[-1][1].setdefault(key, []).append(value)
    return found


def _host(text: str) -> str:
    return text if "/" in text else f"{text}/{128 if ':' in text else 32}"


def _route_command(keys: Dict[str, List[str]], name: str) -> str:
    gateway = keys.get("Gateway", [None])[0]
    default = "::/0" if gateway and ":" in gateway else "0.0.0.0/0"
    parts = ["ip route add", _host(keys.get("Destination", [default])[0])]
    parts += [f"via {gateway}"] if gateway else []
    parts += [f"dev {name}", f"table {keys.get('Table', ['main'])[0]}"]
    parts += [f"metric {keys['Metric'][0]}"] if "Metric" in keys else []
    parts += [f"src {keys['PreferredSource'][0]}"] if "PreferredSource" in keys else []
    parts += [f"scope {keys['Scope'][0]}"] if "Scope" in keys else []
    parts += ["onlink"] if keys.get("GatewayOnLink", ["no"])[0] in ("yes", "true") else []
    return " ".join(parts)


def _rule_command(keys: Dict[str, List[str]]) -> str:
    parts = ["ip rule add"]
    for key, word in (("From", "from"), ("To", "to")):
        parts += [f"{word} {_host(keys[key][0])}"] if key in keys else []
    for key, word in (("FirewallMark", "fwmark"), ("IncomingInterface", "iif"),
                      ("OutgoingInterface", "oif"), ("Priority", "priority")):
        parts += [f"{word} {keys[key][0]}"] if key in keys else []
    parts.append(f"table {keys.get('Table', ['main'])[0]}")
    return " ".join(parts)


TOOLS: Dict[str, Callable[[Namespace, Path, Path, Path], Answer]] = {
    "ifupdown": ifupdown, "ifupdown2": ifupdown2, "ifupdown-ng": ifupdown_ng,
    "netplan": netplan}


def add_links(ns: Namespace, links: Sequence[str]) -> None:
    """Each link a veth whose peer stays in the namespace too; both up, no DAD."""
    ns.sysctl("net.ipv6.conf.default.accept_dad", "0")
    for index, link in enumerate(links):
        ns.ip("link", "add", link, "type", "veth", "peer", "name", f"nhpeer{index}")
        ns.ip("link", "set", f"nhpeer{index}", "up")
        ns.ip("link", "set", link, "up")


def observe(ns: Namespace, links: Sequence[str]) -> List[str]:
    """What the namespace holds that an administrator configured, as canonical text."""
    code = ("import json, sys; from lab.answer_keys import kernel_objects; "
            "print(json.dumps(kernel_objects(sys.argv[1:])))")
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'src'}"}
    got = _run(ns.exec_argv([sys.executable, "-c", code, *links]), env=env)
    if got.returncode != 0:
        raise RuntimeError(f"observing the namespace failed: {got.stderr}")
    found: List[str] = json.loads(got.stdout)
    return found


# Rules every namespace starts with, and the priorities the kernel gives a rule added
# without one (counting down from the main rule's); fixtures give explicit priorities
# outside that range.
_DEFAULT_RULES = {(4, 0), (4, 32766), (4, 32767), (6, 0), (6, 32766)}
_AUTO_PRIORITIES = range(32700, 32766)
_LOCAL_TABLE = 255


def kernel_objects(links: Sequence[str]) -> List[str]:
    """Run inside the namespace: the observed state, less what the kernel makes itself."""
    from nethook.adapters.pyroute2_netlink import open_netlink

    with open_netlink() as netlink:
        seen = netlink.observe(links, None)
    connected = {(a.ifname, a.interface.network) for a in seen.addresses}
    found = [canonical(a) for a in seen.addresses]
    found += [canonical(r) for r in seen.routes
              if r.table != _LOCAL_TABLE and not r.dst.is_link_local
              and not (r.gateway is None and (r.ifname, r.dst) in connected)]
    found += [canonical(replace(r, priority=None) if r.priority in _AUTO_PRIORITIES else r)
              for r in seen.rules if (r.family, r.priority) not in _DEFAULT_RULES]
    return sorted(found)


def canonical(obj: object) -> str:
    """One object as text both sides agree on: what the kernel keeps of it."""
    from nethook.model.objects import Address, Route, Rule

    if isinstance(obj, Address):
        return f"address {obj.describe()}"
    if isinstance(obj, Route):
        return f"route {replace(obj, scope=None, origin=None).describe()}"
    assert isinstance(obj, Rule)
    return f"rule {replace(obj, ifname=None, origin=None).describe()}"

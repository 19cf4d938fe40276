"""Check 8: is nethook's hook where each network stack in use will call it, and will it run?

Each caller has its own rules, and skips a script that breaks them without a word:

* NetworkManager (dispatcher.d in /etc, else /usr/lib): root-owned, not group- or
  other-writable, not set-uid, owner-executable; names starting with a dot, ending in
  ``~ .rpmsave .rpmorig .rpmnew .swp`` or holding ``.dpkg-`` are ignored; a link to
  /dev/null in /etc masks the one in /usr/lib;
* Debian's dhclient-script (dhclient-enter-hooks.d, dhclient-exit-hooks.d): run-parts
  names (letters, digits, ``-``, ``_``); the hooks are sourced, so no execute bit;
* RHEL's dhclient-script (dhclient.d): ``NAME.sh``, executable, NAME a shell identifier
  (it calls ``NAME_config``);
* ifupdown (if-up.d): run-parts names, executable;
* networkd-dispatcher (routable.d in /etc, else /usr/lib): root:root, owner-executable.

Hooks run as root, so one that others can write is reported too. Which stacks are in use
is read from files under the root (the programs and their configuration, not the hook
directories, which the nethook package itself creates) and, on the running system, from
the processes.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Tuple

from nethook.base.files import entry_names
from nethook.doctor.findings import Evidence, Finding, Severity
from nethook.doctor.fixes import SetPermissions
from nethook.doctor.inputs import Inspection
from nethook.importers.base import is_file, read_text

CHECK = "hooks"
NETHOOK = "usr/bin/nethook"
MARK = "nethook hook "  # every shim runs `/usr/bin/nethook hook SOURCE`
_RUN_PARTS = re.compile(r"[A-Za-z0-9_-]+\Z")
_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.sh\Z")
_NM_IGNORED = ("~", ".rpmsave", ".rpmorig", ".rpmnew", ".swp")
_MODE_PROBLEMS = frozenset({"writable by group or others", "set-uid", "not executable"})


def _run_parts_name(name: str) -> Optional[str]:
    return None if _RUN_PARTS.match(name) else (
        "run-parts skips names holding anything but letters, digits, - and _")


def _nm_name(name: str) -> Optional[str]:
    if name.startswith(".") or name.endswith(_NM_IGNORED) or ".dpkg-" in name:
        return "NetworkManager ignores hidden, backup and package-manager files"
    return None


def _rhel_name(name: str) -> Optional[str]:
    return None if _SHELL_NAME.match(name) else (
        "dhclient-script reads only NAME.sh, NAME a shell identifier")


@dataclass(frozen=True)
class Place:
    directories: Tuple[str, ...]  # the first one holding the name is the one used
    name: str
    mode: int  # as the package installs it
    name_problem: Callable[[str], Optional[str]]
    executable: bool  # the caller needs an execute bit
    root_group: bool = False  # the group must be root too
    masks: bool = False  # a link to /dev/null in the first directory masks the rest
    role: str = "hook"  # what to call it: "enter hook", "exit hook"


@dataclass(frozen=True)
class Stack:
    name: str
    detect: Callable[[Inspection], str]  # why the stack looks in use; "" when it does not
    places: Tuple[Place, ...]


def _found(inspection: Inspection, paths: Tuple[str, ...], programs: Tuple[str, ...]) -> str:
    for relative in paths:
        if inspection.path(relative).exists():
            return f"/{relative} exists"
    running = inspection.live.processes() or frozenset()
    return next((f"{p} is running" for p in programs if p in running), "")


def _dhclient_script(inspection: Inspection, *markers: str) -> str:
    """Which dhclient-script is there, named by the hook directories it runs."""
    for relative in ("sbin/dhclient-script", "usr/sbin/dhclient-script"):
        text = inspection.text(relative) or ""
        runs = [f"/etc/dhcp/{marker}" for marker in markers if marker in text]
        if runs:
            return f"/{relative} runs the hooks in {' and '.join(runs)}"
    return ""


def _ifupdown(inspection: Inspection) -> str:
    used = sorted({s.name for s in inspection.stanzas if s.method != "loopback"})
    return f"/etc/network/interfaces configures {', '.join(used)}" if used else ""


STACKS: Tuple[Stack, ...] = (
    Stack("NetworkManager", lambda i: _found(
        i, ("usr/sbin/NetworkManager", "etc/NetworkManager/NetworkManager.conf"),
        ("NetworkManager",)),
        (Place(("etc/NetworkManager/dispatcher.d", "usr/lib/NetworkManager/dispatcher.d"),
               "50-nethook", 0o755, _nm_name, True, masks=True),)),
    Stack("dhclient (Debian)", lambda i: _dhclient_script(i, "dhclient-enter-hooks.d",
                                                          "dhclient-exit-hooks.d"),
          (Place(("etc/dhcp/dhclient-enter-hooks.d",), "nethook", 0o644, _run_parts_name,
                 False, role="enter hook"),
           Place(("etc/dhcp/dhclient-exit-hooks.d",), "nethook", 0o644, _run_parts_name,
                 False, role="exit hook"))),
    Stack("dhclient (RHEL)", lambda i: _dhclient_script(i, "dhclient.d"),
          (Place(("etc/dhcp/dhclient.d",), "nethook.sh", 0o755, _rhel_name, True),)),
    Stack("ifupdown", _ifupdown,
          (Place(("etc/network/if-up.d",), "nethook", 0o755, _run_parts_name, True),)),
    Stack("networkd-dispatcher", lambda i: _found(
        i, ("usr/bin/networkd-dispatcher", "lib/systemd/system/networkd-dispatcher.service",
            "usr/lib/systemd/system/networkd-dispatcher.service"), ("networkd-dispatcher",)),
        (Place(("etc/networkd-dispatcher/routable.d", "usr/lib/networkd-dispatcher/routable.d"),
               "50-nethook", 0o755, lambda name: None, True, root_group=True),)),
)


def check(inspection: Inspection) -> List[Finding]:
    in_use = [(stack, reason) for stack, reason in ((s, s.detect(inspection)) for s in STACKS)
              if reason]
    hooked = _any_hook(inspection)
    if in_use and not hooked and not _executable(inspection.path(NETHOOK)):
        return [_not_installed(inspection, in_use)]
    findings = []
    for stack, reason in in_use:
        for place in stack.places:
            finding = _place(inspection, stack, place, Evidence("in use", reason))
            if finding is not None:
                findings.append(finding)
    if hooked and not _executable(inspection.path(NETHOOK)):
        findings.append(Finding(
            CHECK, "nethook-missing", Severity.ERROR,
            f"the hooks call /{NETHOOK}, which is not there",
            (Evidence(str(inspection.path(NETHOOK)), "missing or not executable"),),
            "every hook returns at once when it is missing (a removed but not purged "
            "package leaves its hooks behind), so nothing is ever restored",
            "install the nethook package again, or purge it to remove the hooks"))
    return findings


def _not_installed(inspection: Inspection, in_use: List[Tuple[Stack, str]]) -> Finding:
    """No hook anywhere and no /usr/bin/nethook: one finding, not one per hook."""
    places = [inspection.path(p.directories[-1]) / p.name for s, _ in in_use for p in s.places]
    return Finding(
        CHECK, "not-installed", Severity.ERROR,
        f"nethook is not installed: none of its hooks is in place, and /{NETHOOK} is not there",
        (*(Evidence("in use", reason) for _, reason in in_use),
         Evidence(str(inspection.path(NETHOOK)), "missing")),
        f"{', '.join(s.name for s, _ in in_use)} never call nethook, so nothing puts back the "
        "aliases, rules and table routes their events remove",
        "install the nethook package (.deb or .rpm): it installs "
        f"/{NETHOOK} and the hooks ({', '.join(str(p) for p in places)}); a pip install "
        "brings neither")


def _place(inspection: Inspection, stack: Stack, place: Place,
           in_use: Evidence) -> Optional[Finding]:
    used = next((inspection.path(d) / place.name for d in place.directories
                 if _exists(inspection.path(d) / place.name)), None)
    expected = inspection.path(place.directories[-1]) / place.name
    if used is None:
        return _absent(inspection, stack, place, expected, in_use)
    if place.masks and used.is_symlink() and str(used.resolve()) == "/dev/null":
        return Finding(
            CHECK, "hook-masked", Severity.ERROR, f"nethook's {stack.name} {place.role} is masked",
            (Evidence(str(used), "-> /dev/null"), in_use),
            f"a link to /dev/null in {used.parent} masks the packaged hook, so {stack.name} "
            "never runs nethook", f"remove the link: `rm {used}`")
    if not used.exists():
        return Finding(
            CHECK, "hook-dangling", Severity.ERROR,
            f"nethook's {stack.name} {place.role} is a link to nothing",
            (Evidence(str(used), f"-> {os.readlink(used)}"), in_use),
            f"{stack.name} finds no script behind the link, so it never runs nethook",
            f"replace the link with the packaged hook (mode {place.mode:04o})")
    problems = _problems(inspection, place, used)
    if not problems:
        return None
    info = used.stat()
    action = _repair(inspection, place, used, info) if MARK in (_text(used) or "") else None
    commands = []
    if any(p.startswith("owned by") for p in problems):
        commands.append(f"chown {'root:root' if place.root_group else 'root'} {used}")
    if any(p in _MODE_PROBLEMS for p in problems):
        commands.append(f"chmod {place.mode:04o} {used}")
    fix = (f"`{'; '.join(commands)}`" if commands else
           f"install it again as a regular file, mode {place.mode:04o}")
    return Finding(
        CHECK, "hook-permissions", Severity.ERROR,
        f"{stack.name} will skip nethook's {place.role} {used}",
        (Evidence(str(used), f"mode {stat.S_IMODE(info.st_mode):04o}, owner "
                             f"{info.st_uid}:{info.st_gid}"), in_use),
        f"{stack.name} runs only {_requirement(place)}; this one is {', '.join(problems)}, so "
        "it is skipped without a word and nothing is restored after the events it handles",
        fix, action)


def _absent(inspection: Inspection, stack: Stack, place: Place, expected: Path,
            in_use: Evidence) -> Finding:
    misnamed = [(d, n) for d in place.directories for n in entry_names(inspection.path(d))
                if place.name_problem(n) and MARK in (_text(inspection.path(d) / n) or "")]
    if misnamed:
        directory, name = misnamed[0]
        path = inspection.path(directory) / name
        return Finding(
            CHECK, "hook-misnamed", Severity.ERROR,
            f"nethook's {stack.name} {place.role} is installed as {name}, which "
            f"{stack.name} skips",
            (Evidence(str(path), "a nethook hook"), in_use),
            f"{place.name_problem(name)}, so the hook never runs and nothing is restored "
            "after the events it handles",
            f"`mv {path} {path.parent / place.name}`")
    return Finding(
        CHECK, "hook-missing", Severity.ERROR,
        f"nethook's {stack.name} {place.role} is not installed",
        (Evidence(str(expected), "missing"), in_use),
        f"{stack.name} never calls nethook, so nothing puts back the aliases, rules and "
        "table routes its events remove",
        f"install the nethook package again; it installs {expected} (mode {place.mode:04o})")


def _problems(inspection: Inspection, place: Place, path: Path) -> List[str]:
    info = path.stat()
    mode = stat.S_IMODE(info.st_mode)
    owner = inspection.owner
    problems = []
    if not stat.S_ISREG(info.st_mode):
        problems.append("not a regular file")
    if info.st_uid != owner.uid or (place.root_group and info.st_gid != owner.gid):
        problems.append(f"owned by {info.st_uid}:{info.st_gid}")
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        problems.append("writable by group or others")
    if mode & stat.S_ISUID:
        problems.append("set-uid")
    if place.executable and not mode & stat.S_IXUSR:
        problems.append("not executable")
    return problems


def _requirement(place: Place) -> str:
    owner = "root:root" if place.root_group else "root"
    executable = ", executable" if place.executable else ""
    return f"a regular file owned by {owner}, writable by no one else{executable}"


def _repair(inspection: Inspection, place: Place, path: Path,
            info: os.stat_result) -> Optional[SetPermissions]:
    mode = stat.S_IMODE(info.st_mode)
    owner = (inspection.owner.uid, inspection.owner.gid)
    wrong_owner = info.st_uid != owner[0] or (place.root_group and info.st_gid != owner[1])
    if not stat.S_ISREG(info.st_mode) or path.is_symlink():
        return None
    return SetPermissions(path, mode, (info.st_uid, info.st_gid),
                          mode=place.mode if mode != place.mode else None,
                          owner=owner if wrong_owner else None)


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _text(path: Path) -> Optional[str]:
    return read_text(path) if is_file(path) else None


def _executable(path: Path) -> bool:
    return is_file(path) and bool(path.stat().st_mode & 0o111)


def _any_hook(inspection: Inspection) -> bool:
    places = {d for s in STACKS for p in s.places for d in p.directories}
    return any(MARK in (_text(inspection.path(d) / n) or "")
               for d in sorted(places) for n in entry_names(inspection.path(d)))

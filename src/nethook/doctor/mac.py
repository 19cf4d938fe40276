"""Check 2: a network card whose MAC changed under its configuration.

* The kudzu rename (Red Hat solution 514203): on Hyper-V with a dynamic MAC, or after a
  NIC swap, kudzu moves ``ifcfg-eth0`` aside as ``ifcfg-eth0.bak`` and writes a new
  ``ifcfg-eth0`` with the new ``HWADDR`` and without the static addressing. Found when a
  backup-style copy (``.bak``, ``.old``, ``~``, ...) holds an ``HWADDR`` no device has
  and addressing the current file lost, while the current file carries the device's
  MAC. ``--fix`` writes the copy's addressing into the current file (keeping its new
  ``HWADDR``), when exactly one copy qualifies: only known keys, each value checked and
  written quoted (doctor/ifcfg_copy.py), since initscripts sources the file.
* ``HWADDR`` in a current ifcfg file that no device has: initscripts refuses the file.
* udev persistent-net rules that pin a name to a MAC no device has.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import List, Mapping, Optional, Tuple

from nethook.base.files import entry_names
from nethook.doctor import ifcfg_copy
from nethook.doctor.findings import Evidence, Finding, Severity
from nethook.doctor.fixes import RewriteFile
from nethook.doctor.inputs import Inspection, ShellFile
from nethook.importers.base import BACKUP_SUFFIXES, is_backup, read_text
from nethook.model.objects import Origin

CHECK = "mac"
UDEV_RULES = "etc/udev/rules.d"
# What kudzu's rewrite loses: the interface's own addressing.
ADDRESSING = re.compile(r"(BOOTPROTO|IPADDR[0-9]*|NETMASK[0-9]*|PREFIX[0-9]*|GATEWAY[0-9]*|"
                        r"NETWORK|BROADCAST)\Z")
_ADDRESSED = re.compile(r"IPADDR[0-9]*\Z")
_UDEV_MAC = re.compile(r'ATTRS?\{address\}\s*==\s*"([^"]+)"')
_UDEV_NAME = re.compile(r'(?:^|[\s,])NAME\s*:?=\s*"([^"]+)"')


def check(inspection: Inspection) -> List[Finding]:
    macs = inspection.live.mac_addresses()
    if not macs:
        return []  # no MAC to compare with (no sysfs of this namespace): nothing to judge
    files = [f for f in inspection.ifcfg_files if ".nethook-" not in f.name]
    current = [f for f in files if not is_backup(f.name) and ":" not in f.name
               and "-range" not in f.name]
    backups = [f for f in files if is_backup(f.name)]
    findings = []
    for ifcfg in current:
        moved = [b for b in backups if _original(b.name) == ifcfg.name
                 and _lost_by_rename(b, ifcfg, macs)]
        if moved:
            findings.append(_renamed(ifcfg, moved, macs))
    findings += [_unknown_hwaddr(f, macs) for f in current if _unknown(_mac_of(f), macs)]
    return findings + _udev(inspection, macs)


def _mac(text: Optional[str]) -> Optional[str]:
    return text.strip().lower() if text and text.strip() else None


def _mac_of(ifcfg: ShellFile) -> Optional[str]:
    return _mac(ifcfg.variables.get("HWADDR"))


def _unknown(mac: Optional[str], macs: Mapping[str, str]) -> bool:
    return mac is not None and mac not in macs.values()


def _device(ifcfg: ShellFile) -> str:
    return ifcfg.variables.get("DEVICE") or ifcfg.name[len("ifcfg-"):]


def _original(name: str) -> str:
    for suffix in BACKUP_SUFFIXES:
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return name


def _addressed(ifcfg: ShellFile) -> bool:
    return any(_ADDRESSED.match(k) and v.value for k, v in ifcfg.variables.variables.items())


def _lost_by_rename(backup: ShellFile, ifcfg: ShellFile, macs: Mapping[str, str]) -> bool:
    live = macs.get(_device(ifcfg))
    return (live is not None and _mac_of(ifcfg) == live and _unknown(_mac_of(backup), macs)
            and _addressed(backup) and not _addressed(ifcfg))


def _renamed(ifcfg: ShellFile, copies: List[ShellFile], macs: Mapping[str, str]) -> Finding:
    device, new = _device(ifcfg), macs[_device(ifcfg)]
    old = copies[0]
    evidence = [Evidence("ip link", f"{device} link/ether {new}")]
    for copy in copies:
        evidence += [Evidence.at(v.origin, f"{k}={v.value}")
                     for k, v in copy.variables.variables.items()
                     if k == "HWADDR" or ADDRESSING.match(k)]
    hwaddr = ifcfg.variables.var("HWADDR")
    assert hwaddr is not None
    evidence.append(Evidence.at(hwaddr.origin, f"HWADDR={hwaddr.value}"))
    if len(copies) == 1:
        fix, action = _copy(ifcfg, old, hwaddr.value)
    else:
        fix = (f"{len(copies)} old copies qualify ({', '.join(c.name for c in copies)}): "
               f"choose the right one and put its addressing into {ifcfg.name} by hand")
        action = None
    return Finding(
        CHECK, "kudzu-rename", Severity.ERROR,
        f"{device}'s MAC changed and {ifcfg.name} lost the static addressing "
        f"{old.name} still has", tuple(evidence),
        f"the MAC of {device} changed (a hypervisor-assigned dynamic MAC, or a new card), "
        f"so kudzu moved the old file aside and wrote a new one without IPADDR: {device} "
        "comes up without its static address", fix, action)


def _copy(ifcfg: ShellFile, old: ShellFile, hwaddr: str) -> Tuple[str, Optional[RewriteFile]]:
    """What to do with the one old copy: the fix's text, and the rewrite when it is safe."""
    chosen = ifcfg_copy.select(ifcfg, old)
    current = read_text(ifcfg.path)
    text = None if current is None else ifcfg_copy.merged(ifcfg, current, old, chosen)
    keys = ", ".join(chosen.keys)
    if chosen.keys:
        fix = f"put {keys} from {old.name} back into {ifcfg.name}, keeping HWADDR={hwaddr}"
    else:
        fix = f"put the addressing of {old.name} back into {ifcfg.name} by hand"
    if chosen.refused:
        fix += ("; not copied (check them, and write them by hand if they are right): "
                + "; ".join(str(r) for r in chosen.refused))
    fix += "; on Hyper-V, give the VM a static MAC so that it does not happen again"
    if text is None or current is None:
        return fix, None
    return fix, RewriteFile(ifcfg.path, text, current,
                            f"add {keys} from {old.name}, keep HWADDR={hwaddr}")


def _unknown_hwaddr(ifcfg: ShellFile, macs: Mapping[str, str]) -> Finding:
    hwaddr = ifcfg.variables.var("HWADDR")
    assert hwaddr is not None
    device = _device(ifcfg)
    return Finding(
        CHECK, "hwaddr-unknown", Severity.WARNING,
        f"{ifcfg.name} is for HWADDR {hwaddr.value}, which no device has",
        (Evidence.at(hwaddr.origin, f"HWADDR={hwaddr.value}"), _devices(macs)),
        f"initscripts refuses to bring {device} up with this file ('Device {device} has "
        "different MAC address than expected, ignoring.'), so its addresses, aliases and "
        "routes never come up",
        f"set HWADDR to the MAC of the card meant (`ip link`), or delete line "
        f"{hwaddr.origin.line} if the file should apply to whichever card is named {device}")


def _devices(macs: Mapping[str, str]) -> Evidence:
    shown = ", ".join(f"{name} {mac}" for name, mac in sorted(macs.items()))
    return Evidence("ip link", shown or "no device has a MAC address")


def _udev(inspection: Inspection, macs: Mapping[str, str]) -> List[Finding]:
    findings = []
    directory = inspection.path(UDEV_RULES)
    for name in entry_names(directory):
        text = read_text(directory / name) if name.endswith(".rules") else None
        for number, line in enumerate((text or "").splitlines(), start=1):
            mac, pinned = _UDEV_MAC.search(line), _UDEV_NAME.search(line)
            if line.lstrip().startswith("#") or mac is None or pinned is None:
                continue
            pattern = mac.group(1).lower()
            if not any(fnmatchcase(m, pattern) for m in macs.values()):
                findings.append(_udev_pin(Origin(str(directory / name), number), line.strip(),
                                          pinned.group(1), pattern, macs))
    return findings


def _udev_pin(origin: Origin, line: str, name: str, mac: str,
              macs: Mapping[str, str]) -> Finding:
    return Finding(
        CHECK, "udev-pin", Severity.WARNING,
        f"udev keeps the name {name} for {mac}, which no device has",
        (Evidence.at(origin, line), _devices(macs)),
        f"a card with another MAC cannot take the name {name}: it comes up as the next free "
        f"name instead, and everything configured for {name} applies to no device",
        f"delete line {origin.line} of {origin.source} (or put the new MAC in it) and reboot; "
        "the rule generator then writes a line for the card that is there")

"""Check 7: xinetd services bound to an address no interface has.

xinetd binds each service's socket when it starts or reloads. A ``bind =`` (or its
synonym ``interface =``) address that is missing then makes the bind fail, and the
service stays down even after the address comes back, until the next reload.

Read as xinetd reads them: ``/etc/xinetd.conf``, then every ``includedir`` (files whose
names hold a dot or end in ``~`` are skipped, as xinetd skips them); ``/etc/xinetd.d``
alone when there is no xinetd.conf. A ``defaults`` block's ``bind`` applies to the
services without their own; ``disable = yes`` and ``defaults``' ``disabled`` list turn
services off, and those are not checked.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

from nethook.base.files import entry_names
from nethook.doctor.findings import Evidence, Finding, Severity
from nethook.doctor.inputs import Inspection
from nethook.importers.base import is_file, read_text
from nethook.model.objects import IPAddress, Origin

CHECK = "xinetd"
CONF = "etc/xinetd.conf"
CONF_DIR = "etc/xinetd.d"
_BIND = frozenset({"bind", "interface"})

Setting = Tuple[str, Origin, str]  # (value, where, the line)


@dataclass
class Block:
    kind: str  # "service" or "defaults"
    name: str
    origin: Origin
    settings: Dict[str, Setting] = field(default_factory=dict)


def check(inspection: Inspection) -> List[Finding]:
    blocks = _blocks(inspection)
    defaults = [b for b in blocks if b.kind == "defaults"]
    default_bind = next((d.settings[k] for d in reversed(defaults) for k in _BIND
                         if k in d.settings), None)
    disabled: Set[str] = {name for d in defaults if "disabled" in d.settings
                          for name in d.settings["disabled"][0].split()}
    present = {a.interface.ip for a in inspection.live.observed().addresses}
    findings = []
    for service in (b for b in blocks if b.kind == "service"):
        bind = next((service.settings[k] for k in _BIND if k in service.settings),
                    default_bind)
        off = service.settings.get("disable", ("no", service.origin, ""))[0].lower()
        if bind is None or off == "yes" or service.name in disabled:
            continue
        address = _address(bind[0])
        if address is not None and not address.is_unspecified and address not in present:
            findings.append(_missing(service, bind, address))
    return findings


def _address(text: str) -> Optional[IPAddress]:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None  # a host name: xinetd resolves it, nethook does not guess


def _missing(service: Block, bind: Setting, address: IPAddress) -> Finding:
    _value, origin, line = bind
    return Finding(
        CHECK, "bind-missing", Severity.WARNING,
        f"xinetd service {service.name} binds to {address}, which no interface has",
        (Evidence.at(origin, line), Evidence.at(service.origin, f"service {service.name}"),
         Evidence("ip address", f"no interface has {address}")),
        "xinetd binds a service's socket when it starts or reloads: with the address "
        "missing the bind fails ('Cannot assign requested address') and the service stays "
        "down, even after the address comes back, until the next reload",
        f"put {address} back (`nethook apply` if it is declared; else declare it so that "
        "nethook keeps it) and reload xinetd (`systemctl reload xinetd`), or correct line "
        f"{origin.line} of {origin.source}")


def _files(inspection: Inspection) -> List[Path]:
    conf = inspection.path(CONF)
    if not is_file(conf):
        return _directory(inspection.path(CONF_DIR))
    files = [conf]
    for line in (read_text(conf) or "").splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) == 2 and words[0] == "includedir":
            files += _directory(inspection.root / words[1].lstrip("/"))
    return files


def _directory(directory: Path) -> List[Path]:
    return [directory / n for n in entry_names(directory)
            if "." not in n and not n.endswith("~") and is_file(directory / n)]


def _blocks(inspection: Inspection) -> List[Block]:
    blocks: List[Block] = []
    for path in _files(inspection):
        pending: Optional[Block] = None
        current: Optional[Block] = None
        for number, raw in enumerate((read_text(path) or "").splitlines(), start=1):
            words = raw.split("#", 1)[0].split()
            origin = Origin(str(path), number)
            if not words:
                continue
            if current is None and words[0] in ("service", "defaults"):
                pending = Block(words[0], " ".join(words[1:2]) or "defaults", origin)
                words = words[2 if words[0] == "service" else 1:]
            if pending is not None and words[:1] == ["{"]:
                current, pending = pending, None
                blocks.append(current)
                words = words[1:]
            if current is not None and words[:1] == ["}"]:
                current = None
            elif current is not None and len(words) >= 3 and words[1] in ("=", "+=", "-="):
                current.settings[words[0]] = (" ".join(words[2:]), origin, raw.strip())
    return blocks

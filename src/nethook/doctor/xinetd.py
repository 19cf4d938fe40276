"""Check 7: xinetd services bound to an address no interface has, or deaf on one it has.

xinetd binds each service's socket when it starts or reloads. A ``bind =`` (or its
synonym ``interface =``) address that is missing then makes the bind fail, and the
service stays down even after the address comes back, until the next reload.

The configuration is read by :mod:`nethook.daemons.xinetd`, the reader the services check
uses, as xinetd reads it (its ``-f``, else ``/etc/xinetd.conf``; ``include`` and
``includedir``, relative paths from xinetd's working directory; ``defaults``' ``bind``,
``disabled`` and ``enabled`` by service id). Two findings:

* ``bind-missing``: an enabled service is bound to an address no interface has;
* ``not-listening``: xinetd runs in this network namespace and its main process holds no
  socket for a service whose address is present: the verdict ``nethook status`` prints
  (:func:`nethook.services.status.assess_daemon`), so the two never disagree.
"""

from __future__ import annotations

from functools import partial
from typing import Callable, List, Optional, Sequence

from nethook.base.errors import ObserveError
from nethook.config.services import ServicesConfig
from nethook.daemons import xinetd
from nethook.daemons.live import DaemonsLive
from nethook.daemons.xinetd import BoundService, XinetdSetup
from nethook.doctor.findings import Evidence, Finding, Severity
from nethook.doctor.inputs import Inspection
from nethook.model.objects import Address, Origin
from nethook.services import setups
from nethook.services.status import missing_now
from nethook.services.watches import command_line

CHECK = "xinetd"
Shown = Callable[[Optional[Origin]], Origin]


def check(inspection: Inspection) -> List[Finding]:
    live = inspection.live.daemons()
    found = live.running({xinetd.COMM}).get(xinetd.COMM, []) if live is not None else []
    config = inspection.config
    settings = config.services if config is not None else ServicesConfig()
    setup, prefix = setups.xinetd_setup(inspection.root, settings.xinetd.config,
                                         command_line(found) if found else (),
                                         live_command=bool(found))
    if setup is None:
        return []
    if setup.unreadable:
        raise ObserveError(setup.unreadable)
    shown = partial(setups.shown_under, prefix)
    present = sorted(inspection.live.observed().addresses,
                     key=lambda a: (a.ifname, a.family, a.interface))
    ips = {a.interface.ip for a in present}
    findings = [_missing(s, shown) for s in setup.services if s.address not in ips]
    if live is not None and found:
        findings += _not_listening(inspection, settings, setup, present, live, shown)
    return findings


def _evidence(service: BoundService, shown: Shown) -> List[Evidence]:
    origin, line = service.bind
    return [Evidence.at(shown(origin), line),
            Evidence.at(shown(service.origin), f"service {service.name}")]


def _missing(service: BoundService, shown: Shown) -> Finding:
    address = service.address
    origin = shown(service.bind[0])
    return Finding(
        CHECK, "bind-missing", Severity.WARNING,
        f"xinetd service {service.name} binds to {address}, which no interface has",
        (*_evidence(service, shown), Evidence("ip address", f"no interface has {address}")),
        "xinetd binds a service's socket when it starts or reloads: with the address "
        "missing the bind fails ('Cannot assign requested address') and the service stays "
        "down, even after the address comes back, until the next reload",
        f"put {address} back (`nethook apply` if it is declared; else declare it so that "
        "nethook keeps it) and reload xinetd (`systemctl reload xinetd`), or correct line "
        f"{origin.line} of {origin.source}")


def _not_listening(inspection: Inspection, settings: ServicesConfig, setup: XinetdSetup,
                   present: Sequence[Address], live: DaemonsLive,
                   shown: Shown) -> List[Finding]:
    watch, missing = missing_now(inspection.root, settings, "xinetd", present, live)
    if watch is None:
        return []
    by_ip = {a.interface.ip: a for a in present}
    return [_deaf(s, by_ip[s.address], watch.pid, shown)
            for s in setup.bound_to(list(by_ip)) if s.listener.describe() in missing]


def _deaf(service: BoundService, address: Address, pid: Optional[int],
          shown: Shown) -> Finding:
    listener = service.listener.describe()
    table = f"/proc/net/{service.listener.proto}"
    return Finding(
        CHECK, "not-listening", Severity.WARNING,
        f"xinetd does not listen on {listener} (service {service.name})",
        (*_evidence(service, shown), Evidence(f"ip -{address.family} address",
                                              address.describe()),
         Evidence(table, f"xinetd (pid {pid}) has no socket on {listener}")),
        f"xinetd (re)started or reloaded while {service.address} was missing, so the "
        "bind failed; the address is back, but xinetd binds only when it starts or "
        "reloads, and the service stays deaf until then",
        f"`nethook replay {address.ifname}` (nethook verifies the service, then reloads "
        "xinetd), or `systemctl reload xinetd`")


"""Record the environments real dhclient-script and ifupdown runs give to hooks.

Run as root from the checkout (about 35 s)::

    python3 -m lab.capture_fixtures tests/fixtures/env

It drives the labs through real protocol events, keeps the environment of the
exit hooks of each dhclient-script run (and of the if-up.d scripts), and
writes one JSON file per case.  tests/fixtures/env/README.md explains the
format and the sequences.  Nothing here evaluates a value received from the
DHCP server: the lab's hooks dump the environment with `env -0`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .dhcp_lab import DhcpLab, LabError, TraceEntry, missing_requirements
from .ifupdown_lab import IfupdownLab

FIRST, SECOND, STATIC = "10.77.0.10", "10.77.0.11", "10.77.0.20"
CANARY = "/tmp/nhl-pwned-"  # a file the hostile values would create if evaluated

# Values a hostile DHCP server sends.  dnsmasq gets them as argv (no shell, no
# config-file quoting), so every character arrives in the option payload.
HOSTILE_SERVER_ARGS = (
    f"--dhcp-option=option:domain-name,x'$(touch {CANARY}domain-name)'",
    f"--dhcp-option=option:domain-search,a`touch {CANARY}search`.example,b;reboot;.example",
    f"--dhcp-option=12,h;touch {CANARY}host-name;`id`",
    f"--dhcp-option=option:root-path,/x'$(touch {CANARY}root-path)'",
    f"--dhcp-option=option:nis-domain,n$(touch {CANARY}nis-domain)",
    f"--dhcp-option=option:tftp-server,t$(touch {CANARY}tftp)",
    f"--dhcp-option=option:bootfile-name,b`touch {CANARY}bootfile`;x\"y",
    f"--dhcp-option=56,m'$(touch {CANARY}message)';`id`",
    # option 224, declared as text in dhclient.conf: b NL 0xff ' $ ( ` ; \ " NUL z
    "--dhcp-option=224,62:0a:ff:27:24:28:60:3b:5c:22:00:7a",
)
HOSTILE_REQUEST = (
    "subnet-mask", "broadcast-address", "routers", "interface-mtu", "domain-name",
    "domain-search", "host-name", "root-path", "nis-domain", "tftp-server-name",
    "bootfile-name", "dhcp-message", "nhl-text",
)
HOSTILE_CONF = "option nhl-text code 224 = text;"

IFUPDOWN_INTERFACES = """\
# nethook lab: written by lab/capture_fixtures.py
iface eth0 inet dhcp
    nethook-aliases 10.77.0.50/24
    nethook-table 100

iface eth0:0 inet static
    address 10.77.0.50/24
"""
IFUPDOWN_STATIC = f"""\
# nethook lab: written by lab/capture_fixtures.py
iface eth0 inet static
    address {STATIC}/24
    gateway 10.77.0.1
"""


class Recorder:
    """Collects fixtures and the reason sequence of the session."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.sequence: list[str] = []

    def save(self, name: str, env: dict[str, str]) -> None:
        path = self.out / f"{name}.env"
        path.write_text(json.dumps(env, indent=1, sort_keys=True, ensure_ascii=True) + "\n",
                        encoding="ascii")
        print(f"wrote {path} ({env.get('reason') or env.get('PHASE')})")

    def dhclient(self, lab: DhcpLab, entry: TraceEntry, name: str) -> None:
        """Save the exit-hook environment of ``entry`` after checking it against enter."""
        exit_env = lab.captured_env(entry)
        enter = [e for e in lab.trace() if e.phase == "enter"
                 and e.script_pid == entry.script_pid and e.reason == entry.reason]
        if enter and lab.captured_env(enter[-1]) != exit_env:
            print(f"NOTE: {name}: enter and exit hooks saw different environments")
        self.save(name, exit_env)

    def note(self, lab: DhcpLab, label: str, after: int) -> int:
        reasons = " ".join(lab.reasons(after))
        self.sequence.append(f"{label}: {reasons}")
        print(f"[{time.strftime('%H:%M:%S')}] {label}: {reasons}")
        return lab.mark()


def capture_lifecycle(rec: Recorder) -> None:
    """PREINIT, BOUND, RENEW, EXPIRE, BOUND after EXPIRE, STOP, REBOOT, TIMEOUT,
    RELEASE and FAIL from one client."""
    with DhcpLab(address=FIRST, t1=4, t2=8, capture_env=True, client_timeout=4) as lab:
        mark = 0
        rec.dhclient(lab, lab.wait_for_reason("PREINIT"), "dhclient-debian-PREINIT")
        rec.dhclient(lab, lab.wait_bound(FIRST), "dhclient-debian-BOUND")
        mark = rec.note(lab, "cold start", mark)

        rec.dhclient(lab, lab.wait_for_reason("RENEW", after=mark, timeout=10),
                     "dhclient-debian-RENEW")
        mark = rec.note(lab, "T1 renewal", mark)

        lab.renumber(SECOND)
        expire, preinit, bound = lab.wait_for_sequence(
            ["EXPIRE", "PREINIT", "BOUND"], after=mark, timeout=10)
        rec.dhclient(lab, expire, "dhclient-debian-EXPIRE")
        rec.dhclient(lab, preinit, "dhclient-debian-PREINIT-after-expire")
        rec.dhclient(lab, bound, "dhclient-debian-BOUND-after-expire")
        mark = rec.note(lab, f"renumber {FIRST} -> {SECOND}, next renewal NAKed", mark)

        lab.wait_lease_file(SECOND)  # STOP and REBOOT read the lease file
        lab.stop()
        rec.dhclient(lab, lab.wait_for_reason("STOP", after=mark), "dhclient-debian-STOP")
        mark = rec.note(lab, "dhclient -x", mark)

        lab.start_dhclient()
        rec.dhclient(lab, lab.wait_for_reason("REBOOT", after=mark), "dhclient-debian-REBOOT")
        lab.wait_bound(SECOND, after=mark)
        mark = rec.note(lab, "restart with the lease still valid", mark)

        lab.stop()
        lab.stop_server()
        # Skip INIT-REBOOT's 10 s and retry fast: TIMEOUT/FAIL come after ~7 s, not ~26 s.
        lab.write_dhclient_conf(extra="reboot 0;\ninitial-interval 1;", client_timeout=4)
        mark = rec.note(lab, "dhclient -x, then dnsmasq stopped", mark)
        lab.start_dhclient("-1")
        rec.dhclient(lab, lab.wait_for_reason("TIMEOUT", after=mark, timeout=20),
                     "dhclient-debian-TIMEOUT")
        mark = rec.note(lab, "restart with -1, server down, lease valid, router pings", mark)

        lab.release()
        rec.dhclient(lab, lab.wait_for_reason("RELEASE", after=mark),
                     "dhclient-debian-RELEASE")
        mark = rec.note(lab, "dhclient -r", mark)

        lab.lease_file.unlink()
        lab.start_dhclient("-1")
        rec.dhclient(lab, lab.wait_for_reason("FAIL", after=mark, timeout=20),
                     "dhclient-debian-FAIL")
        print(f"dhclient -1 exited with {lab.wait_dhclient_exit()}")
        rec.note(lab, "restart with -1, server down, no lease file", mark)


def capture_hostile(rec: Recorder) -> None:
    """BOUND with option values that would run commands if anything evaluated them."""
    canaries = sorted(Path("/tmp").glob("nhl-pwned-*"))
    if canaries:
        raise LabError(f"remove the old canaries first: {canaries}")
    with DhcpLab(address=FIRST, capture_env=True, dnsmasq_args=HOSTILE_SERVER_ARGS,
                 request=HOSTILE_REQUEST, dhclient_conf_extra=HOSTILE_CONF) as lab:
        rec.dhclient(lab, lab.wait_bound(FIRST), "dhclient-debian-BOUND-hostile")
        rec.note(lab, "cold start, hostile option values", 0)
        discarded = [line for line in lab.log("dhclient").read_text().splitlines()
                     if "suspect value" in line]
        print("dhclient: " + "; ".join(discarded))
    canaries = sorted(Path("/tmp").glob("nhl-pwned-*"))
    if canaries:
        raise LabError(f"a hostile value was executed: {canaries}")


@contextmanager
def _ifupdown() -> Iterator[tuple[DhcpLab, IfupdownLab]]:
    with DhcpLab(address=FIRST, autostart=False) as lab:
        yield lab, IfupdownLab(lab)


def capture_ifupdown(rec: Recorder) -> None:
    """if-up.d environments for `inet dhcp`, an `eth0:0` alias and `inet static`."""
    with _ifupdown() as (lab, ifl):
        ifl.write_interfaces(IFUPDOWN_INTERFACES)
        ifl.ifup("eth0")
        lab.wait_bound(FIRST)
        rec.save("ifupdown-dhcp", ifl.captured_env("eth0"))
        ifl.ifup("eth0:0")
        rec.save("ifupdown-alias", ifl.captured_env("eth0:0"))
        print("after ifup:", [a.cidr + "/" + a.label for a in lab.addresses()])
        ifl.ifdown("eth0:0")
        ifl.ifdown("eth0")
        rec.note(lab, "ifup eth0 (dhcp), ifup eth0:0, ifdown eth0:0, ifdown eth0", 0)
        _check_only_lab_daemons(lab)

        static = ifl.write_interfaces(IFUPDOWN_STATIC, "interfaces.static")
        ifl.ifup("eth0", static)
        rec.save("ifupdown-static", ifl.captured_env("eth0"))
        ifl.ifdown("eth0", static)
        _check_only_lab_daemons(lab)


def _check_only_lab_daemons(lab: DhcpLab) -> None:
    """After ifdown, only dnsmasq and `ip monitor` may be left in the namespaces."""
    names = sorted(Path(f"/proc/{pid}/comm").read_text().strip() for pid in lab.pids())
    print(f"processes in the lab namespaces after ifdown: {names}")
    if names != ["dnsmasq", "ip"]:
        raise LabError(f"ifdown left processes behind: {names}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="directory for the *.env fixtures")
    parser.add_argument("--only", choices=("lifecycle", "hostile", "ifupdown"))
    args = parser.parse_args(argv)
    problem = missing_requirements()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    rec = Recorder(args.out)
    steps = {"lifecycle": capture_lifecycle, "hostile": capture_hostile,
             "ifupdown": capture_ifupdown}
    for name, step in steps.items():
        if args.only in (None, name):
            step(rec)
    print("\n".join(["reason sequences (exit hooks):", *rec.sequence]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""ntpd: which addresses it binds (its ``interface`` rules), and how to make it bind one now.

ntpd (ntpsec, and classic ntp since 4.2.5p154) watches address changes over rtnetlink and
rescans its interfaces about 2 s after the last one, so a restored alias normally gains its
UDP 123 socket again in 1.3-3 s without anyone's help. What it binds is decided, per address,
by the ``interface`` (alias ``nic``) rules of ntp.conf and the ``-I``/``-L`` options, as
ntp_io.c's ``interface_action()`` decides it:

* rules are searched newest first (ntpd inserts each at the head of its list): the last
  matching rule in the file wins, and a rule added at runtime (``ntpq :config``) beats them
  all. ``-I NAME`` is a ``listen`` rule too; ntpsec refuses to start with both ``-I`` (or
  ``-L``) and ``interface`` lines (``interface/nic rules are not allowed with --interface``);
* a rule matches ``all`` (not loopback, not wildcard), ``ipv4``, ``ipv6``, ``wildcard``, an
  address (exactly, or ``ADDR/PREFIX``), or an interface name, compared with ``fnmatch``
  ignoring case; the name of an IPv4 address is its label (``eth0:0``);
* without a matching rule: loopback listens; ``-L`` ignores names with a colon ("virtual
  IPs"); any other address listens when there are no rules at all, and is ignored as soon
  as there is one (ntpsec 1.2.2 does this; checked in the lab).

``drop`` opens the socket and drops what arrives on it: ntpd does not serve there, so
nethook does not expect it to. The runtime remedy is ``ntpq -a KEYID -k KEYS -c ':config
interface listen ADDR' 127.0.0.1`` (ntpsec's ntpq; it needs ``keys`` and ``controlkey`` in
ntp.conf and a ``restrict`` for localhost without ``nomodify``); ntpq exits 0 whatever
happens, so success is its ``Config Succeeded``. SIGHUP is never sent: ntpsec does not
rescan on it, and it kills classic ntpd.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from nethook.daemons import COMMS
from nethook.daemons.conffile import IncludingLoader, Reader
from nethook.model.objects import IPAddress, IPNetwork, Origin

COMM = COMMS["ntpd"]
PORT = 123
DEFAULT_CONFIGS = ("/etc/ntpsec/ntp.conf", "/etc/ntp.conf")
PIDFILES = ("/run/ntpd.pid", "/var/run/ntpd.pid")  # Debian's wrapper and RHEL's -p
UNITS = ("ntp.service", "ntpsec.service", "ntpd.service")
INIT_SCRIPTS = ("ntp", "ntpsec", "ntpd")
ACTIONS = ("listen", "ignore", "drop")
CLASSES = ("all", "ipv4", "ipv6", "wildcard")
CONTROL_HOST = "127.0.0.1"
CONFIG_SUCCEEDED = "Config Succeeded"
MAX_INCLUDE_DEPTH = 5
# ntpsec's options that take an argument (short letters, long names); -c, -I and -k matter.
_SHORT_WITH_ARG = set("cDfiIklpPrstuUw")
_LONG_WITH_ARG = {"configfile", "set-debug-level", "driftfile", "jaildir", "interface",
                  "keyfile", "logfile", "pidfile", "priority", "propagationdelay", "statsdir",
                  "trustedkey", "user", "uinterval", "var", "dvar", "wait-sync"}
_LONG_TO_SHORT = {"configfile": "c", "interface": "I", "keyfile": "k", "novirtualips": "L",
                  "pidfile": "p"}



@dataclass(frozen=True)
class NicRule:
    """One ``interface ACTION TARGET`` rule."""

    action: str  # listen, ignore or drop
    target: str  # as written: all, ipv4, ipv6, wildcard, an address, a prefix or a name
    origin: Optional[Origin] = None
    line: str = field(default="", compare=False)  # the line as written

    @property
    def network(self) -> Optional[IPNetwork]:
        """The addresses an address rule names (a plain address is a host prefix)."""
        if self.target in CLASSES:
            return None
        try:
            return ipaddress.ip_network(self.target, strict=False)
        except ValueError:
            return None

    def matches(self, address: IPAddress, name: str) -> bool:
        if self.target == "all":
            return not address.is_loopback
        if self.target in ("ipv4", "ipv6"):
            return address.version == int(self.target[-1])
        if self.target == "wildcard":
            return False  # nethook never asks about a wildcard address
        network = self.network
        if network is not None:
            return address in network
        return fnmatch.fnmatchcase(name.lower(), self.target.lower())

    def describe(self) -> str:
        where = f" ({self.origin})" if self.origin else ""
        return f"interface {self.action} {self.target}{where}"


@dataclass(frozen=True)
class Decision:
    action: str  # listen, ignore or drop
    why: str  # the rule that decided, or ntpd's default that did
    rule: Optional[NicRule] = field(default=None, compare=False)  # None: a default decided


@dataclass(frozen=True)
class NtpSetup:
    """What decides ntpd's sockets, from its command line and its configuration files."""

    rules: Tuple[NicRule, ...] = ()  # oldest first: -I, or the files' rules in order
    novirtual: bool = False  # -L
    keys: Optional[str] = None  # the keys file, as ntpd names it
    controlkey: Optional[int] = None
    files: Tuple[str, ...] = ()  # every file read
    problems: Tuple[str, ...] = ()  # lines not understood (ntpd rejects them too)
    unreadable: Optional[str] = None  # a file that exists but could not be read
    restricted: Tuple[Tuple[str, Origin, str], ...] = ()  # restrict lines: address, where, line

    def decide(self, address: IPAddress, name: str) -> Decision:
        for rule in reversed(self.rules):
            if rule.matches(address, name):
                return Decision(rule.action, rule.describe(), rule)
        if address.is_loopback:
            return Decision("listen", "ntpd listens on loopback addresses by default")
        if self.novirtual and ":" in name:
            return Decision("ignore", f"-L: ntpd ignores virtual interfaces such as {name}")
        if self.rules:
            return Decision("ignore", "no interface rule names it (with rules in place, "
                                      "ntpd ignores the others)")
        return Decision("listen", "ntpd listens on every address without interface rules")

    @property
    def can_reconfigure(self) -> bool:
        """Whether ``ntpq :config`` can be authenticated."""
        return self.keys is not None and self.controlkey is not None


@dataclass(frozen=True)
class Command:
    """The parts of an ntpd command line that matter here."""

    config: Optional[str] = None  # the last -c
    interfaces: Tuple[str, ...] = ()  # every -I
    novirtual: bool = False
    keys: Optional[str] = None
    pidfile: Optional[str] = None  # the last -p


def parse_command(argv: Sequence[str]) -> Command:
    """ntpd's argv (as in /proc/PID/cmdline), read like its getopt_long reads it."""
    config, keys, pidfile, novirtual = None, None, None, False
    interfaces: List[str] = []
    args = list(argv[1:])
    while args:
        arg = args.pop(0)
        if arg == "--":
            break
        for option, value in _options(arg, args):
            if option == "c":
                config = value
            elif option == "I" and value is not None:
                interfaces.append(value)
            elif option == "k":
                keys = value
            elif option == "p":
                pidfile = value
            elif option == "L":
                novirtual = True
    return Command(config, tuple(interfaces), novirtual, keys, pidfile)


def _options(arg: str, rest: List[str]) -> List[Tuple[str, Optional[str]]]:
    """The options in one argument; takes an option's value from ``rest`` when needed."""
    if arg.startswith("--"):
        name, equals, value = arg[2:].partition("=")
        if name in _LONG_WITH_ARG and not equals:
            value = rest.pop(0) if rest else ""
        return [(_LONG_TO_SHORT.get(name, name), value if name in _LONG_WITH_ARG else None)]
    if not arg.startswith("-") or arg == "-":
        return []  # an operand: ntpd takes none, and neither do we
    found: List[Tuple[str, Optional[str]]] = []
    for index, letter in enumerate(arg[1:], start=1):
        if letter in _SHORT_WITH_ARG:
            value = arg[index + 1:] or (rest.pop(0) if rest else "")
            found.append((letter, value))
            break
        found.append((letter, None))
    return found


def parse_conf(text: str, source: str) -> Tuple[List[Tuple[str, List[str], Origin]], List[str]]:
    """The directives of one file, tokenised (``#`` comments, double quotes), with problems."""
    directives = []
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            problems.append(f"{source}:{number}: cannot read this line: {exc}")
            continue
        if words:
            directives.append((words[0].lower(), words[1:], Origin(source, number)))
    return directives, problems


def interface_rule(args: Sequence[str], origin: Origin, line: str = "") -> NicRule:
    """``interface``/``nic`` arguments: ACTION TARGET; ValueError when they are not that."""
    if len(args) != 2 or args[0].lower() not in ACTIONS:
        raise ValueError(f"{origin}: 'interface {' '.join(args)}': expected "
                         "interface listen|ignore|drop all|ipv4|ipv6|wildcard|NAME|ADDRESS")
    target = args[1].lower() if args[1].lower() in CLASSES else args[1]
    return NicRule(args[0].lower(), target, origin, line)


def load(path: str, read: Reader, command: Command = Command()) -> NtpSetup:
    """ntp.conf at ``path`` and the files it includes (relative to the including file's
    directory), with ``command``'s -I, -L and -k. A missing includefile is skipped, as
    ntpd skips it; a file that cannot be read is recorded in ``unreadable``."""
    state = _Loader(read)
    state.rules = [NicRule("listen", name, Origin("ntpd -I")) for name in command.interfaces]
    state.keys = command.keys
    state.file(path, 0)
    return NtpSetup(tuple(state.rules), command.novirtual, state.keys, state.controlkey,
                    tuple(state.files), tuple(state.problems), state.unreadable,
                    tuple(state.restricted))


class _Loader(IncludingLoader):
    def __init__(self, read: Reader) -> None:
        super().__init__(read)
        self.rules: List[NicRule] = []
        self.keys: Optional[str] = None
        self.controlkey: Optional[int] = None
        self.restricted: List[Tuple[str, Origin, str]] = []
        self.line = ""  # the line being read, as written

    def missing_include(self, path: str) -> Optional[str]:
        return f"includefile {path}: no such file (ntpd skips it too)"

    def parse(self, text: str, path: str, depth: int) -> None:
        directives, problems = parse_conf(text, path)
        self.problems.extend(problems)
        lines = text.splitlines()
        for keyword, args, origin in directives:
            self.line = lines[origin.line - 1].strip()
            self.directive(keyword, args, origin, path, depth)

    def directive(self, keyword: str, args: List[str], origin: Origin, path: str,
                  depth: int) -> None:
        if keyword in ("interface", "nic"):
            try:
                self.rules.append(interface_rule(args, origin, self.line))
            except ValueError as exc:
                self.problems.append(str(exc))
        elif keyword == "restrict" and args:
            self.restricted.append((args[0], origin, self.line))
        elif keyword == "keys" and args:
            self.keys = args[0]
        elif keyword == "controlkey" and args and args[0].isdigit():
            self.controlkey = int(args[0])
        elif keyword == "includefile" and args:
            if depth >= MAX_INCLUDE_DEPTH:
                self.problems.append(f"{origin}: includefile nested too deep; not followed")
                return
            included = Path(path).parent / args[0]  # an absolute args[0] replaces the base
            self.file(str(included), depth + 1)


def rebind_commands(setup: NtpSetup, addresses: Sequence[IPAddress]) -> List[str]:
    """The ``:config`` lines that make ntpd listen on ``addresses`` now, and nothing else.

    With rules in place one more ``listen`` rule per address is all it takes. Without any,
    a single rule would switch on ntpd's implicit ``ignore`` for every other address, so
    the default is spelled out instead: ``listen all`` (and ``ignore *:*`` under ``-L``).
    """
    if setup.rules:
        return [f":config interface listen {address}" for address in addresses]
    lines = [":config interface listen all"]
    if setup.novirtual:
        lines.append(":config interface ignore *:*")
    return lines


def ntpq_argv(ntpq: str, setup: NtpSetup, keys_path: str, commands: Sequence[str]) -> List[str]:
    """ntpsec's ntpq with the control key: ``-a KEYID -k KEYS -c ... 127.0.0.1``."""
    argv = [ntpq, "-a", str(setup.controlkey), "-k", keys_path]
    for command in commands:
        argv += ["-c", command]
    return [*argv, CONTROL_HOST]


def ntpq_succeeded(output: str) -> bool:
    return CONFIG_SUCCEEDED in output

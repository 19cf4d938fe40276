"""The command line: every verb, its options, and the exit statuses ``--help`` lists."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Optional, cast

from nethook import __version__
from nethook.config.imports import IMPORT_SOURCES as IMPORT_SOURCES

if TYPE_CHECKING:  # a hook call is read without it (hook_call)
    import argparse

HOOK_SOURCES = ("dhclient-enter", "dhclient-exit", "dhclient-rhel", "networkmanager",
                "ifupdown", "networkd")
EXIT_STATUS = """\
exit status:
  0  nothing missing (check: OK)
  1  something missing or not applied (check: WARNING, a service not listening)
  2  usage or configuration error, or an interface neither kept nor present
     (check: CRITICAL, something kept is missing)
  3  cannot check: not root, nethook's directories or the kernel unreadable
     (check: UNKNOWN)
  hook always exits 0.
"""


def _common_options() -> argparse.ArgumentParser:
    import argparse

    common = argparse.ArgumentParser(add_help=False)
    hide = argparse.SUPPRESS
    common.add_argument("--config", metavar="PATH", default=hide,
                        help="configuration file or directory (env NETHOOK_CONFIG)")
    common.add_argument("--root", metavar="DIR", default=hide,
                        help="filesystem root prefixed to every file read (env NETHOOK_ROOT)")
    common.add_argument("--state-dir", metavar="DIR", default=hide,
                        help="state directory, default /var/lib/nethook (env NETHOOK_STATE_DIR)")
    common.add_argument("--run-dir", metavar="DIR", default=hide,
                        help="runtime directory, default /run/nethook (env NETHOOK_RUN_DIR)")
    common.add_argument("--json", action="store_true", default=hide,
                        help="one JSON document on stdout, errors included")
    common.add_argument("-v", "--verbose", action="count", default=hide)
    common.add_argument("-q", "--quiet", action="count", default=hide)
    return common


def _verb(sub: argparse._SubParsersAction,  # type: ignore[type-arg]
          common: argparse.ArgumentParser, name: str, help_text: str,
          interface: str = "") -> argparse.ArgumentParser:
    """A verb with the common options; ``interface``: "optional" or "required"."""
    import argparse

    verb: argparse.ArgumentParser = sub.add_parser(
        name, parents=[common], help=help_text, epilog=EXIT_STATUS,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    verb.set_defaults(verb=name)
    if interface:
        verb.add_argument("interface", nargs="?" if interface == "optional" else None)
    return verb


def parser() -> argparse.ArgumentParser:
    import argparse

    common = _common_options()
    top = argparse.ArgumentParser(
        prog="nethook", parents=[common], epilog=EXIT_STATUS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Keep secondary addresses, policy rules and table routes across DHCP "
                    "events. Everything is described in nethook(8) and nethook.yaml(5).")
    top.add_argument("--version", action="version", version=f"nethook {__version__}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)

    _verb(sub, common, "status", "what nethook keeps against the kernel, per interface",
          "optional")
    _verb(sub, common, "check", "a monitoring plugin: one line, exit 0-3 (Nagios, Icinga)",
          "optional")
    metrics = _verb(sub, common, "metrics", "the Prometheus text format")
    metrics.add_argument("--textfile", metavar="DIR",
                         help="write DIR/nethook.prom for node_exporter's textfile collector")
    plan = _verb(sub, common, "plan", "print the operations apply would run, as ip commands",
                 "optional")
    plan.add_argument("--prune", action="store_true",
                      help="also remove what nethook added from its files and no longer keeps")
    apply = _verb(sub, common, "apply", "restore what is missing", "optional")
    apply.add_argument("--dry-run", action="store_true", help="plan only, change nothing")
    apply.add_argument("--prune", action="store_true",
                       help="also remove what nethook added from its files and no longer keeps")
    replay = _verb(sub, common, "replay", "run the last recorded event of an interface again",
                   "optional")
    replay.add_argument("--reason", help="replay as this reason (BOUND, RENEW, ...)")
    replay.add_argument("--dry-run", action="store_true", help="plan only, change nothing")
    _verb(sub, common, "snapshot", "record an interface's aliases, rules and table routes now",
          "required")
    imp = _verb(sub, common, "import",
                "print what the distro's own network files declare, as nethook YAML")
    imp.add_argument("--from", dest="sources", action="append", choices=IMPORT_SOURCES,
                     metavar="SOURCE", help=f"one of {', '.join(IMPORT_SOURCES)} (repeatable; "
                                            "default: every source whose files exist)")
    doctor = _verb(sub, common, "doctor",
                   "find misconfigurations that lose aliases, rules and routes")
    doctor.add_argument("--fix", action="store_true",
                        help="apply the safe, unambiguous fixes (after printing them)")
    watch = _verb(sub, common, "watch",
                  "stay running: restore what is kept as soon as it is lost")
    watch.add_argument("--no-dbus", action="store_true",
                       help="follow hooks and netlink only, not NetworkManager or networkd")

    # Only for the help and the errors: main() reads a valid hook call itself (hook_call).
    hook = sub.add_parser("hook", help="entry point for the shims in hooks/ (always exits 0)",
                          usage="nethook hook SOURCE [--] [ARG ...]")
    hook.add_argument("source", choices=HOOK_SOURCES)
    hook.add_argument("args", nargs="*", metavar="ARG",
                      help="the caller's own arguments, after --: taken as they are")
    hook.set_defaults(verb="hook")
    # Hidden (no help): what a hook starts, detached, after it restored addresses.
    services = sub.add_parser("services-check", parents=[common])
    services.add_argument("interface")
    services.set_defaults(verb="services-check")
    return top


def hook_call(words: Sequence[str]) -> Optional[argparse.Namespace]:
    """``hook SOURCE [--] ARG...``, read without argparse: every ARG is the caller's own
    (NetworkManager's interface name, which may be ``-h``, ``--json`` or ``--``), which
    argparse would take for an option, or drop when it is ``--``. The shims put ``--``
    before the first one; only that first ``--`` is taken away. The verbs read it as
    they read argparse's namespace, which is not even loaded then."""
    if len(words) < 2 or words[0] != "hook" or words[1] not in HOOK_SOURCES:
        return None  # argparse explains what is wrong (or prints the help)
    forwarded = list(words[2:])
    if forwarded[:1] == ["--"]:
        forwarded = forwarded[1:]
    return cast("argparse.Namespace",
                SimpleNamespace(verb="hook", source=words[1], args=forwarded))

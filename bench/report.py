"""The benchmark's one table, and its targets (issue 17), from the results dict.

Every row sets a nethook figure beside a baseline measured in the same run, and the
ratio of the two; a row with a target says PASS or MISS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

LABEL, VALUE, BASE, TARGET = 48, 9, 35, 10


@dataclass(frozen=True)
class Target:
    name: str
    limit: float
    shown: str  # how the table writes the limit
    at_most: bool = True

    def status(self, measured: Optional[float]) -> str:
        if measured is None:
            return "n/a"
        met = measured <= self.limit if self.at_most else measured >= self.limit
        return "PASS" if met else "MISS"


TARGETS = {
    "restore": Target("restore N=1000, fresh process: nethook / ip -batch", 5, "<= 5x"),
    "loop": Target("restore N=1000, fresh process: shell loop / nethook", 8, ">= 8x",
                   at_most=False),
    "fixed": Target("fixed cost, CPU (fit over N <= 1000)", 50, "<= 50 ms"),
    "per_address": Target("per-address cost, CPU (fit over N <= 1000)", 25, "<= 25 us"),
    "watcher": Target("restore N=1000 by the watcher: watcher / ip -batch", 2, "<= 2x"),
    "outage": Target("outage window, real dhclient, 10 aliases, hooks alone", 60,
                     "<= 60 ms"),
    "rss": Target("peak RSS of the N=1000 restore", 40, "<= 40 MB"),
}
STRETCH = {"restore": "stretch 4x"}


def _num(value: Optional[float]) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def _x(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or not b else round(a / b, 2)


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


class Table:
    """Rows of: what, nethook's figure, baseline, its figure, ratio, target, status."""

    def __init__(self) -> None:
        self.lines: List[str] = []
        self.found: Dict[str, Dict[str, Any]] = {}

    def row(self, label: str, value: Optional[float], base: str, base_value: Optional[float],
            ratio: Optional[float], target: str = "", measured: Optional[float] = None) -> None:
        """``target``: a key of TARGETS, checked against ``measured`` (default: ``value``)."""
        shown = status = ""
        if target:
            goal = TARGETS[target]
            checked = value if measured is None else measured
            status = goal.status(checked)
            shown = goal.shown
            self.found[target] = {"target": goal.name, "limit": goal.shown,
                                  "measured": checked, "status": status}
        value_text = "" if not label and value is None else _num(value)
        self.lines.append(f"{label:<{LABEL}}{value_text:>{VALUE}}  {base:<{BASE}}"
                          f"{_num(base_value):>{VALUE}}{_x(ratio):>{VALUE}}  "
                          f"{shown:<{TARGET}}{status}".rstrip())

    def header(self) -> str:
        return (f"{'':<{LABEL}}{'nethook':>{VALUE}}  {'baseline, same run':<{BASE}}"
                f"{'baseline':>{VALUE}}{'ratio':>{VALUE}}  target")


def machine_line(machine: Dict[str, Any]) -> str:
    iproute2 = re.search(r"iproute2-(\S+?),?(\s|$)", str(machine.get("iproute2")))
    dhclient = re.search(r"(\d[\w.-]*)", str(machine.get("dhclient")))
    return (f"{machine.get('date')}: {machine.get('nproc')} cores ({machine.get('cpu')}), "
            f"Linux {machine.get('kernel')}, Python {machine.get('python')}, "
            f"PyYAML {machine.get('pyyaml')}, iproute2 {iproute2.group(1) if iproute2 else '?'}"
            f", isc-dhclient {dhclient.group(1) if dhclient else '?'}")


def _restore_rows(table: Table, scale: Dict[str, Any]) -> None:
    for key in sorted(scale["sizes"], key=int):
        size = scale["sizes"][key]
        methods = size["methods"]
        nethook = methods["nethook"]["median_ms"]
        big = key == "1000"
        table.row(f"restore N={key} ({size['objects']} objects), fresh process", nethook,
                  "ip -batch", methods["ip_batch"]["median_ms"],
                  size["ratios"]["nethook_over_batch"], "restore" if big else "",
                  size["ratios"]["nethook_over_batch"])
        table.row("", None, "shell loop (ratio: loop / nethook)",
                  methods["shell_loop"]["median_ms"], size["ratios"]["loop_over_nethook"],
                  "loop" if big else "", size["ratios"]["loop_over_nethook"])


def _cost_rows(table: Table, scale: Dict[str, Any], noop: Dict[str, Any]) -> None:
    nethook, batch = _get(scale, "cost", "nethook"), _get(scale, "cost", "ip_batch")
    if not nethook:
        return
    small = noop.get(min(noop, key=int)) if noop else None
    python = _get(small, "methods", "python", "cpu_median_ms")
    stdlib = _get(small, "methods", "python_stdlib", "cpu_median_ms")
    imports = _get(small, "methods", "python_imports", "cpu_median_ms")
    fixed = nethook["fixed_ms"]
    table.row("fixed cost, CPU ms (fit, N <= 1000)", fixed, "python -c pass, CPU ms", python,
              _ratio(fixed, python), "fixed")
    table.row("", None, "python + the stdlib it uses, CPU ms", stdlib, _ratio(fixed, stdlib))
    table.row("", None, "python + nethook's imports, CPU ms", imports, _ratio(fixed, imports))
    per = nethook["per_address_us"]
    base = batch["per_address_us"] if batch else None
    table.row("per address, CPU us (fit, N <= 1000)", per, "ip -batch, CPU us (fit)", base,
              _ratio(per, base), "per_address")


def _noop_rows(table: Table, noop: Dict[str, Any]) -> None:
    for key in sorted(noop, key=int):
        entry = noop[key]
        table.row(f"no-op RENEW N={key}, fresh process", entry["methods"]["nethook"]["median_ms"],
                  "python + nethook's imports",
                  entry["methods"]["python_imports"]["median_ms"],
                  entry["ratios"]["nethook_over_python_imports"])


IRRELEVANT_ORDER = ("enter_preinit", "exit_preinit", "rhel_nm", "nm_hostname",
                    "ifupdown_stop", "networkd_degraded")


def _irrelevant_rows(table: Table, irrelevant: Dict[str, Any]) -> None:
    methods = irrelevant["methods"]
    baselines = irrelevant["baselines"]
    for name in sorted(baselines, key=lambda n: (*IRRELEVANT_ORDER, n).index(n)):
        base = baselines[name]
        table.row(f"irrelevant: {methods[name]['label']}", methods[name]["median_ms"],
                  methods[base]["label"], methods[base]["median_ms"],
                  irrelevant["ratios"][name])


def _watcher_rows(table: Table, watcher: Dict[str, Any]) -> None:
    for key in sorted(watcher["sizes"], key=int):
        entry = watcher["sizes"][key]
        methods = entry["methods"]
        table.row(f"watcher restore N={key} (notice to answer)",
                  methods["watcher"]["median_ms"], "ip -batch, no watcher running",
                  methods["alone"]["median_ms"], entry["ratio"],
                  "watcher" if key == "1000" else "", entry["ratio"])
        table.row("", None, "ip -batch, the watcher listening", methods["ip_batch"]["median_ms"],
                  entry["ratio_listening"])


def _outage_rows(table: Table, outage: Dict[str, Any]) -> None:
    variants = outage["variants"]
    floor = _get(variants, "floor", "all_aliases_back", "median_ms")
    for name, label, target in (
            ("nethook", f"outage window, dhclient renumbering, {outage['aliases']} aliases",
             "outage"),
            ("watcher", "  the same, nethook watch running", "")):
        if name not in variants:
            continue
        value = variants[name]["all_aliases_back"]["median_ms"]
        table.row(label, value, "exit hook with one ip -batch", floor, _ratio(value, floor),
                  target)


def _rss_rows(table: Table, scale: Dict[str, Any], noop: Dict[str, Any]) -> None:
    memory = scale.get("memory")
    if not memory:
        return
    small = noop.get(min(noop, key=int)) if noop else None

    def mb(kib: Optional[float]) -> Optional[float]:
        return None if kib is None else round(kib * 1024 / 1e6, 1)

    peak = mb(memory["peak_kib"])
    python = mb(_get(small, "methods", "python", "maxrss_median_kib"))
    imports = mb(_get(small, "methods", "python_imports", "maxrss_median_kib"))
    table.row(f"peak RSS N={memory['n']}, MB (max of runs)", peak, "python -c pass, MB",
              python, _ratio(peak, python), "rss" if memory["n"] == 1000 else "")
    table.row("", None, "python + nethook's imports, MB", imports, _ratio(peak, imports))


def _notes(results: Dict[str, Any]) -> List[str]:
    notes = []
    scale = results.get("scale")
    if scale:
        converged = all(m["converged"] for size in scale["sizes"].values()
                        for m in size["methods"].values())
        cached = scale.get("configuration_cached") or []
        notes.append(f"every restore converged (ip -j): {'yes' if converged else 'NO'}; "
                     f"nethook read its cached configuration in {sum(1 for c in cached if c)}"
                     f" of {len(cached)} timed restores")
    outage = results.get("outage")
    if outage:
        lease = _get(outage, "variants", "nethook", "lease_up_median_ms")
        notes.append(f"outage window: from the kernel's deletion of an alias to its "
                     f"re-addition, median of {outage['runs']} renumberings each; dhclient "
                     f"had the new lease up after {_num(lease)} ms, before which nothing "
                     "may be restored")
    return notes


def build(results: Dict[str, Any]) -> Table:
    table = Table()
    scale, noop = results.get("scale"), results.get("noop") or {}
    sections: List[Tuple[Any, Callable[[], None]]] = [
        (scale, lambda: _restore_rows(table, scale)),
        (scale, lambda: _cost_rows(table, scale, noop)),
        (noop, lambda: _noop_rows(table, noop)),
        (results.get("irrelevant"), lambda: _irrelevant_rows(table, results["irrelevant"])),
        (results.get("watcher"), lambda: _watcher_rows(table, results["watcher"])),
        (results.get("outage"), lambda: _outage_rows(table, results["outage"])),
        (scale, lambda: _rss_rows(table, scale, noop)),
    ]
    for present, add in sections:
        if present:
            add()
    return table


def targets(results: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Every target of issue 17 with what was measured: PASS, MISS or n/a."""
    found = build(results).found
    listed = []
    for key, goal in TARGETS.items():
        entry = dict(found.get(key) or {"target": goal.name, "limit": goal.shown,
                                        "measured": None, "status": "n/a"})
        if key in STRETCH:
            entry["stretch"] = STRETCH[key]
        listed.append(entry)
    return listed


def render(results: Dict[str, Any]) -> str:
    machine = results["machine"]
    parameters = results.get("parameters") or {}
    table = build(results)
    out = [f"nethook benchmark, {machine_line(machine)}",
           f"1-minute load average {machine.get('loadavg_start')} before, "
           f"{machine.get('loadavg_end')} after. Medians of {parameters.get('runs', '?')} "
           f"runs (no-op {parameters.get('noop_runs', '?')}, irrelevant events "
           f"{parameters.get('irrelevant_runs', '?')}); wall-clock ms unless the row says "
           "otherwise.", "", table.header(), *table.lines, "", *_notes(results)]
    for name, error in (results.get("errors") or {}).items():
        out.append(f"could not run {name}: {error}")
    return "\n".join(out) + "\n"

"""The benchmark's printed tables and its targets (issue 8), from the results dict."""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional


def _ms(value: Optional[float]) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _x(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _row(label: str, cells: List[str], width: int = 40, cell: int = 12) -> str:
    return f"  {label:<{width}}" + "".join(f"{c:>{cell}}" for c in cells)


def machine_line(machine: Dict[str, Any]) -> str:
    iproute2 = re.search(r"iproute2-(\S+?),?(\s|$)", str(machine.get("iproute2")))
    return (f"{machine.get('date')}: {machine.get('nproc')} cores ({machine.get('cpu')}), "
            f"Linux {machine.get('kernel')}, Python {machine.get('python')}, "
            f"pyroute2 {machine.get('pyroute2')}, "
            f"iproute2 {iproute2.group(1) if iproute2 else '?'}")


def scale_lines(scale: Dict[str, Any]) -> List[str]:
    sizes = scale["sizes"]
    keys = sorted(sizes, key=int)
    lines = [f"1. Restore, everything missing: median of {scale['runs']} runs, ms",
             _row("N addresses (+ N/10 rules, routes)",
                  [f"{k} ({sizes[k]['objects']})" for k in keys])]
    for method in ("nethook", "shell_loop", "ip_batch"):
        label = sizes[keys[0]]["methods"][method]["label"] if keys else method
        lines.append(_row(label, [_ms(sizes[k]["methods"][method]["median_ms"])
                                  for k in keys]))
        if method == "nethook":
            lines.append(_row("  its CPU time (user+sys)", [
                _ms(sizes[k]["methods"][method]["cpu_median_ms"]) for k in keys]))
    lines.append(_row("nethook / ip -batch",
                      [_x(sizes[k]["ratios"]["nethook_over_batch"]) for k in keys]))
    lines.append(_row("shell loop / nethook",
                      [_x(sizes[k]["ratios"]["loop_over_nethook"]) for k in keys]))
    lines.append(_row("every run converged (ip -j)",
                      ["yes" if all(m["converged"] for m in sizes[k]["methods"].values())
                       else "NO" for k in keys]))
    return lines


def memory_lines(memory: Dict[str, Any]) -> List[str]:
    return [f"5. Peak RSS of nethook's N={memory['n']} restore (wait4 ru_maxrss of the shim's "
            f"process tree): {memory['peak_kib'] * 1024 / 1e6:.1f} MB, max of "
            f"{len(memory['samples_kib'])} runs (median {memory['median_kib'] * 1024 / 1e6:.1f}"
            " MB)"]


def noop_lines(noop: Dict[str, Any], profile: Optional[Dict[str, Any]]) -> List[str]:
    keys = sorted(noop, key=int)
    if not keys:
        return []
    first = noop[keys[0]]
    lines = [f"2. No-op RENEW, nothing missing: median of {first['methods']['python']['runs']}"
             " runs, ms", _row("N addresses", [f"N={k}" for k in keys])]
    for method, entry in first["methods"].items():
        lines.append(_row(entry["label"], [_ms(noop[k]["methods"][method]["median_ms"])
                                           for k in keys]))
    lines.append(_row("nethook / (python + needed imports)",
                      [_x(noop[k]["ratios"]["nethook_over_python_imports"]) for k in keys]))
    lines.append(_row("nethook's reconcile (journal total)",
                      [_ms(noop[k]["reconcile_ms_median"]) for k in keys]))
    lines.append("  where the time goes, from the medians:")
    for part in first["breakdown_ms"]:
        lines.append(_row(f"  {part}", [_ms(noop[k]["breakdown_ms"][part]) for k in keys]))
    if profile:
        lines.append(f"  -X importtime of the hook path (N=10): {profile['total_ms']:.1f} ms in "
                     f"{profile['modules']} modules")
        lines.append("    by package (self ms): " + ", ".join(
            f"{name} {ms:.1f}" for name, ms in list(profile["by_package_self_ms"].items())[:6]))
        lines.append("    top-level imports (cumulative ms): " + ", ".join(
            f"{row['module']} {row['cumulative_ms']:.1f}" for row in profile["top_level"][:4]))
    return lines


PHASES = (
    ("nethook_and_yaml_import_ms", "import nethook's modules + PyYAML"),
    ("adapter_import_ms", "import the netlink adapter"),
    ("load_config_ms", "read the config ({objects} objects)"),
    ("observe_ms", "observe eth0"),
    ("address_dump_receive_ms", "one address dump: receive"),
    ("address_decode_pyroute2_ms", "  decode with pyroute2's ifaddrmsg"),
    ("address_decode_stdlib_ms", "  decode with rtnl_decode (nethook's)"),
    ("process_ms", "the probe process, all of the above"),
)


def phase_lines(phases: Dict[str, Any]) -> List[str]:
    lines = [f"2b. Phases of one fresh process, N={phases['n']} present: median of "
             f"{phases['runs']} runs, ms ({phases['counts'].get('addresses_dumped')} "
             "addresses in the dump)"]
    for key, label in PHASES:
        value = phases["median_ms"].get(key)
        lines.append(_row(f"  {label.format(**phases['counts'])}", [_ms(value)]))
    return lines


def irrelevant_lines(irrelevant: Dict[str, Any]) -> List[str]:
    methods = irrelevant["methods"]
    lines = [f"3. Irrelevant events: median of {methods['sh']['runs']} runs, ms",
             _row("", ["ms", "vs sh -c :"])]
    for name, entry in methods.items():
        ratio = irrelevant["ratios"].get(name)
        lines.append(_row(entry["label"], [_ms(entry["median_ms"]),
                                           "" if ratio is None else _x(ratio)]))
    return lines


def outage_lines(outage: Dict[str, Any]) -> List[str]:
    lines = [f"4. Outage window, real dhclient, {outage['aliases']} aliases, lease change: "
             f"median of {outage['runs']} renumberings, ms",
             _row("", ["all back", "first back", "lease up"])]
    for entry in outage["variants"].values():
        lines.append(_row(entry["label"], [_ms(entry["all_aliases_back"]["median_ms"]),
                                           _ms(entry["first_alias_back_median_ms"]),
                                           _ms(entry["lease_up_median_ms"])]))
    lines.append("  (from the kernel's deletion of an alias to its re-addition; lease up: "
                 "dhclient's new address, before which nothing may be restored)")
    return lines


def watcher_lines(watcher: Dict[str, Any]) -> List[str]:
    sizes = watcher["sizes"]
    keys = sorted(sizes, key=int)
    lines = [f"6. Resident watcher (nethook watch): median of {watcher['runs']} runs, ms",
             _row("N addresses (+ N/10 rules, routes)",
                  [f"{k} ({sizes[k]['objects']})" for k in keys])]
    for method in ("watcher", "alone", "ip_batch"):
        label = sizes[keys[0]]["methods"][method]["label"] if keys else method
        lines.append(_row(label, [_ms(sizes[k]["methods"][method]["median_ms"])
                                  for k in keys]))
        if method == "watcher":
            lines.append(_row("  its apply (journal)",
                              [_ms(sizes[k]["apply_ms_median"]) for k in keys]))
    lines.append(_row("watcher / ip -batch (no watcher)", [_x(sizes[k]["ratio"])
                                                           for k in keys]))
    lines.append(_row("watcher / ip -batch (listening)",
                      [_x(sizes[k]["ratio_listening"]) for k in keys]))
    lines.append(_row("every run converged (ip -j)",
                      ["yes" if all(m["converged"] for m in sizes[k]["methods"].values())
                       else "NO" for k in keys]))
    flush = watcher.get("flush")
    if flush:
        back = flush["all_back"]
        lines.append(f"  a loss no hook reports ({flush['aliases']} aliases deleted by "
                     f"ip -batch): all back after {_ms(back['median_ms'])} ms (median of "
                     f"{back['runs']}, {_ms(back['min_ms'])}-{_ms(back['max_ms'])}); "
                     "without a watcher: never")
    idle, started = watcher.get("idle"), watcher.get("started")
    if idle and started:
        lines.append(f"  memory: {started['rss_mb']:.1f} MB resident once started, "
                     f"{idle['peak_rss_mb']:.1f} MB at its peak; CPU while idle: "
                     f"{idle['cpu_ms']:.0f} ms in {idle['seconds']:.0f} s")
    return lines


def _get(data: Dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _target(name: str, measured: Any, shown: str, limit: str,
            ok: Callable[[Any], bool]) -> Dict[str, Any]:
    status = "n/a" if measured is None else ("PASS" if ok(measured) else "MISS")
    return {"target": name, "measured": measured, "shown": shown if measured is not None
            else "not measured", "limit": limit, "status": status}


def targets(results: Dict[str, Any]) -> List[Dict[str, Any]]:
    big = _get(results, "scale", "sizes", "1000", "ratios") or {}
    noop = _get(results, "noop", "10", "ratios", "nethook_over_python_imports")
    irrelevant = _get(results, "irrelevant", "ratios") or {}
    outage = _get(results, "outage", "variants", "nethook", "all_aliases_back", "median_ms")
    memory = _get(results, "scale", "memory")
    watcher = _get(results, "watcher", "sizes", "1000", "ratio")
    rss_mb = (memory["peak_kib"] * 1024 / 1e6
              if memory and memory.get("n") == 1000 else None)
    found = [
        _target("restore N=1000, fresh process: nethook / ip -batch",
                big.get("nethook_over_batch"), _x(big.get("nethook_over_batch")), "<= 10x",
                lambda v: v <= 10),
        _target("restore N=1000, fresh process: shell loop / nethook",
                big.get("loop_over_nethook"), _x(big.get("loop_over_nethook")), ">= 4x",
                lambda v: v >= 4),
        _target("restore N=1000 by the resident watcher: watcher / ip -batch", watcher,
                _x(watcher), "<= 3x", lambda v: v <= 3),
        _target("no-op N=10: nethook / (python + needed imports)", noop, _x(noop),
                "<= 1.5x", lambda v: v <= 1.5),
    ]
    for name, label in (("enter_preinit", "irrelevant: dhclient enter shim PREINIT / sh -c :"),
                        ("exit_preinit", "irrelevant: dhclient exit shim PREINIT / sh -c :"),
                        ("nm_hostname", "irrelevant: NM shim hostname / sh -c :")):
        found.append(_target(label, irrelevant.get(name), _x(irrelevant.get(name)), "<= 3x",
                             lambda v: v <= 3))
    found.append(_target("outage window, 10 aliases, real dhclient (median)", outage,
                         f"{_ms(outage)} ms", "< 250 ms", lambda v: v < 250))
    found.append(_target("peak RSS of the N=1000 restore", rss_mb,
                         f"{rss_mb:.1f} MB" if rss_mb is not None else "", "< 60 MB",
                         lambda v: v < 60))
    return found


def target_lines(found: List[Dict[str, Any]]) -> List[str]:
    lines = ["Targets (issue 8)"]
    for entry in found:
        lines.append(f"  {entry['status']:<4}  {entry['target']:<62} {entry['shown']:>10}"
                     f"  (target {entry['limit']})")
    return lines


def render(results: Dict[str, Any]) -> str:
    machine = results["machine"]
    out = [f"nethook benchmark, {machine_line(machine)}",
           f"1-minute load average {machine.get('loadavg_start')} before, "
           f"{machine.get('loadavg_end')} after (the benchmark itself adds about 1)", ""]
    sections: List[List[str]] = []
    if results.get("scale"):
        sections.append(scale_lines(results["scale"]))
    if results.get("noop"):
        sections.append(noop_lines(results["noop"], results.get("importtime")))
    if results.get("phases"):
        sections.append(phase_lines(results["phases"]))
    if results.get("irrelevant"):
        sections.append(irrelevant_lines(results["irrelevant"]))
    if results.get("watcher"):
        sections.append(watcher_lines(results["watcher"]))
    if results.get("outage"):
        sections.append(outage_lines(results["outage"]))
    if (results.get("scale") or {}).get("memory"):
        sections.append(memory_lines(results["scale"]["memory"]))
    sections.append(target_lines(results["targets"]))
    for name, error in (results.get("errors") or {}).items():
        sections.append([f"could not run {name}: {error}"])
    for section in sections:
        out.extend(section)
        out.append("")
    return "\n".join(out)

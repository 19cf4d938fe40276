"""The benchmark's scale part runs, restores for real and reports well-formed results.

A smoke test of ``bench/`` (``make bench``), not a timed test: no figure is compared with
anything. N = 10 with one repetition, in the benchmark's own namespace (``nhb-*``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, List, Set, Tuple

import pytest

from lab.netns import require

REPO = Path(__file__).resolve().parents[2]
if not (REPO / "bench" / "run.py").is_file():  # e.g. Debian's pybuild copies only tests/
    pytest.skip("bench/ is not in this tree", allow_module_level=True)

from bench.sandbox import GATEWAY, IFNAME, Sandbox, missing_requirements  # noqa: E402
from bench.scale import METHODS, prepare, restore_once, run_scale  # noqa: E402
from bench.workload import Workload  # noqa: E402

pytestmark = pytest.mark.privileged


def _is_duration(value: Any) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value > 0


def _addresses(sandbox: Sandbox) -> Set[Tuple[str, str]]:
    links: List[Dict[str, Any]] = sandbox.ip_json("-4", "address", "show", "dev", IFNAME)
    return {(f"{a['local']}/{a['prefixlen']}", a["label"])
            for link in links for a in link["addr_info"] if a.get("secondary")}


def _rules(sandbox: Sandbox) -> Set[Tuple[int, str, str]]:
    return {(r["priority"], r.get("src", ""), r["table"])
            for r in sandbox.ip_json("-4", "rule", "show") if r["priority"] >= 1000
            and r["priority"] < 32766}


def _routes(sandbox: Sandbox) -> Set[Tuple[str, str, str, str]]:
    return {(r["dst"], r.get("gateway", ""), r.get("dev", ""), r["table"])
            for r in sandbox.ip_json("-4", "route", "show", "table", "all")
            if r.get("table") not in ("local", "main", None)}


def test_scale_part_reports_converged_runs_and_nethook_restores_for_real() -> None:
    problem = missing_requirements()
    if problem:
        require(problem)
    with Sandbox() as sandbox:
        result = run_scale(sandbox, [10], 1, lambda line: None)

        json.loads(json.dumps(result))  # what run.py writes must serialise
        size = result["sizes"]["10"]
        assert (size["addresses"], size["rules"], size["routes"], size["objects"]) == \
            (10, 1, 1, 12)
        for method in METHODS:
            entry = size["methods"][method]
            assert entry["runs"] == 1 and len(entry["samples"]) == 1
            assert _is_duration(entry["median_ms"])
            [sample] = entry["samples"]
            assert sample["status"] == 0
            assert sample["converged"], (method, sample["problems"])
            assert sample["maxrss_kib"] > 0
        assert all(_is_duration(v) for v in size["ratios"].values())
        assert size["methods"]["nethook"]["samples"][0]["journal"]["ops"] == 12
        assert result["memory"]["n"] == 10 and result["memory"]["peak_kib"] > 0

        # Read back with ip -j, independently of the benchmark's own check: nethook's
        # hook restored every alias (with its label), the rule and the table route.
        workload = Workload(10)
        files = prepare(sandbox, workload)
        sample = restore_once(sandbox, workload, files, "nethook")
        assert sample["converged"] and sample["journal"]["failed"] == 0
        assert _addresses(sandbox) == {(f"10.88.1.{i + 1}/16", f"eth0:{i}") for i in range(10)}
        assert _rules(sandbox) == {(1000, "10.88.1.1", "1000")}
        assert _routes(sandbox) == {("default", GATEWAY, IFNAME, "1000")}


def test_make_bench_runs_every_part_and_prints_one_table(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    """``make bench`` with the smallest sizes and one run of everything, the DHCP lab
    included: every part runs, every sample converges, and the table has its rows."""
    problem = missing_requirements()
    if problem:
        pytest.skip(problem)
    from bench.run import main

    out = tmp_path / "latest.json"
    status = main(["--sizes", "10,20", "--runs", "1", "--noop-sizes", "10", "--noop-runs", "1",
                   "--irrelevant-runs", "1", "--watcher-sizes", "10", "--watcher-runs", "1",
                   "--outage-runs", "1", "--quiet", "--out", str(out)])
    results = json.loads(out.read_text())
    assert results["errors"] == {}
    assert status == 0

    scale = results["scale"]
    assert all(m["converged"] for size in scale["sizes"].values()
               for m in size["methods"].values())
    assert all(scale["configuration_cached"])  # every timed run read the cache
    assert set(scale["cost"]["nethook"]) >= {"fixed_ms", "per_address_us"}
    assert results["watcher"]["sizes"]["10"]["methods"]["watcher"]["converged"]
    assert set(results["outage"]["variants"]) == {"nethook", "watcher", "floor"}
    assert {t["status"] for t in results["targets"]} <= {"PASS", "MISS", "n/a"}

    table = capsys.readouterr().out
    for row in ("restore N=20 (24 objects), fresh process", "fixed cost, CPU ms",
                "per address, CPU us", "no-op RENEW N=10", "irrelevant: RHEL dhclient.d shim",
                "irrelevant: networkd shim, degraded", "watcher restore N=10",
                "outage window, dhclient renumbering, 10 aliases", "peak RSS N=20"):
        assert row in table, row

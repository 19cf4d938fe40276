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

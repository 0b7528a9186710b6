"""The benchmark harness, run end to end on a few cheap scenarios, so it cannot rot unseen.

It runs `python -m bench --quick` as `make bench-quick` does, with tiny
durations: Threadline and the empty server under ghz (gRPC) and vegeta (HTTP),
a seeded large store, and one run's events to a reader. The numbers are not
checked (the machine may be busy); that every system was measured, with
calls that succeeded, and that the results say what ran, is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.toolchain

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(150)
def test_quick_bench_measures_every_system_it_names(tmp_path: Path):
    out = tmp_path / "results"
    command = [
        sys.executable,
        "-m",
        "bench",
        "--quick",
        "--scenarios",
        "get-thread,http-get-thread,large-get-thread,events",
        "--rounds",
        "1",
        "--warmup",
        "0.2",
        "--duration",
        "0.5",
        "--threads",
        "100",
        "--messages",
        "1000",
        "--big-thread-messages",
        "200",
        "--readers",
        "0,1",
        "--words",
        "50",
        "--store-dir",
        str(tmp_path / "stores"),
        "--out",
        str(out),
    ]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=140, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| GetThread | Threadline |" in done.stdout, done.stdout

    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    scenarios = {scenario["key"]: scenario for scenario in results["scenarios"]}
    assert set(scenarios) == {"get-thread", "http-get-thread", "large-get-thread"}
    for scenario in scenarios.values():
        for row in scenario["rows"]:
            where = f"{scenario['title']} / {row['label']}"
            assert not row["failure"], f"{where}: {row['failure']}"
            assert row["calls_per_s"] > 0, where
            assert row["errors"] == 0, f"{where}: {row['error_sample']}"
            assert row["p99_ms"] >= row["p50_ms"] > 0, where
            assert row["peak_rss_mib"] > 0, where
            assert row["cpu_s_per_1k_calls"] > 0, where
        (subject, other) = scenario["rows"]
        assert subject["threadline_over_this"] is None
        assert other["threadline_over_this"] == pytest.approx(
            subject["calls_per_s"] / other["calls_per_s"]
        )
    assert scenarios["get-thread"]["rows"][1]["label"] == "empty grpc.aio (limit)"

    assert results["large_store"]["threads"] == 100
    assert results["large_store"]["messages"] == 1000
    events = results["events"]["rows"]
    assert [row["readers"] for row in events] == [0, 1]
    assert events[1]["all_readers_got_every_event"]
    assert events[1]["server_peak_rss_mib"] > 0

    versions = results["versions"]
    assert versions["ghz"].startswith("v")
    assert versions["vegeta"].startswith("v")
    assert versions["sqlite"]
    assert versions["threadline_commit"] != "unknown"
    assert (out / "table.md").read_text(encoding="utf-8").startswith("Threadline benchmark")


@pytest.mark.timeout(120)
def test_local_cost_measures_each_rpc_in_process():
    command = [
        sys.executable,
        "bench/local_cost.py",
        "--rpc",
        "get",
        "--rpc",
        "list",
        "--rpc",
        "create-thread",
        "--calls",
        "20",
    ]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=100, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["get", "list", "create-thread"]
    for line in lines:
        assert float(line.split()[1]) > 0, line


@pytest.mark.timeout(150)
def test_grpc_cost_measures_every_variant_against_the_first(counts):
    variants = ["limit", "registered", "interceptors", "log", "threadline"]
    command = [sys.executable, "bench/grpc_cost.py", "--rpc", "get", "--rpc", "list"]
    for variant in variants:
        command += ["--variant", variant]
    # Long enough that a busy machine still completes calls in each window.
    command += ["--rounds", "1", "--seconds", "1.5", "--warmup", "0.3"]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=140, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split(" | ") for line in done.stdout.splitlines() if line.startswith("| get")]
    rows += [line.split(" | ") for line in done.stdout.splitlines() if line.startswith("| list")]
    assert [(row[0].strip("| "), row[1]) for row in rows] == [
        (rpc, variant) for rpc in ("get", "list") for variant in variants
    ], done.stdout
    # A window of a busy machine may see no call finish; a variant that works
    # has calls in one of its two windows at least, and CPU where it had calls.
    for variant in variants:
        measured = [row for row in rows if row[1] == variant and float(row[2]) > 0]
        assert measured, f"no call of {variant} succeeded:\n{done.stdout}\n{done.stderr[-2000:]}"
        assert all(float(row[3]) > 0 for row in measured), f"no server CPU measured: {measured}"
    first = [row for row in rows if row[1] == "limit"]
    assert all(row[4] == "100%" and row[5].startswith("1.00") for row in first), first
    counts(f"grpc_cost: {len(rows)} rows, {len(variants)} variants, calls/s of each measured")

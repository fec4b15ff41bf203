"""The benchmark suite runs end to end and reports every figure; no timing is asserted here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.clients import Arrival
from bench.figures import Settings, fanout_configs, match_latencies, write_patch
from bench.stats import distribution, percentile, ratio, summary
from live.patch import load_patch
from tests.conftest import ROOT

SUMMARY = {"median", "min", "max", "n"}
DISTRIBUTION = {"median", "p10", "p90", "p99", "max", "n"}


@pytest.fixture(scope="module")
def report() -> dict:
    """One smoke run of the whole suite on small sizes: every figure, a few seconds each."""
    cmd = [sys.executable, "-m", "bench", "--smoke", "--json", "--overhead", "64x1",
           "--startup-repeats", "1"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert "livegen bench" in proc.stdout and "targets:" in proc.stdout  # the table came first
    return json.loads(lines[-1])


def test_machine_and_run_info(report: dict) -> None:
    m = report["machine"]
    assert {"cpu", "cores", "python", "torch", "gpu", "device", "commit", "load_avg",
            "load_avg_after"} <= set(m)
    assert m["device"] == "cpu" and m["cores"] >= 1
    assert {"mode", "engine_threads", "window_s", "repeats", "model", "time", "elapsed_s"} <= set(report)
    assert "errors" not in report, report.get("errors")


def test_overhead_fields(report: dict) -> None:
    (row,) = report["overhead"]
    assert (row["resolution"], row["streams"]) == (64, 1)
    ours, naive = row["livegen"], row["naive"]
    for key in ("bare_fps", "fps", "fps_stalled", "ratio", "ratio_stalled"):
        assert set(ours[key]) == SUMMARY and ours[key]["n"] >= 1, key
    assert ours["fps"]["median"] > 0 and ours["bare_fps"]["median"] > 0
    assert {"rss_mib", "startup_s", "ceiling_fps", "ratio_to_ceiling", "stalled_backlog",
            "loop_round_trip_ms", "bare_cpu_ms", "server_cpu_ms", "busiest_thread_cpu_ms"} <= set(ours)
    assert set(ours["loop_round_trip_ms"]) == DISTRIBUTION and ours["loop_round_trip_ms"]["n"] > 0
    assert {"fps", "fps_stalled", "ratio", "ratio_stalled", "rss_mib"} <= set(naive)
    assert set(row["vs_naive"]) == {"fps", "fps_stalled"}


def test_fanout_fields(report: dict) -> None:
    fan = report["fanout"]
    for server in ("livegen", "naive"):
        configs = fan[server]["configs"]
        assert set(configs) == {"1", "4", "4 (1 stalled)"}
        for c in configs.values():
            assert {"fps", "worst_fps", "worst_vs_single", "rss_mib", "loop_round_trip_ms"} == set(c)
            assert all(set(v) == SUMMARY for k, v in c.items() if k != "loop_round_trip_ms")
            assert set(c["loop_round_trip_ms"]) == DISTRIBUTION
        assert all(c["loop_round_trip_ms"]["n"] > 0 for c in fan["livegen"]["configs"].values())
    assert fan["livegen"]["configs"]["4 (1 stalled)"]["fps"]["median"] > 0  # the others still get frames
    assert set(fan["vs_naive"]) == {"1", "4", "4 (1 stalled)"}


def test_latency_fields(report: dict) -> None:
    lat = report["latency"]
    for server in ("livegen", "naive"):
        for key in ("alone", "stalled"):
            one = lat[server][key]
            assert {"fps", "frame_interval_ms", "messages", "matched", "all_applied"} <= set(one)
            for d in ("rendered_ms", "received_ms", "rendered_frames", "received_frames"):
                assert set(one[d]) == DISTRIBUTION
    ours = lat["livegen"]["alone"]
    assert ours["matched"] == ours["messages"] and ours["all_applied"]
    assert set(lat["vs_naive"]) == {"alone", "stalled"}


def test_threads_startup_notes_targets(report: dict) -> None:
    assert set(report["threads"]["threads"]) >= {str(report["engine_threads"])}
    st = report["startup"]
    assert set(st["ready_s"]) == SUMMARY and st["exit_codes"] == [0]
    assert report["note_timing"]["status"] == "ok", report["note_timing"]
    assert {"server_abs_send_minus_due_ms", "receiver_abs_arrival_minus_due_ms"} <= set(report["note_timing"])
    names = [t["name"] for t in report["targets"]]
    assert any(n.startswith("overhead") for n in names)
    assert any(n.startswith("fan-out") for n in names)
    assert any(n.startswith("latency") for n in names)
    assert any(n.startswith("start-up") for n in names)
    assert all({"name", "value", "target", "ok"} == set(t) for t in report["targets"])


# -- pieces, without servers ------------------------------------------------------------------

def test_stats() -> None:
    assert summary([3.0, 1.0, None, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3}
    assert summary([None])["median"] is None
    assert percentile([1, 2, 3, 4, 5], 50) == 3 and percentile([0, 10], 99) == pytest.approx(9.9)
    assert distribution([])["n"] == 0 and distribution([1.0])["p99"] == 1.0
    assert ratio(1, 0) is None and ratio(None, 2) is None and ratio(1, 4) == 0.25


def test_match_latencies_takes_first_frame_with_the_stamp() -> None:
    arrivals = [Arrival(10.00, 0, 0, 5, 9_990_000), Arrival(10.02, 0, 1, 6, 10_015_000),
                Arrival(10.04, 0, 2, 6, 10_035_000), Arrival(10.06, 0, 3, 8, 10_055_000)]
    rendered, received = match_latencies([10.005, 10.03, 10.031, 10.07], 5, arrivals)
    assert received == pytest.approx([0.015, 0.03, 0.029])  # the 4th message has no frame yet
    assert rendered == pytest.approx([0.010, 0.025, 0.024])


def test_fanout_configs_and_patch(tmp_path) -> None:
    s = Settings(fanout=(1, 8, 32), tmp=tmp_path)
    assert fanout_configs(s) == [(1, 0), (8, 0), (32, 0), (7, 1), (31, 1)]
    patch = load_patch(write_patch(s, 128, 240.0, streams=3))
    assert list(patch.voices) == ["visual", "visual2", "visual3"]
    assert {v["resolution"] for v in patch.voices.values()} == {128}

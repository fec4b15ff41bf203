"""The benchmark suite runs end to end and reports every figure; no timing is asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from bench.clients import Arrival
from bench.figures import Settings, fanout_configs, match_latencies, write_patch
from bench.stats import distribution, percentile, ratio, summary
from live.accel import Accelerator
from live.engine import to_pixels
from live.patch import load_patch
from live.visual import load_generator
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


def test_accelerator_eager_path_matches_engine() -> None:
    """live.accel off CUDA: eager, unpinned; same pixels as the engine's CPU path, to a level or two."""
    spec = {"model": "random", "resolution": 64, "seed": 1}
    reference, _ = load_generator(spec, torch.device("cpu"))
    accel = Accelerator(torch.device("cpu"))
    z = np.random.default_rng(0).standard_normal((2, 128)).astype(np.float32)
    with torch.inference_mode():  # as on the engine thread: the model's tensors are inference tensors
        model, _ = load_generator(spec, torch.device("cpu"))
        model(torch.zeros(1, 128))
        accel.prepare("g", model)
        images = accel.forward("g", z)
        host = accel.to_host(images)
        expected = to_pixels(reference(torch.from_numpy(z)))
    assert images.dtype == torch.uint8 and tuple(images.shape) == (2, 3, 64, 64)
    assert host.shape == (2, 64, 64, 3)
    assert np.abs(host.astype(int) - expected.astype(int)).max() <= 8
    assert accel.encode_jpeg(images, [85, None]) is None  # no GPU JPEG here: the CPU pool encodes


class FakeStream:
    """A stream of the engine's protocol that records what it is given."""

    def __init__(self, quality: int | None, stamp: int) -> None:
        self.model = "random"
        self.next_due = 0.0
        self.quality = quality
        self.stamp = stamp
        self.got: list[tuple] = []

    def latent(self, now: float) -> tuple[np.ndarray, int]:
        return np.random.default_rng(self.stamp).standard_normal(128).astype(np.float32), self.stamp

    def jpeg_quality(self) -> int | None:
        return self.quality

    def deliver(self, pixels: np.ndarray, stamp: int, render_us: int) -> None:
        self.got.append(("pixels", pixels, stamp))

    def deliver_jpeg(self, payload: bytes, size: tuple[int, int], stamp: int, render_us: int) -> None:
        self.got.append(("jpeg", payload, size, stamp))


def test_engine_accelerated_render_path() -> None:
    """The engine's CUDA path, run on the CPU: GPU JPEG where a stream wants JPEG, else pixels."""
    import io

    from PIL import Image

    from live.engine import Engine

    def fake_gpu_jpeg(images: list[torch.Tensor], quality: int) -> list[torch.Tensor]:
        out = []
        for img in images:
            buf = io.BytesIO()
            Image.fromarray(img.permute(1, 2, 0).numpy(), "RGB").save(buf, "JPEG", quality=quality)
            out.append(torch.frombuffer(bytearray(buf.getvalue()), dtype=torch.uint8))
        return out

    engine = Engine(torch.device("cpu"))
    engine.accel = Accelerator(torch.device("cpu"))
    jpeg, raw = FakeStream(85, 3), FakeStream(None, 4)
    with torch.inference_mode():
        model, _ = load_generator({"model": "random", "resolution": 64}, torch.device("cpu"))
        engine.models["random"] = engine.accel.prepare("random", model)
        engine._render([jpeg, raw], 0.0)  # no GPU JPEG here: both get pixels
        assert [g[0] for g in jpeg.got + raw.got] == ["pixels", "pixels"]
        engine.accel.jpeg = fake_gpu_jpeg
        engine._render([jpeg, raw], 0.0)
    kind, payload, size, stamp = jpeg.got[-1]
    assert (kind, size, stamp) == ("jpeg", (64, 64), 3)
    assert Image.open(io.BytesIO(payload)).size == (64, 64)
    kind, pixels, stamp = raw.got[-1]
    assert kind == "pixels" and pixels.shape == (64, 64, 3) and stamp == 4
    assert engine.batch["random"] == 2


def test_engine_installs_through_accel_on_its_thread(monkeypatch) -> None:
    """Engine.install on "CUDA" (here an accelerator on the CPU): load, warm, install and render
    on the engine thread, in inference mode, as visual voices do."""
    import live.accel
    from live.engine import Engine

    monkeypatch.setattr(live.accel, "Accelerator", lambda device: Accelerator(torch.device("cpu")))
    engine = Engine(torch.device("cpu"))
    engine.device = torch.device("cuda")  # only install() and _render() look at it here

    def load() -> None:
        model, card = load_generator({"model": "random", "resolution": 64}, torch.device("cpu"))
        model(torch.zeros(1, 128))  # warm-up, as VisualVoice.load does
        engine.install("random", model, card)

    engine.start()
    try:
        engine.call(load).result(timeout=60)
        assert engine.accel is not None and engine.accel.half["random"] in (True, False)
        stream = FakeStream(None, 9)
        engine.add_stream(stream)
        deadline = time.monotonic() + 30
        while len(stream.got) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        engine.stop()
    assert len(stream.got) >= 3
    kind, pixels, stamp = stream.got[0]
    assert kind == "pixels" and pixels.shape == (64, 64, 3) and pixels.dtype == np.uint8 and stamp == 9

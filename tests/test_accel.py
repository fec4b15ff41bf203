"""live.accel and the engine's accelerated path: on the CPU always, on CUDA where there is one."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from live.accel import Accelerator
from live.engine import Engine, to_pixels
from live.voices.visual import load_generator
from tests.conftest import poll_until

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="no CUDA device here (bench/gpu.sh runs these on one)")


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
        launched = accel.launch("g", z)
        assert launched.wait() == 0.0  # off CUDA the pass has already run
        images = launched.pixels
        host = accel.to_host(images)
        expected = to_pixels(reference(torch.from_numpy(z)))
    assert images.dtype == torch.uint8 and tuple(images.shape) == (2, 3, 64, 64)
    assert host.shape == (2, 64, 64, 3)
    assert np.abs(host.astype(int) - expected.astype(int)).max() <= 8
    assert accel.encode_jpeg(images, [85, None]) is None  # no GPU JPEG here: the CPU pool encodes


class FakeStream:
    """A stream of the engine's protocol that records what it is given."""

    def __init__(self, quality: int | None, stamp: int) -> None:
        self.engine_key = "random"
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
        engine.wait_finished()  # delivered by the finisher thread
        assert [g[0] for g in jpeg.got + raw.got] == ["pixels", "pixels"]
        engine.accel.jpeg = fake_gpu_jpeg
        engine._render([jpeg, raw], 0.0)
        engine.wait_finished()
    engine.stop()
    assert engine._finisher is not None and not engine._finisher.is_alive()
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
        poll_until(lambda: len(stream.got) >= 3, 30)
    finally:
        engine.stop()
    assert len(stream.got) >= 3
    kind, pixels, stamp = stream.got[0]
    assert kind == "pixels" and pixels.shape == (64, 64, 3) and pixels.dtype == np.uint8 and stamp == 9


class CountingStream(FakeStream):
    """A new latent every frame, its number as the stamp: each image can be checked against it."""

    def __init__(self, quality: int | None) -> None:
        super().__init__(quality, 0)
        self.latents: dict[int, np.ndarray] = {}

    def latent(self, now: float) -> tuple[np.ndarray, int]:
        n = len(self.latents)
        self.latents[n] = np.random.default_rng(1000 + n).standard_normal(128).astype(np.float32)
        return self.latents[n], n


@needs_cuda
def test_cuda_pipeline_delivers_each_frame_from_its_own_latent() -> None:
    """Launched passes overlap with finishing the last ones: every image still matches the eager
    float32 image of the latent it was launched with (no buffer is reused too early)."""
    spec = {"model": "random", "resolution": 64, "seed": 2}
    reference, _ = load_generator(spec, torch.device("cpu"))
    engine = Engine(torch.device("cuda"))

    def load() -> None:
        model, card = load_generator(spec, engine.device)
        model(torch.zeros(1, 128, device=engine.device))
        engine.install("random", model, card)

    raw, jpeg = CountingStream(None), CountingStream(95)
    engine.start()
    try:
        engine.call(load).result(timeout=120)
        assert engine.accel is not None, "the CUDA path did not install"
        engine.add_stream(raw)
        engine.add_stream(jpeg)
        poll_until(lambda: min(len(raw.got), len(jpeg.got)) >= 40, 60)
    finally:
        engine.stop()
    assert min(len(raw.got), len(jpeg.got)) >= 40
    assert engine.forward_s["random"] > 0  # device time from the events around the pass
    stamps = [g[-1] for g in raw.got]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    for kind, pixels, stamp in raw.got:
        expected = to_pixels(reference(torch.from_numpy(raw.latents[stamp][None])))[0]
        assert kind == "pixels" and np.abs(pixels.astype(int) - expected.astype(int)).max() <= 8, stamp
    for kind, payload, size, stamp in jpeg.got:
        expected = to_pixels(reference(torch.from_numpy(jpeg.latents[stamp][None])))[0]
        decoded = np.asarray(Image.open(io.BytesIO(payload)).convert("RGB"))
        assert kind == "jpeg" and size == (64, 64)
        assert np.abs(decoded.astype(float) - expected).mean() < 6, stamp  # JPEG q95 + float16

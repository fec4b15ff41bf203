"""The engine on the CPU: a generator traced into one call that returns pixels, rendered on its thread."""

from __future__ import annotations

import numpy as np
import torch

from live.engine import Engine, TracedGenerator, to_pixels, trace_generator
from live.voices.visual import load_generator
from tests.conftest import poll_until


def untrained(resolution: int = 64) -> torch.nn.Module:
    model, _ = load_generator({"model": "random", "resolution": resolution, "seed": 3}, torch.device("cpu"))
    return model


def test_traced_generator_returns_the_eager_pixels() -> None:
    model = untrained()
    z = torch.randn(2, 128, generator=torch.Generator().manual_seed(1))
    traced = trace_generator("g", model, pixels=True)
    assert isinstance(traced, TracedGenerator) and traced.returns_pixels
    with torch.inference_mode():
        got = traced(z)
        want = to_pixels(model(z))
    assert got.dtype == torch.uint8 and tuple(got.shape) == (2, 64, 64, 3)
    assert np.abs(got.numpy().astype(int) - want.astype(int)).max() <= 1
    plain = trace_generator("g", model)  # the bench's bare forward: the network alone
    assert not plain.returns_pixels and tuple(plain(z).shape) == (2, 3, 64, 64)


class Stream:
    """One stream of the engine's protocol with a fixed latent; records what it is given."""

    engine_key = "g"

    def __init__(self) -> None:
        self.next_due = 0.0
        self.z = np.random.default_rng(5).standard_normal(128).astype(np.float32)
        self.got: list[np.ndarray] = []

    def latent(self, now: float) -> tuple[np.ndarray, int]:
        self.next_due = now + 0.01
        return self.z, len(self.got)

    def deliver(self, pixels: np.ndarray, stamp: int, render_us: int) -> None:
        self.got.append(pixels)


def test_engine_renders_traced_pixels_on_its_thread() -> None:
    model = untrained()
    engine = Engine(torch.device("cpu"), threads=1)
    stream = Stream()
    engine.start()
    try:
        engine.call(lambda: engine.install("g", model, {"name": "random"})).result(timeout=60)
        assert getattr(engine.models["g"], "returns_pixels", False)  # traced, pixels inside
        engine.add_stream(stream)
        poll_until(lambda: len(stream.got) >= 3, 30)
    finally:
        engine.stop()
    assert len(stream.got) >= 3
    with torch.inference_mode():
        want = to_pixels(model(torch.from_numpy(stream.z[None])))[0]
    for image in stream.got:
        assert image.shape == (64, 64, 3) and image.dtype == np.uint8
        assert np.abs(image.astype(int) - want.astype(int)).max() <= 1
    assert engine.forward_s["g"] > 0 and engine.batch["g"] == 1

"""The bare generator forward pass: the ceiling that the server's delivered frame rate is held to."""

from __future__ import annotations

import time

import torch

from live.engine import trace_generator
from live.voices.visual import load_generator


class BareForward:
    """The same generator the server runs (same weights or untrained, same size), timed alone."""

    def __init__(self, resolution: int, batch: int, device: str, nz: int = 128,
                 model_name: str = "random") -> None:
        self.device = torch.device(device)
        self.batch = batch
        self.resolution = resolution
        self.cpu_ms_per_frame = float("nan")  # of the last measure(): process CPU per frame
        spec = {"model": model_name, "resolution": resolution, "nz": nz, "seed": 0}
        model, _ = load_generator(spec, self.device)
        self.resolution = model.cfg.resolution  # a shipped model's card says its size
        nz = model.cfg.nz
        self.z = torch.randn(batch, nz, device=self.device)
        if self.device.type == "cuda":
            from live.accel import Accelerator
            self.run = Accelerator(self.device).bare_runner(model, batch)
        else:
            model = trace_generator("bare", model)  # the same TorchScript call the engine makes
            self.run = lambda: model(self.z)

    def measure(self, seconds: float, threads: int | None = None) -> float:
        """Frames per second (forward passes x batch) over about `seconds`; blocks the caller."""
        if threads:
            torch.set_num_threads(threads)
        with torch.inference_mode():
            for _ in range(3):
                self.run()
            self._sync()
            n = 0
            c0 = time.process_time()
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                self.run()
                n += 1
                if self.device.type == "cuda" and n % 16 == 0:
                    self._sync()
            self._sync()
            elapsed = time.perf_counter() - t0
            self.cpu_ms_per_frame = (time.process_time() - c0) * 1000 / (n * self.batch)
        return n * self.batch / elapsed

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

"""GPU specifics for the engine: half precision, CUDA graphs, pinned host buffers and GPU JPEG.

Used only when the engine's device is CUDA; the CPU path never imports anything from here.
The engine thread launches forward passes on a stream of its own and never waits for them; the
engine's finisher thread waits for each one, then encodes or copies it (encode_jpeg, to_host).
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from live.engine import latent_size

log = logging.getLogger("livegen.accel")

HALF_TOLERANCE = 4 / 255  # largest change half precision may make to an output in [-1, 1]
WARMUP_STEPS = 3


def half_is_safe(model: torch.nn.Module, nz: int, device: torch.device) -> bool:
    """Whether the model in float16 gives the same images as in float32, to a few levels of 255."""
    try:
        z = torch.randn(4, nz, device=device, generator=torch.Generator(device).manual_seed(0))
        with torch.inference_mode():
            ref = model(z).float()
            test = copy.deepcopy(model).half()(z.half()).float()
        return bool(torch.isfinite(test).all()) and float((test - ref).abs().max()) <= HALF_TOLERANCE
    except Exception as e:  # some layer without a half kernel: stay in float32
        log.info("half precision refused: %s", e)
        return False


def gpu_jpeg_encoder() -> Callable[[list[torch.Tensor], int], list[torch.Tensor]] | None:
    """torchvision.io.encode_jpeg if it can encode CUDA tensors here, else None."""
    try:
        from torchvision.io import encode_jpeg
    except Exception as e:  # absent, or built for another torch or CUDA
        log.info("GPU JPEG unavailable (torchvision: %s); frames are encoded on the CPU", e)
        return None
    try:
        probe = torch.zeros(3, 16, 16, dtype=torch.uint8, device="cuda")
        torch.cuda.synchronize()
        encode_jpeg([probe], quality=80)
    except Exception as e:
        log.info("GPU JPEG unavailable (%s); frames are encoded on the CPU", e)
        return None
    return encode_jpeg


@dataclass
class Graph:
    """One captured forward pass for a batch size: static input, static uint8 output."""

    graph: torch.cuda.CUDAGraph | None
    z: torch.Tensor  # (B, nz) float32 on the device
    pixels: torch.Tensor  # (B, 3, H, W) uint8 on the device
    run: Callable[[], None]


@dataclass
class Launched:
    """A forward pass queued on the device: its own copy of the output and events around it."""

    pixels: torch.Tensor  # (B, 3, H, W) uint8 on the device
    start: torch.cuda.Event | None  # None off CUDA, where the pass has already run
    end: torch.cuda.Event | None

    def wait(self) -> float:
        """Block until the pass has run (other threads go on); its device time in seconds."""
        if self.start is None or self.end is None:
            return 0.0
        self.end.synchronize()
        return self.start.elapsed_time(self.end) / 1000


class Accelerator:
    """Prepares generators for a CUDA device and runs them with as little host work as possible."""

    def __init__(self, device: torch.device, graphs: bool = True) -> None:
        self.device = device
        self.cuda = device.type == "cuda"  # elsewhere (tests) it runs eagerly, unpinned
        self.use_graphs = graphs and self.cuda
        if self.cuda:
            # Forward passes run on a non-blocking stream of this thread's own: torchvision's
            # GPU JPEG synchronises the legacy default stream before each image, and would
            # otherwise wait for the forward pass launched after the one it encodes. Highest
            # priority: the GPU schedules the forward's blocks before the JPEG encoder's.
            torch.cuda.set_stream(torch.cuda.Stream(device, priority=-100))
        self.half: dict[str, bool] = {}
        self.models: dict[str, torch.nn.Module] = {}
        self._graphs: dict[tuple[str, int], Graph] = {}
        self._host: dict[tuple[int, ...], torch.Tensor] = {}
        wanted = os.environ.get("LIVEGEN_GPU_JPEG", "1") != "0"  # 0: encode on the CPU pool
        self.jpeg = gpu_jpeg_encoder() if self.cuda and wanted else None
        torch.backends.cudnn.benchmark = True

    def prepare(self, name: str, model: torch.nn.Module) -> torch.nn.Module:
        """Move to the device, halve where safe, capture the batch-1 graph; returns the model."""
        nz = latent_size(model)
        # The engine thread runs in inference mode, so the model's tensors are inference
        # tensors; converted in place to half outside it they would be a broken mix. A copy
        # made outside inference mode has plain tensors throughout.
        with torch.inference_mode(False):
            model = copy.deepcopy(model).to(self.device).eval()  # plain tensors, not inference ones
            self.half[name] = half_is_safe(model, nz, self.device)
            if self.half[name]:
                model.half()
        self.models[name] = model
        self.graph(name, 1)
        log.info("%s on %s: %s, CUDA graphs %s, GPU JPEG %s", name, self.device,
                 "float16" if self.half[name] else "float32", "on" if self.use_graphs else "off",
                 "on" if self.jpeg else "off")
        return model

    def graph(self, name: str, batch: int) -> Graph:
        """The captured forward pass of this model at this batch size (captured on first use)."""
        key = (name, batch)
        if key not in self._graphs:
            self._graphs[key] = self._capture(self.models[name], batch, self.half[name])
        return self._graphs[key]

    def _capture(self, model: torch.nn.Module, batch: int, half: bool) -> Graph:
        nz = latent_size(model)
        z = torch.zeros(batch, nz, device=self.device)
        dtype = torch.float16 if half else torch.float32
        holder: dict[str, torch.Tensor] = {}

        def step() -> None:
            out = model(z.to(dtype))
            holder["pixels"] = out.float().mul_(127.5).add_(127.5).clamp_(0, 255).to(torch.uint8)

        with torch.inference_mode():
            if self.cuda:  # warm up (cuDNN autotuning) on a side stream, as graph capture wants
                side = torch.cuda.Stream(self.device)
                side.wait_stream(torch.cuda.current_stream(self.device))
                with torch.cuda.stream(side):
                    for _ in range(WARMUP_STEPS):
                        step()
                torch.cuda.current_stream(self.device).wait_stream(side)
            else:
                step()
            if self.use_graphs:
                try:
                    g = torch.cuda.CUDAGraph()
                    with torch.cuda.graph(g):
                        step()
                    return Graph(g, z, holder["pixels"], g.replay)
                except Exception as e:
                    log.warning("CUDA graph capture failed (%s); running eagerly", e)
        eager = Graph(None, z, holder["pixels"], step)

        def run() -> None:
            step()
            eager.pixels = holder["pixels"]

        eager.run = run
        return eager

    def launch(self, name: str, latents: np.ndarray) -> Launched:
        """Queue (B, nz) latents -> (B, 3, H, W) uint8 on the device; returns without waiting."""
        g = self.graph(name, latents.shape[0])
        host = torch.from_numpy(latents)
        if self.cuda:  # the caching host allocator keeps this block until the copy has run
            host = host.pin_memory()
        start = end = None
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
        g.z.copy_(host, non_blocking=True)
        g.run()
        # The graph's output buffer is overwritten by the next replay; eager makes a new one.
        pixels = g.pixels.clone() if g.graph is not None else g.pixels
        if end is not None:
            end.record()
        return Launched(pixels, start, end)

    def to_host(self, pixels: torch.Tensor) -> np.ndarray:
        """(B, 3, H, W) uint8 on the device, already computed -> (B, H, W, 3) uint8 numpy."""
        nhwc = pixels.permute(0, 2, 3, 1).contiguous()
        if not self.cuda:
            return nhwc.numpy().copy()
        buf = self._host.get(tuple(nhwc.shape))
        if buf is None:
            buf = self._host[tuple(nhwc.shape)] = torch.empty(nhwc.shape, dtype=torch.uint8).pin_memory()
        buf.copy_(nhwc, non_blocking=True)
        torch.cuda.current_stream(self.device).synchronize()
        return buf.numpy().copy()  # the pinned buffer is reused by the next frame

    def encode_jpeg(self, pixels: torch.Tensor, qualities: list[int | None]) -> list[bytes | None] | None:
        """JPEG-encode on the GPU the images whose quality is given; None when GPU JPEG is off."""
        if self.jpeg is None or not any(q is not None for q in qualities):
            return None
        out: list[bytes | None] = [None] * len(qualities)
        for quality in sorted({q for q in qualities if q is not None}):
            index = [i for i, q in enumerate(qualities) if q == quality]
            try:
                encoded = self.jpeg([pixels[i] for i in index], quality)
            except Exception as e:
                log.warning("GPU JPEG failed (%s); encoding on the CPU from now on", e)
                self.jpeg = None
                return None
            flat = torch.cat(encoded).cpu().numpy().tobytes()  # one copy back for the batch
            offset = 0
            for i, data in zip(index, encoded, strict=True):
                out[i] = flat[offset:offset + data.numel()]
                offset += data.numel()
        return out

    def bare_runner(self, model: torch.nn.Module, batch: int, name: str = "bare") -> Callable[[], None]:
        """The forward pass alone, as the engine runs it (half, graph): for the benchmark."""
        self.prepare(name, model)
        g = self.graph(name, batch)
        with torch.inference_mode():
            g.z.normal_()
        return g.run

"""The engine thread: owns every torch module on one device and runs every forward pass."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from functools import partial
from typing import Any, Protocol

import numpy as np
import torch

log = logging.getLogger("livegen.engine")

# Streams of one model due within this much of each other share a forward pass.
BATCH_WINDOW_S = 0.004
# On CUDA, forward passes launched and not yet finished (encoded, handed to the streams) at most:
# enough to keep the GPU busy while the host finishes the last one, few enough to add no latency.
FINISH_DEPTH = 2


class Stream(Protocol):
    """A periodic renderer (a visual voice) that the engine batches with others of its model."""

    engine_key: str  # the model it renders with, as installed on the engine

    @property
    def next_due(self) -> float:
        """time.monotonic() of its next frame."""

    def latent(self, now: float) -> tuple[np.ndarray, int]:
        """The next frame's latent and the control stamp it reflects; advances the stream."""

    def deliver(self, pixels: np.ndarray, stamp: int, render_us: int) -> None:
        """Take one rendered (H, W, 3) uint8 image."""

    def jpeg_quality(self) -> int | None:
        """The JPEG quality wanted, or None for raw frames (the GPU path may encode for it)."""

    def deliver_jpeg(self, payload: bytes, size: tuple[int, int], stamp: int, render_us: int) -> None:
        """Take one (width, height) frame already JPEG-encoded."""


class Engine:
    """One thread per device. Jobs arrive through newest-wins mailboxes; streams tick on a clock."""

    def __init__(self, device: torch.device, threads: int | None = None) -> None:
        self.device = device
        # LIVEGEN_TORCH_THREADS overrides the app's choice (the benchmark measures both).
        override = os.environ.get("LIVEGEN_TORCH_THREADS", "")
        self.threads = int(override) if override.isdigit() and int(override) > 0 else threads
        self.models: dict[str, torch.nn.Module] = {}
        self.cards: dict[str, dict[str, Any]] = {}  # weights card per model name
        self.streams: list[Stream] = []
        self.forward_s: dict[str, float] = {}  # last forward time per model, for /status
        self.batch: dict[str, int] = {}  # last batch size per model, for /status
        self.accel: Any = None  # live.accel.Accelerator on CUDA, made on this thread at first install
        self._plain: dict[str, torch.nn.Module] = {}  # models as loaded, before acceleration
        self._mailbox: dict[Hashable, tuple[Callable[[], Any], Future]] = {}
        self._wake = threading.Condition()
        self._stopping = False
        self._thread = self._new_thread()
        self._next_key = 0
        self._finishing: queue.Queue[tuple | None] = queue.Queue(FINISH_DEPTH)
        self._finisher: threading.Thread | None = None  # started with the first launched pass
        # A stream that fails (its latent, forward pass or delivery raises) leaves the engine and
        # is reported here, as is a voice whose job raised: live/voices/supervisor.py restarts
        # the voice (a stream or a voice; its `name` says which). None: logged only.
        self.on_fault: Callable[[Any, BaseException], None] | None = None
        self._rendering: list[Stream] = []  # the group being rendered (blamed if the thread dies)
        self.died: str | None = None  # why the engine thread last ended, if not by stop()

    def start(self) -> None:
        self._thread.start()

    def _new_thread(self) -> threading.Thread:
        return threading.Thread(target=self._main, name=f"engine-{self.device}", daemon=True)

    def alive(self) -> bool:
        """Whether the engine thread runs (or was never started, or was stopped)."""
        return self._thread.is_alive() or self._thread.ident is None or self._stopping

    def revive(self) -> str | None:
        """A fresh engine thread on the same models and streams, after the last one died; the
        reason it died."""
        died, self.died = self.died, None
        self._thread = self._new_thread()
        self._thread.start()
        return died

    def _main(self) -> None:
        try:
            self._run()
        except BaseException as e:  # noqa: BLE001  (even SystemExit: the thread is gone)
            self.died = f"{type(e).__name__}: {e}"
            log.error("engine thread died: %s", self.died)
            blamed, self._rendering = self._rendering, []
            for s in blamed:
                self._fail(s, e)

    def stop(self, timeout: float = 2.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread.ident is not None:  # started
            self._thread.join(timeout)
        if self._finisher is not None:
            try:
                self._finishing.put(None, timeout=timeout)
            except queue.Full:  # a stuck device: the daemon thread dies with the process
                return
            self._finisher.join(timeout)

    def wait_finished(self) -> None:
        """Block until every launched forward pass has reached its streams."""
        self._finishing.join()

    def post(self, key: Hashable, fn: Callable[[], Any]) -> Future:
        """Run fn on the engine thread; a pending job with the same key is replaced (newest wins)."""
        future: Future = Future()
        with self._wake:
            old = self._mailbox.pop(key, None)
            self._mailbox[key] = (fn, future)
            self._wake.notify()
        if old is not None:
            old[1].cancel()
        return future

    def call(self, fn: Callable[[], Any]) -> Future:
        """Run fn once on the engine thread, never coalesced with another job."""
        with self._wake:
            self._next_key += 1
            key = ("call", self._next_key)
        return self.post(key, fn)

    def install(self, name: str, model: torch.nn.Module, card: dict[str, Any]) -> None:
        """Adopt a loaded, warmed model; call on the engine thread. On CUDA, prepare it for speed."""
        if self.device.type == "cuda" and os.environ.get("LIVEGEN_ACCEL", "1") != "0":
            self._plain[name] = model  # prepare() works on a copy; this one is the fallback
            try:
                if self.accel is None:
                    from live.accel import Accelerator
                    self.accel = Accelerator(self.device)
                model = self.accel.prepare(name, model)
            except Exception:
                log.exception("GPU acceleration of %s failed; running it plainly", name)
                self.accel = None
        elif self.device.type == "cpu" and os.environ.get("LIVEGEN_TRACE", "1") != "0":
            model = trace_generator(name, model, pixels=True)
        self.models[name] = model
        self.cards[name] = card

    def load_once(self, key: str, load: Callable[[], tuple[torch.nn.Module, dict[str, Any]]],
                  accelerate: bool = False) -> Future:
        """On the engine thread: load (and warm) a model under key unless it is there; the card.

        Voices that share a model name share one copy. `accelerate` is for generators only.
        """
        def job() -> dict[str, Any]:
            if key not in self.models:
                model, card = load()
                if accelerate:
                    self.install(key, model, card)
                else:
                    self.models[key], self.cards[key] = model, card
            return self.cards[key]

        return self.call(job)

    def add_stream(self, stream: Stream) -> None:
        with self._wake:
            self.streams.append(stream)
            self._wake.notify()

    def remove_stream(self, stream: Stream) -> None:
        with self._wake:
            if stream in self.streams:
                self.streams.remove(stream)

    def wake(self) -> None:
        """Re-read the streams' due times now (after an fps change, say)."""
        with self._wake:
            self._wake.notify()

    def _run(self) -> None:
        if self.threads:
            torch.set_num_threads(self.threads)
        # inference_mode is per thread: enter it here, where every forward pass runs.
        with torch.inference_mode():
            while True:
                with self._wake:
                    if self._stopping:
                        return
                    jobs = list(self._mailbox.values())
                    self._mailbox.clear()
                    streams = list(self.streams)
                for fn, future in jobs:
                    if future.set_running_or_notify_cancel():
                        try:
                            future.set_result(fn())
                        except BaseException as e:  # the job's owner handles it
                            future.set_exception(e)
                now = time.monotonic()
                due = [s for s in streams if s.next_due <= now + BATCH_WINDOW_S]
                if due:
                    self._render(due, now)
                    continue
                with self._wake:
                    if self._mailbox or self._stopping:
                        continue
                    wait = min((s.next_due for s in self.streams), default=now + 1.0) - now
                    wait -= BATCH_WINDOW_S / 2
                    if wait > 0:
                        self._wake.wait(min(wait, 1.0))

    def _fail(self, stream: Stream, error: BaseException) -> None:
        """A stream failed: out of the engine, and reported (its voice is restarted)."""
        self.remove_stream(stream)
        if self.on_fault is not None:
            self.on_fault(stream, error)

    def _latents(self, group: list[Stream], now: float) -> tuple[list[Stream], list, list]:
        """The streams of a group whose latent() worked, their latents and stamps."""
        kept, latents, stamps = [], [], []
        for s in group:
            try:
                z, stamp = s.latent(now)
            except Exception as e:
                log.exception("stream %s failed", getattr(s, "name", s))
                self._fail(s, e)
                continue
            kept.append(s)
            latents.append(z)
            stamps.append(stamp)
        return kept, latents, stamps

    def _render(self, due: list[Stream], now: float) -> None:
        """One forward pass per model for every due stream of that model."""
        groups: dict[str, list[Stream]] = {}
        for s in due:
            groups.setdefault(s.engine_key, []).append(s)
        for name, all_of_group in groups.items():
            group, latents, stamps = self._latents(all_of_group, now)
            if not group:
                continue
            self._rendering = group
            accel = self.accel
            try:
                if accel is not None:
                    # Launch and go on: the finisher thread waits for the pass, encodes and
                    # delivers it while this thread prepares and launches the next one.
                    launched = accel.launch(name, np.stack(latents))
                    self._start_finisher()
                    self._finishing.put((accel, name, group, stamps, launched))  # blocks when full
                    self._rendering = []
                    continue
                t0 = time.perf_counter()
                z = torch.from_numpy(np.stack(latents)).to(self.device, torch.float32)
                model = self.models[name]
                out = model(z)
                # (B, H, W, 3) uint8: a traced generator converts inside its one call
                pixels = out.numpy() if getattr(model, "returns_pixels", False) else to_pixels(out)
            except Exception as e:
                self._rendering = []
                if self.accel is not None:  # first: fall back to the plain model
                    log.exception("forward pass of %s failed; running it plainly", name)
                    self._drop_accel()
                    continue
                log.exception("forward pass of %s failed", name)
                for s in group:
                    self._fail(s, e)
                continue
            self._rendering = []  # (left set if the thread dies in the pass: _main blames them)
            self.forward_s[name] = time.perf_counter() - t0
            self.batch[name] = len(group)
            render_us = time.time_ns() // 1000
            for s, image, stamp in zip(group, pixels, stamps, strict=True):
                self._deliver(s, partial(s.deliver, image, stamp, render_us))

    def _deliver(self, stream: Stream, deliver: Callable[[], None]) -> None:
        try:
            deliver()
        except Exception as e:
            log.exception("delivering a frame to %s failed", getattr(stream, "name", stream))
            self._fail(stream, e)

    def _drop_accel(self) -> None:
        """After a failed accelerated pass: from now on float32, eager, synchronous."""
        if self.accel is not None:
            self.accel = None
            self.models.update(self._plain)

    def _start_finisher(self) -> None:
        if self._finisher is None:
            self._finisher = threading.Thread(target=self._finish_loop, name=f"finish-{self.device}",
                                              daemon=True)
            self._finisher.start()

    def _finish_loop(self) -> None:
        with torch.inference_mode():
            while (job := self._finishing.get()) is not None:
                try:
                    self._finish(*job)
                except Exception:
                    log.exception("finishing a forward pass of %s failed", job[1])
                    self._drop_accel()
                finally:
                    self._finishing.task_done()
            self._finishing.task_done()

    def _finish(self, accel: Any, name: str, group: list[Stream], stamps: tuple[int, ...],
                launched: Any) -> None:
        """Finisher thread: wait for a launched pass, then GPU JPEG where a stream wants JPEG,
        else the pixels to the host for the CPU encoders."""
        self.forward_s[name] = launched.wait()
        self.batch[name] = len(group)
        render_us = time.time_ns() // 1000
        size = (launched.pixels.shape[-1], launched.pixels.shape[-2])
        qualities = [s.jpeg_quality() for s in group]
        jpegs = accel.encode_jpeg(launched.pixels, qualities) or [None] * len(group)
        pixels = accel.to_host(launched.pixels) if None in jpegs else None
        for i, (s, stamp) in enumerate(zip(group, stamps, strict=True)):
            if jpegs[i] is not None:
                jpeg = jpegs[i]
                self._deliver(s, partial(s.deliver_jpeg, jpeg, size, stamp, render_us))
            else:
                assert pixels is not None  # a stream without its JPEG gets host pixels
                self._deliver(s, partial(s.deliver, pixels[i], stamp, render_us))


class TracedGenerator(torch.nn.Module):
    """A frozen TorchScript generator that keeps the eager one's config."""

    def __init__(self, traced: torch.jit.ScriptModule, cfg: Any, returns_pixels: bool) -> None:
        super().__init__()
        self.traced = traced
        self.cfg = cfg
        self.returns_pixels = returns_pixels  # (B, H, W, 3) uint8 rather than (B, 3, H, W) in [-1, 1]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.traced(z)


class WithPixels(torch.nn.Module):
    """A generator followed by the conversion to pixels, to trace as one call."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return pixel_tensor(self.model(z))


def trace_generator(name: str, model: torch.nn.Module, pixels: bool = False) -> torch.nn.Module:
    """On the CPU, run a generator as one TorchScript call; the eager model if that fails.

    Eager PyTorch takes the GIL back between every layer, and on a busy 2-core machine each
    take can wait on the event loop or an encoder; one scripted call takes it once per frame.
    With `pixels` the call also converts to (B, H, W, 3) uint8 (the engine's use).
    """
    nz = latent_size(model)
    wrapped = WithPixels(model).eval() if pixels else model
    try:
        with torch.inference_mode(False), torch.no_grad():
            traced = torch.jit.freeze(torch.jit.trace(wrapped, torch.zeros(1, nz), check_trace=False))
            z = torch.randn(3, nz, generator=torch.Generator().manual_seed(0))
            got, want = traced(z).float(), wrapped(z).float()
            if not torch.allclose(got, want, atol=1.0 if pixels else 1e-4):
                raise ValueError("traced output differs from the eager model at batch 3")
    except Exception as e:  # tracing is an optimisation: never a reason not to play
        log.warning("TorchScript of %s failed (%s); running it eagerly", name, e)
        return model
    return TracedGenerator(traced, model.cfg, pixels)


def latent_size(model: torch.nn.Module) -> int:
    """nz of a generator (its GANConfig travels with it, traced or not)."""
    cfg: Any = model.cfg
    return int(cfg.nz)


def pixel_tensor(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) uint8 on the same device."""
    x = images.float().mul(127.5).add(127.5).clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous()


def to_pixels(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] on any device -> (B, H, W, 3) uint8 on the host."""
    return pixel_tensor(images).cpu().numpy()

"""The visual voice: a latent path rendered by a GAN generator at a steady frame rate."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
import weakref
from collections import deque
from typing import Any, Protocol

import numpy as np
import torch

from live import frames
from live.analysis import frame as frame_analysis
from live.analysis.hub import add_params as add_analysis_params
from live.engine import latent_size, to_pixels
from live.io.osc import Route
from live.outputs.base import Output
from live.params import (
    BoolParam,
    ChoiceParam,
    FloatParam,
    IntParam,
    ParamError,
    Registry,
    Smoother,
    VectorParam,
)
from live.recommend.picker import KeyPicker
from live.runtime import Runtime
from live.voices.kit import ModelVoice, load_model
from live.voices.latent import MODES, WALK_KEYS_PER_S, LatentPath
from live.voices.model_switch import Crossfade, Ghost, ModelParam, generator_names
from live.voices.upscale import FrameUpscaler, upscaler_name
from models import embed
from models.gan import GANConfig, Generator, calibrate_batchnorm
from models.weights import WeightsError

log = logging.getLogger("livegen.visual")

ENCODERS_PER_VOICE = 2  # encode jobs of one voice in the pool at once


class Overlay(Protocol):
    """Drawn over a visual voice's frames before they are encoded and offered to outputs."""

    def covers(self, voice: str) -> bool:
        """Whether it draws on the frames of the visual voice named `voice`."""

    def draw(self, pixels: np.ndarray) -> np.ndarray:
        """The (H, W, 3) uint8 frame with the overlay on it (engine thread)."""


# Overlays by the name of the voice that draws them (the draw voice adds itself in begin()),
# one table per engine: keyed here so the hook needs no field in the shared Runtime.
_OVERLAYS: weakref.WeakKeyDictionary[Any, dict[str, Overlay]] = weakref.WeakKeyDictionary()


def overlays(rt: Runtime) -> dict[str, Overlay]:
    """The overlays of a runtime's voices, by the name of the voice drawing each."""
    return _OVERLAYS.setdefault(rt.engine, {})


def untrained_generator(spec: dict[str, Any]) -> tuple[torch.nn.Module, dict[str, Any]]:
    """An untrained generator of the patch's size (nz, resolution, g_base, g_max), batch norm
    calibrated so that it draws the structured noise an untrained network really makes."""
    sizes = {k: int(spec[k]) for k in ("g_base", "g_max") if k in spec}
    cfg = GANConfig(nz=int(spec.get("nz", 128)), resolution=int(spec.get("resolution", 128)), **sizes)
    return calibrate_batchnorm(Generator(cfg)), cfg.to_dict()


def load_generator(spec: dict[str, Any], device: torch.device) -> tuple[torch.nn.Module, dict]:
    """The generator a voice's patch table names, and its card; runs on the engine thread."""
    return load_model("gan", spec, device, untrained_generator)


class VisualVoice(ModelVoice):
    """One visual stream; the engine calls latent() and deliver() on its thread (see Stream)."""

    kind = "visual"
    model_kind = "gan"

    def __init__(self, name: str, index: int, spec: dict[str, Any], rt: Runtime) -> None:
        super().__init__(name, spec, rt)
        self.index = index  # the stream field of the frame header
        self.nz = 0
        self.next_due = float("inf")  # not due until started
        self.seq = 0
        self._delivered: deque[float] = deque(maxlen=240)
        self._encode_lock = threading.Lock()
        self._pending: tuple[np.ndarray, frames.FrameInfo, int] | None = None
        self._encoders = 0  # encode jobs of this voice in the pool
        self.encode_dropped = 0  # frames replaced by a newer one before an encoder was free
        self.outputs: list[Output] = []  # video outputs (NDI, WebRTC...) offered raw pixels
        self._jump: tuple[int, np.ndarray | None] | None = None
        self.last_latent: tuple[np.ndarray, int] = (np.zeros(0, np.float32), 0)  # for a Ghost
        self.fade: Crossfade | None = None  # while switching models
        self.switches = 0
        self.switch_error: str | None = None
        self.upscaler = FrameUpscaler(None)  # the learned one loads with the generator
        self.embedding: embed.Embedding | None = None  # PCA of the training images, if shipped
        self.analyser = frame_analysis.FrameAnalyser()
        self._analysis_lock = threading.Lock()  # two encoders may finish at once
        self._analysed_seq = -1
        self.analysis_s = 0.0  # encode-pool time spent measuring frames
        self.picker: KeyPicker | None = None  # recommend mode's keyframe chooser

    def add_params(self, registry: Registry) -> None:
        """Register this voice's parameters; after load(), which tells nz."""
        p, nz = f"/{self.name}", self.nz
        add = registry.add
        self.speed = add(FloatParam(f"{p}/speed", 1.0, "latent walk speed", lo=0, hi=8, slew=0.5))
        self.truncation = add(FloatParam(
            f"{p}/truncation", 1.0, "0 = the mean image, 1 = the trained spread", lo=0, hi=2,
            slew=0.3))
        self.mode = add(ChoiceParam(f"{p}/mode", "walk", "how the latent moves", choices=MODES))
        self.xy = add(VectorParam(f"{p}/xy", (0.0, 0.0), "position on a plane of latents",
                                  size=2, lo=-1, hi=1, slew=0.1))
        self.latent_param = add(VectorParam(f"{p}/latent", tuple([0.0] * nz),
                                            "set the latent directly", size=nz, lo=-10, hi=10))
        self.seed = add(IntParam(f"{p}/seed", 0, "jump to the latent of this seed", lo=0))
        self.fps = add(FloatParam(f"{p}/fps", 30.0, "target frame rate", lo=1, hi=240))
        self.transition = add(FloatParam(f"{p}/transition", 0.5,
                                         "seconds to fade on a seed, latent or mode change",
                                         lo=0, hi=10))
        self.quality = add(IntParam(f"{p}/quality", 85, "JPEG quality", lo=10, hi=100))
        self.format = add(ChoiceParam(f"{p}/format", "jpeg", "frame encoding",
                                      choices=("jpeg", "rgba")))
        self.model_param = add(ModelParam(
            f"{p}/model", self.model, "the generator (a name from models/weights, or a card's "
            "path); a switch crossfades over /transition seconds", choices=generator_names(self.model)))
        self.upscale = add(ChoiceParam(
            f"{p}/upscale", "off", "frames twice as large: bicubic, or the learned upscaler "
            "(models/upscale.py) where one is loaded", choices=self.upscaler.modes()))
        self.analysis = add(BoolParam(f"{p}/analysis", True, f"measure every frame: "
                                      f"/analysis/{self.name}/... (brightness, palette, motion...)"))
        add_analysis_params(registry, self.name, frame_analysis.RANGES | {"nearest_distance": (0, 100)},
                            strings=("nearest",))
        registry.watch(self.model_param.path, lambda c: self.rt.loop.call_soon_threadsafe(
            self._switch_soon, c.value))
        registry.watch(self.seed.path, lambda c: self._request_jump(c.value, None))
        registry.watch(self.latent_param.path,
                       lambda c: self._request_jump(self.seed.value, np.asarray(c.value)))
        registry.watch(self.fps.path, lambda c: self._retime())

    def osc_routes(self) -> dict[str, Route]:
        """/NAME/like: a like of what the voice shows now (a pad on a controller)."""
        def like(args: list[Any], sender: tuple[str, int]) -> None:
            if self.rt.recommend is None:
                raise ParamError(f"/{self.name}/like: this server keeps no likes")
            self.rt.recommend.like(self.name)
        return {f"/{self.name}/like": like}

    # -- recommend mode (engine thread) --------------------------------------------
    def _render_one(self, z: np.ndarray) -> np.ndarray:
        """One frame of this voice's generator, now (engine thread): a recommend candidate."""
        model = self.rt.engine.models[self.engine_key]
        out = model(torch.from_numpy(z[None]).float().to(self.rt.engine.device))
        return (out.numpy() if getattr(model, "returns_pixels", False) else to_pixels(out))[0]

    def _recommend_step(self, truncation: float, keys_per_frame: float) -> None:
        recommend = self.rt.recommend
        assert recommend is not None
        if self.picker is None:
            self.picker = KeyPicker(recommend, self.name, self.nz, self._render_one)
        try:
            self.picker.step(self.path, truncation, keys_per_frame)
        except Exception as e:  # an accelerated model that cannot render one: walk plainly
            log.warning("voice %s: recommend cannot render candidates (%s); walking", self.name, e)
            self.rt.registry.set(self.mode.path, "walk", source="recommend")

    # -- live model switching ---------------------------------------------------
    def _switch_soon(self, name: str) -> None:
        if name != self.model:
            self.rt.loop.create_task(self.switch_model(name))

    async def switch_model(self, name: str) -> None:
        """Load and warm another generator on the engine thread while this one plays, then
        crossfade to it; one that fails to load, or whose latent differs, leaves this playing."""
        old_key, spec = self.engine_key, {**self.spec, "model": name}
        key = f"{self.model_kind}:{name}"
        status = self.rt.status
        if status is not None:
            status.event("model", voice=self.name, model=name, state="loading")

        def load() -> tuple[torch.nn.Module, dict[str, Any]]:
            model, card = load_generator(spec, self.rt.engine.device)
            self.warm_up(model)
            return model, card

        try:
            card = await asyncio.wrap_future(self.rt.engine.load_once(key, load, accelerate=True))
            nz = int(card["arch"]["nz"])
            if nz != self.nz:
                raise WeightsError(f"model {name!r} takes latents of {nz}, this voice's are {self.nz}")
        except (WeightsError, OSError, ValueError, KeyError, RuntimeError) as e:
            self.switch_error = f"/{self.name}/model {name!r} not switched, {self.model!r} plays on: {e}"
            log.error("%s", self.switch_error)
            if status is not None:
                status.event("model", voice=self.name, model=name, state="failed", error=str(e))
            self.rt.registry.set(self.model_param.path, self.model, source="model")  # back
            return

        def hand_over() -> None:  # on the engine thread, between two frames
            ghost = Ghost(self, old_key)
            self.fade = Crossfade(ghost, self.transition.value)
            self.engine_key, self.model, self.card = key, name, card
            self.embedding = embed.for_model(name)
            self.rt.engine.add_stream(ghost)

        await asyncio.wrap_future(self.rt.engine.call(hand_over))
        self.switches += 1
        self.switch_error = None
        log.info("voice %s: crossfading to model %s over %.2f s", self.name, name, self.fade.seconds
                 if self.fade else 0)
        if status is not None:
            status.event("model", voice=self.name, model=name, state="ready")

    def _blend(self, pixels: np.ndarray) -> np.ndarray:
        """During a crossfade: the new frame over the old generator's (engine thread)."""
        fade = self.fade
        if fade is None:
            return pixels
        out = fade.blend(pixels)
        if fade.done():
            self.rt.engine.remove_stream(fade.ghost)
            self.fade = None
        return out

    def _request_jump(self, seed: int, anchor: np.ndarray | None) -> None:
        self._jump = (seed, anchor)  # picked up by the engine thread at the next frame

    def _retime(self) -> None:
        self.next_due = min(self.next_due, time.monotonic() + 1.0 / self.fps.value)
        self.rt.engine.wake()

    def untrained(self, spec: dict[str, Any]) -> tuple[torch.nn.Module, dict[str, Any]]:
        return untrained_generator(spec)

    def warm_up(self, model: torch.nn.Module) -> None:
        model(torch.zeros(1, latent_size(model), device=self.rt.engine.device))

    async def load(self) -> None:
        """Load and warm the generator (on CUDA: half precision, graphs); nz comes from its card."""
        await super().load()
        self.nz = int(self.card["arch"]["nz"])
        self.embedding = embed.for_model(self.model)
        self.upscaler = FrameUpscaler(upscaler_name(self.spec))
        await self.upscaler.load(self.rt.engine)

    def begin(self) -> None:
        """Start the frame clock (after every voice's params exist and the patch is applied)."""
        self.path = LatentPath(self.nz, self.seed.value, self.transition.value)
        self._smooth = {p.path: Smoother(p) for p in (self.speed, self.truncation, self.xy)}
        self._jump = None
        # Start on the shared grid of this frame rate, so voices of one model batch together.
        period = 1.0 / self.fps.value
        self.next_due = (math.floor(time.monotonic() / period) + 1) * period
        self.rt.engine.add_stream(self)

    async def stop(self) -> None:
        self.rt.engine.remove_stream(self)

    # -- engine thread --------------------------------------------------------
    def latent(self, now: float) -> tuple[np.ndarray, int]:
        stamp = self.rt.registry.stamp  # read before the values: they are at least this new
        period = 1.0 / self.fps.value
        if self._jump is not None:
            (seed, anchor), self._jump = self._jump, None
            self.path.jump(seed, anchor)
        self.path.transition_s = self.transition.value
        self.path.set_mode(self.mode.value)
        speed = float(self._smooth[self.speed.path].step(period))
        truncation = float(self._smooth[self.truncation.path].step(period))
        x, y = self._smooth[self.xy.path].step(period)
        turns = self.path.turns
        if self.path.mode == "recommend" and self.rt.recommend is not None:
            self._recommend_step(truncation, speed * WALK_KEYS_PER_S * period)
        z = self.path.step(period, speed, float(x), float(y)) * truncation
        if self.path.turns != turns and self.rt.status is not None:  # the loop came round
            self.rt.status.event_threadsafe("loop", voice=self.name, turn=self.path.turns)
        # Steady clock: keep the grid, but never burst to catch up after falling behind.
        self.next_due = max(self.next_due + period, now - period)
        self.last_latent = (z.astype(np.float32), stamp)
        return self.last_latent

    def _overlays(self) -> list[Overlay]:
        return [o for o in list(overlays(self.rt).values()) if o.covers(self.name)]

    def _overlay(self, pixels: np.ndarray) -> np.ndarray:
        """Every overlay that covers this voice drawn on the frame; a failing one is skipped."""
        for o in self._overlays():
            try:
                pixels = o.draw(pixels)
            except Exception:
                log.exception("overlay on %s failed", self.name)
        return pixels

    def deliver(self, pixels: np.ndarray, stamp: int, render_us: int) -> None:
        pixels = self._overlay(self._blend(self.upscaler.apply(pixels, self.upscale.value)))
        fmt = frames.RGBA if self.format.value == "rgba" else frames.JPEG
        info = frames.FrameInfo(fmt, self.index, pixels.shape[1], pixels.shape[0], self.seq,
                                stamp, render_us)
        self.seq += 1
        for output in self.outputs:  # each takes it on its own thread; offering never blocks
            output.offer(pixels, info.seq, stamp, render_us)
        # Newest wins before encoding too: a frame still waiting for an encoder is replaced,
        # so a renderer faster than the encoders never queues frames (memory, latency).
        with self._encode_lock:
            if self._pending is not None:
                self.encode_dropped += 1
            self._pending = (pixels, info, self.quality.value)
            if self._encoders >= ENCODERS_PER_VOICE:
                return
            self._encoders += 1
        self.rt.encode_pool.submit(self._encode_pending)

    def jpeg_quality(self) -> int | None:
        """The JPEG quality wanted, or None for raw frames (the engine may encode on the GPU)."""
        if any(o.wants_frames() for o in self.outputs):
            return None  # outputs take raw pixels; the GPU path would hand over JPEG only
        if self._overlays():
            return None  # pixels: to draw on
        if self.fade is not None or self.upscale.value != "off" or self.analysis.value:
            return None  # pixels: to blend, to upscale or to measure
        return self.quality.value if self.format.value == "jpeg" else None

    def deliver_jpeg(self, payload: bytes, size: tuple[int, int], stamp: int, render_us: int) -> None:
        """Take one (width, height) frame already JPEG-encoded (on the GPU)."""
        width, height = size
        info = frames.FrameInfo(frames.JPEG, self.index, width, height, self.seq, stamp, render_us)
        self.seq += 1
        self._publish(frames.Frame(info, frames.pack(info, payload)))

    # -- encoder pool ---------------------------------------------------------
    def _encode_pending(self) -> None:
        while True:
            with self._encode_lock:
                job, self._pending = self._pending, None
                if job is None:
                    self._encoders -= 1
                    return
            self._encode(*job)

    def _encode(self, pixels: np.ndarray, info: frames.FrameInfo, quality: int) -> None:
        self._analyse(pixels, info.seq)
        try:
            frame = frames.Frame(info, frames.pack(info, frames.encode(pixels, info.format, quality)))
        except Exception:
            log.exception("encoding frame %d of %s failed", info.seq, self.name)
            return
        self._publish(frame)

    def _analyse(self, pixels: np.ndarray, seq: int) -> None:
        """Measure a frame on the encode pool and publish it (an older frame than the last
        measured one is skipped: motion compares a frame with the one before)."""
        hub = self.rt.analysis
        if hub is None or not self.analysis.value:
            return
        with self._analysis_lock:
            if seq <= self._analysed_seq:
                return
            self._analysed_seq = seq
            t0 = time.perf_counter()
            features = self.analyser(pixels)
            thumb = self.analyser.colour  # its 32x32 block means are the embedding's thumbnail
            if self.embedding is not None and thumb is not None:  # the training images, in PCA space
                coords, nearest, distance = self.embedding.place(thumb.ravel())
                features |= {"embedding": coords, "nearest": nearest, "nearest_distance": distance}
            self.analysis_s += time.perf_counter() - t0
        hub.publish_threadsafe(self.name, "visual", features)

    def _publish(self, frame: frames.Frame) -> None:
        self._delivered.append(time.monotonic())
        self.rt.loop.call_soon_threadsafe(self.rt.frames.publish, frame)

    # -- status ---------------------------------------------------------------
    def measured_fps(self) -> float:
        stamps = [t for t in list(self._delivered) if t > time.monotonic() - 2.0]  # a copy: threads append
        if len(stamps) < 2:
            return 0.0
        return (len(stamps) - 1) / (stamps[-1] - stamps[0])

    def status(self) -> dict[str, Any]:
        arch = self.card.get("arch", {})
        forward = self.rt.engine.forward_s.get(self.engine_key)
        return self.model_status() | {
            "resolution": arch.get("resolution"),
            "fps": round(self.measured_fps(), 2),
            "target_fps": self.fps.value,
            "frames": self.seq,
            "forward_ms": round(forward * 1000, 3) if forward is not None else None,
            "batch": self.rt.engine.batch.get(self.engine_key),
            "switches": self.switches, "switch_error": self.switch_error,
            "crossfading": self.fade is not None,
            "recommended": self.picker.chosen if self.picker is not None else 0,
            "analysis_ms": round(1000 * self.analysis_s / self.analyser.frames, 3)
            if self.analyser.frames else None,
        }


"""The style voice: another visual stream's frames (or still images) painted by the conditional
style network (models/style.py), morphing between its styles while it plays.

It is a visual stream like any other (a stream number, frames on the WebSocket, outputs). A
ticker on the event loop asks for a frame every 1/fps seconds; the engine thread styles the
newest source picture of every style voice of one model that is due, in one forward pass per
picture size, and the encode pool encodes. Refused input (a frame of a size it cannot take, a
source that went away, a checkpoint that does not load) leaves it showing what it showed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections import deque
from typing import Any

import numpy as np
import torch

from live import frames
from live.params import ChoiceParam, FloatParam, IntParam, ParamError, Registry, Smoother, VectorParam
from live.patch import PatchError
from live.runtime import Runtime
from live.voices.kit import ModelVoice, load_model
from live.voices.model_switch import ModelParam
from live.voices.style_source import (
    IMAGE_PREFIX,
    VISUAL_KINDS,
    FrameTap,
    Slideshow,
    SourceParam,
    Voices,
    open_slideshow,
    size_problem,
    source_problem,
)
from models import weights
from models.style import StyleConfig, StyleNet, normalise_mix, one_hot, stylise_pixels

log = logging.getLogger("livegen.style")

DEFAULT_MODEL = "styles"  # models/weights/styles.*, when it ships
UNTRAINED_STYLES = ("a", "b", "c", "d")


def style_names() -> list[str]:
    """Every style model in models/weights."""
    return [name for name, kind in weights.available() if kind == "style"]


def untrained_style_net(spec: dict[str, Any]) -> tuple[torch.nn.Module, dict[str, Any]]:
    """An untrained style network (its norm tables drawn at random, so styles differ)."""
    cfg = StyleConfig(styles=list(UNTRAINED_STYLES))
    model = StyleNet(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma") or name.endswith("beta"):
                p.add_(torch.randn_like(p) * 0.5)
    return model, cfg.to_dict()


class MixParam(VectorParam):
    """Weights over the styles: one per style, none negative, not all zero."""

    def validate(self, value: Any) -> tuple[float, ...]:
        out = super().validate(value)
        if not any(out):
            raise ParamError(f"{self.path}: a mix of all zeros refused, expected {self.size} "
                             "weights (0 or more) with at least one above 0")
        return out


# Style voices waiting for a frame, per engine and model: one job styles all of them.
_WAITING: weakref.WeakKeyDictionary[Any, dict[str, dict[str, StyleVoice]]] = weakref.WeakKeyDictionary()
_WAITING_LOCK = threading.Lock()


def render_waiting(engine: Any, engine_key: str) -> None:
    """Style every waiting voice of one model: a forward pass per picture size (engine thread).
    A voice whose frame, or whose batch, fails is reported to the supervisor (engine.on_fault)."""
    with _WAITING_LOCK:
        voices = list(_WAITING.setdefault(engine, {}).pop(engine_key, {}).values())
    groups: dict[tuple[int, ...], list[tuple[StyleVoice, np.ndarray, int, list[float], float]]] = {}
    for voice in voices:
        try:
            job = voice.take_job()
        except Exception as e:
            _failed(engine, [voice], e)
            continue
        if job is not None:
            groups.setdefault(job[0].shape, []).append((voice, *job))
    model = engine.models.get(engine_key)
    if model is None:
        return
    device = engine.device
    for group in groups.values():
        try:
            t0 = time.perf_counter()
            pixels = torch.from_numpy(np.stack([g[1] for g in group])).to(device)
            mix = torch.tensor([g[3] for g in group], dtype=torch.float32, device=device)
            strength = torch.tensor([g[4] for g in group], dtype=torch.float32, device=device)
            out = stylise_pixels(model, pixels, mix, strength).cpu().numpy()
        except Exception as e:
            _failed(engine, [g[0] for g in group], e)
            continue
        engine.forward_s[engine_key] = time.perf_counter() - t0
        engine.batch[engine_key] = len(group)
        render_us = time.time_ns() // 1000
        for k, (voice, *_rest) in enumerate(group):
            try:
                voice.deliver(out[k], group[k][2], render_us)
            except Exception as e:
                _failed(engine, [voice], e)


def _failed(engine: Any, voices: list[StyleVoice], error: Exception) -> None:
    log.warning("style voice(s) %s failed", ", ".join(v.name for v in voices), exc_info=error)
    if engine.on_fault is not None:
        for voice in voices:
            engine.on_fault(voice, error)


class StyleVoice(ModelVoice):
    """One styled stream of another stream's frames or of still images."""

    kind = "style"
    model_kind = "style"
    untrained_note = "UNTRAINED style network: random colour transforms, not learned styles"

    def __init__(self, name: str, index: int, spec: dict[str, Any], rt: Runtime,
                 voices: Voices) -> None:
        spec = dict(spec)
        if "model" not in spec and weights.paths(DEFAULT_MODEL)[1].is_file():
            spec["model"] = DEFAULT_MODEL
        super().__init__(name, spec, rt)
        self.index = index  # the stream field of the frame header
        self.voices = voices
        self.seq = 0
        self.outputs: list[Any] = []  # video outputs fed with what it shows
        self.tap = FrameTap()
        self.slides: Slideshow | None = None
        self.resolution = int(spec.get("resolution", 256))
        if not 8 <= self.resolution <= 1024:
            raise ValueError(f"voice {name!r}: resolution {self.resolution} refused, expected 8 to 1024")
        self.styles: list[str] = []
        self.problem: str | None = None  # the latest refusal: shown in /status
        self.switch_error: str | None = None
        self._tapped: Any = None  # the voice whose outputs hold the tap
        self._last: np.ndarray | None = None  # the last styled frame, shown again on a refusal
        self._encode_lock = threading.Lock()
        self._pending: tuple[np.ndarray, frames.FrameInfo, int] | None = None
        self._encoding = False
        self._sent: deque[float] = deque(maxlen=240)
        self._next_due = 0.0
        self._mix_smooth: Smoother | None = None
        self._strength_smooth: Smoother | None = None

    # -- loading ---------------------------------------------------------------------------
    def untrained(self, spec: dict[str, Any]) -> tuple[torch.nn.Module, dict[str, Any]]:
        return untrained_style_net(spec)

    def warm_up(self, model: torch.nn.Module) -> None:
        assert isinstance(model, StyleNet)
        n = len(model.cfg.styles)
        pixels = torch.zeros(1, 64, 64, 3, dtype=torch.uint8, device=self.rt.engine.device)
        stylise_pixels(model, pixels, torch.full((1, n), 1.0 / n, device=self.rt.engine.device))

    async def load(self) -> None:
        """Load and warm the network; the styles come from its card."""
        await super().load()
        self.styles = list(self.card["arch"]["styles"])

    # -- parameters ------------------------------------------------------------------------
    def add_params(self, registry: Registry) -> None:
        p, n = f"/{self.name}", len(self.styles)
        add = registry.add
        self.style = add(ChoiceParam(f"{p}/style", self.styles[0], "paint in this style alone "
                                     "(sets /mix to it)", choices=tuple(self.styles)))
        self.mix = add(MixParam(f"{p}/mix", tuple(one_hot(0, n)), "weights over the styles "
                                f"({', '.join(self.styles)}), normalised to sum to 1",
                                size=n, lo=0, hi=100, slew=0.2))
        self.strength = add(FloatParam(f"{p}/strength", 1.0, "0 = the source as it is, "
                                       "1 = fully styled", lo=0, hi=1, slew=0.1))
        default_source = self._default_source()
        self.source = add(SourceParam(
            f"{p}/source", default_source, "what is styled: a visual voice's name (visual, "
            f"input or style kind) or {IMAGE_PREFIX}PATH (an image, or a folder as a slideshow)",
            check=self._source_problem))
        self.slide_s = add(FloatParam(f"{p}/slide_s", 4.0, "seconds an image of a folder "
                                      "source shows", lo=0.1, hi=3600))
        self.fps = add(FloatParam(f"{p}/fps", 30.0, "target frame rate", lo=1, hi=240))
        self.quality = add(IntParam(f"{p}/quality", 85, "JPEG quality", lo=10, hi=100))
        self.format = add(ChoiceParam(f"{p}/format", "jpeg", "frame encoding",
                                      choices=("jpeg", "rgba")))
        self.model_param = add(ModelParam(
            f"{p}/model", self.model, "the style network (a name from models/weights, or a card's "
            "path); one with the same styles is switched to once it loads", choices=tuple(
                dict.fromkeys([self.model, *style_names(), "random"]))))
        registry.watch(self.style.path, lambda c: registry.set(
            self.mix.path, one_hot(self.styles.index(c.value), n), source=self.name))
        registry.watch(self.source.path, lambda c: self._use_source(c.value))
        registry.watch(self.model_param.path, lambda c: self.rt.loop.call_soon_threadsafe(
            self._switch_soon, c.value))
        self._use_source(self.source.value)

    def _default_source(self) -> str:
        """The patch's `source`, else the first other visual voice; PatchError if neither."""
        source = self.spec.get("source")
        if source is None:
            source = next((n for n, v in self.voices().items()
                           if v.kind in VISUAL_KINDS and n != self.name), None)
        problem = "no visual voice to style" if source is None else self._source_problem(str(source))
        if problem is not None:
            raise PatchError(f"voice {self.name!r}: source {source!r} refused: {problem}")
        return str(source)

    def _source_problem(self, value: str) -> str | None:
        problem = source_problem(value, self.name, self.voices)
        if problem is None and value.startswith(IMAGE_PREFIX):
            try:
                self._opened = open_slideshow(value, self.resolution)
            except ValueError as e:
                return str(e)
        return problem

    def _use_source(self, value: str) -> None:
        """Follow a (validated) source: the slideshow opened while validating, or a voice."""
        if value.startswith(IMAGE_PREFIX):
            self.slides = getattr(self, "_opened", None)
        else:
            self.slides = None
        self._retap()

    def _retap(self) -> None:
        """Keep the tap in the source voice's outputs (a reload may rebuild either)."""
        value = self.source.value
        source = None if value.startswith(IMAGE_PREFIX) else self.voices().get(value)
        if self._tapped is not None and self._tapped is not source:
            if self.tap in self._tapped.outputs:
                self._tapped.outputs.remove(self.tap)
            self._tapped = None
            self.tap.latest = None
        if source is not None and hasattr(source, "outputs"):
            if self.tap not in source.outputs:
                source.outputs.append(self.tap)
            self._tapped = source

    # -- live model switching ----------------------------------------------------------------
    def _switch_soon(self, name: str) -> None:
        if name != self.model:
            self.rt.loop.create_task(self.switch_model(name))

    async def switch_model(self, name: str) -> None:
        """Load another style network on the engine thread; one that fails to load (missing,
        corrupt) or has other styles is refused and this one plays on."""
        key, spec = f"{self.model_kind}:{name}", {**self.spec, "model": name}

        def load() -> tuple[torch.nn.Module, dict[str, Any]]:
            model, card = load_model(self.model_kind, spec, self.rt.engine.device, self.untrained)
            self.warm_up(model)
            return model, card

        try:
            card = await asyncio.wrap_future(self.rt.engine.load_once(key, load))
            if list(card["arch"]["styles"]) != self.styles:
                raise weights.WeightsError(f"model {name!r} has styles {card['arch']['styles']}, "
                                           f"this voice's are {self.styles}")
        except (weights.WeightsError, OSError, ValueError, KeyError, RuntimeError) as e:
            self.switch_error = f"/{self.name}/model {name!r} not switched, {self.model!r} plays on: {e}"
            log.error("%s", self.switch_error)
            self.rt.registry.set(self.model_param.path, self.model, source="model")  # back
            return
        self.engine_key, self.model, self.card = key, name, card
        self.switch_error = None

    # -- playing -----------------------------------------------------------------------------
    def begin(self) -> None:
        """Start the frame clock."""
        self._mix_smooth = Smoother(self.mix)
        self._strength_smooth = Smoother(self.strength)
        self._retap()
        self._next_due = time.monotonic()
        self.start_ticker()

    async def stop(self) -> None:
        self.stop_ticker()
        if self._tapped is not None and self.tap in self._tapped.outputs:
            self._tapped.outputs.remove(self.tap)
        self._tapped = None

    def tick_period(self) -> float:
        return max(0.0, self._next_due - time.monotonic())

    def tick(self) -> None:
        """Ask the engine for the next frame (event loop)."""
        period = 1.0 / self.fps.value
        self._next_due = max(self._next_due + period, time.monotonic() - period)
        self._retap()
        engine, key = self.rt.engine, self.engine_key
        with _WAITING_LOCK:
            _WAITING.setdefault(engine, {}).setdefault(key, {})[self.name] = self
        engine.post(("style", key), lambda: render_waiting(engine, key))

    def take_job(self) -> tuple[np.ndarray, int, list[float], float] | None:
        """(picture, stamp, mix, strength) to style now, or None (engine thread)."""
        stamp = self.rt.registry.stamp
        period = 1.0 / self.fps.value
        assert self._mix_smooth is not None and self._strength_smooth is not None
        mix = normalise_mix(self._mix_smooth.step(period).tolist(), len(self.styles))
        strength = float(self._strength_smooth.step(period))
        if self.slides is not None:
            pixels, _ = self.slides.current(self.slide_s.value)
        elif self.tap.latest is not None:
            pixels, stamp = self.tap.latest[0], max(stamp, self.tap.latest[1])
        else:
            pixels = np.full((self.resolution, self.resolution, 3), 128, np.uint8)  # waiting
        problem = size_problem(pixels.shape)
        if problem is not None:
            if problem != self.problem:
                log.error("style voice %s: %s; showing the last frame", self.name, problem)
            self.problem = problem
            if self._last is not None:
                self.deliver(self._last, stamp, time.time_ns() // 1000)
            return None
        self.problem = None
        return np.ascontiguousarray(pixels), stamp, mix, strength

    def deliver(self, pixels: np.ndarray, stamp: int, render_us: int) -> None:
        """Hand a styled frame to the outputs and the encode pool (engine thread)."""
        self._last = pixels
        fmt = frames.RGBA if self.format.value == "rgba" else frames.JPEG
        info = frames.FrameInfo(fmt, self.index, pixels.shape[1], pixels.shape[0], self.seq,
                                stamp, render_us)
        self.seq += 1
        for output in list(self.outputs):
            output.offer(pixels, info.seq, stamp, render_us)
        with self._encode_lock:  # newest wins: a frame waiting for the encoder is replaced
            self._pending = (pixels, info, self.quality.value)
            if self._encoding:
                return
            self._encoding = True
        self.rt.encode_pool.submit(self._encode_pending)

    def _encode_pending(self) -> None:
        while True:
            with self._encode_lock:
                job, self._pending = self._pending, None
                if job is None:
                    self._encoding = False
                    return
            pixels, info, quality = job
            try:
                message = frames.pack(info, frames.encode(pixels, info.format, quality))
            except Exception:
                log.exception("encoding frame %d of %s failed", info.seq, self.name)
                continue
            self._sent.append(time.monotonic())
            self.rt.loop.call_soon_threadsafe(self.rt.frames.publish, frames.Frame(info, message))

    # -- status ------------------------------------------------------------------------------
    def measured_fps(self) -> float:
        """Frames a second sent over the last two seconds."""
        sent = np.array(self._sent)
        recent = sent[sent > time.monotonic() - 2.0]
        span = float(recent[-1] - recent[0]) if len(recent) > 1 else 0.0
        return (len(recent) - 1) / span if span > 0 else 0.0

    def status(self) -> dict[str, Any]:
        forward = self.rt.engine.forward_s.get(self.engine_key)
        latest = self._last
        return self.model_status() | {
            "styles": self.styles, "source": self.source.value,
            "fps": round(self.measured_fps(), 2), "target_fps": self.fps.value, "frames": self.seq,
            "size": list(latest.shape[1::-1]) if latest is not None else None,
            "source_frames": self.tap.frames,
            "forward_ms": round(forward * 1000, 3) if forward is not None else None,
            "batch": self.rt.engine.batch.get(self.engine_key),
            "problem": self.problem, "switch_error": self.switch_error,
            "slides": self.slides.names if self.slides is not None else None,
        }

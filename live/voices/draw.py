"""The drawing voice: a sketch-RNN decoder drawing pen strokes at a steady rate.

The engine thread keeps a short buffer of sampled points filled; the scheduler thread takes
one point per 1/rate seconds and sends it as OSC /NAME/point x y pen, each finished stroke as
/NAME/stroke (a blob of float32 x, y pairs), and all of it on the WebSocket `draw` topic. The
same strokes can be drawn into a visual voice's frames (/NAME/onto), so they reach every video
output as pixels. Positions are in 0..1 of the canvas, y down; pen 1: a line joins this point
to the next, 0: the pen lifts after it, 2: the drawing ends here.
"""

from __future__ import annotations

import logging
import math
import struct
import threading
import time
from collections import deque
from typing import Any, ClassVar

import numpy as np
import torch
from PIL import Image, ImageDraw

from live.io.osc import Route
from live.params import BoolParam, ChoiceParam, FloatParam, Param, Registry, StringParam, VectorParam
from live.runtime import Runtime
from live.voices.kit import ModelVoice, load_model, seed_for
from live.voices.visual import overlays
from models.strokes import StrokeConfig, StrokeRNN, StrokeSampler

log = logging.getLogger("livegen.draw")

MAX_PRIME_POINTS = 500  # a prime with more points is refused
BUFFER_S = 0.5  # sampled points kept ready, in seconds of drawing
MARGIN, SPAN = 0.1, 0.8  # the model's unit square sits here on the canvas
MAX_PICTURE = 4000  # points kept for the composite (a drawing is far shorter)
MAX_DRAWING = 250  # a drawing this long is ended (the longest in the data; a scribble stops)
Point = tuple[float, float, int]


def to_canvas(x: float, y: float) -> tuple[float, float]:
    """A model position as a canvas position in 0..1 (clamped: the page has edges)."""
    return (min(1.0, max(0.0, MARGIN + SPAN * x)), min(1.0, max(0.0, MARGIN + SPAN * y)))


def to_model(x: float, y: float) -> tuple[float, float]:
    """A canvas position as a model position."""
    return ((x - MARGIN) / SPAN, (y - MARGIN) / SPAN)


def stroke_blob(points: list[tuple[float, float]]) -> bytes:
    """A stroke as OSC blob bytes: little-endian float32 x, y pairs."""
    return struct.pack(f"<{2 * len(points)}f", *[c for p in points for c in p])


def triples(flat: tuple[float, ...]) -> tuple[Point, ...]:
    """A flat x, y, pen, x, y, pen... tuple as points."""
    return tuple((flat[i], flat[i + 1], int(flat[i + 2])) for i in range(0, len(flat), 3))


class PointsParam(Param):
    """Points a performer drew: x, y, pen triples (flat or nested), x and y in 0..1, pen 0/1.

    The value is flat (x, y, pen, x, y, pen...), as OSC carries it and OSCQuery lists it.
    """

    def __init__(self, path: str, doc: str, max_points: int) -> None:
        self.max_points = max_points
        super().__init__(path, (), doc, "points")

    def validate(self, value: Any) -> tuple[float | int, ...]:
        expected = (f"x y pen triples (x, y in [0, 1], pen 1 = drawn to the next point, "
                    f"0 = lifted), at most {self.max_points} points")
        if not isinstance(value, (list, tuple)):
            raise self.refuse(value, expected)
        flat = [c for v in value for c in v] if value and isinstance(value[0], (list, tuple)) \
            else list(value)
        if len(flat) % 3:
            raise self.refuse(value, expected)
        if len(flat) // 3 > self.max_points:
            raise self.refuse(value, f"at most {self.max_points} points, not {len(flat) // 3}")
        out: list[float | int] = []
        for i in range(0, len(flat), 3):
            x, y, pen = flat[i:i + 3]
            nums = (x, y, pen)
            if any(isinstance(c, bool) or not isinstance(c, (int, float)) for c in nums) \
                    or not all(math.isfinite(c) for c in nums):
                raise self.refuse(value, f"{expected}; point {i // 3} is not three finite numbers")
            if not (0 <= x <= 1 and 0 <= y <= 1) or pen not in (0, 1):
                raise self.refuse(value, f"{expected}; point {i // 3} is out of range")
            out += [float(x), float(y), int(pen)]
        return tuple(out)


UNTRAINED_CLASSES = ["one", "two"]
PREFERRED_CLASSES = ("kanji", "futural")  # the default class where the model has one


def untrained_draw_model(spec: dict[str, Any]) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A small untrained stroke decoder with two classes."""
    cfg = StrokeConfig(classes=list(UNTRAINED_CLASSES), hidden=64, mixtures=5, n_embd=8)
    return StrokeRNN(cfg), cfg.to_dict()


def load_draw_model(spec: dict[str, Any], device: torch.device) -> tuple[Any, dict]:
    """The stroke decoder a voice's patch table names, and its card (engine thread)."""
    return load_model("strokes", spec, device, untrained_draw_model)


class DrawGen:
    """A sampler and the count of points drawn: deterministic given restarts and settings."""

    def __init__(self, model: StrokeRNN, voice: str, seed: int) -> None:
        self.model = model
        self.voice = voice
        self.seed = seed
        self.restarts = 0
        self.events = 0  # points sampled since the voice began
        self.in_drawing = 0  # points of the drawing under way
        self.sampler: StrokeSampler | None = None

    def restart(self, cls: str, prime: tuple[Point, ...] = ()) -> dict[str, Any]:
        """A fresh sampler for class `cls`, fed the prime (canvas positions)."""
        self.restarts += 1
        classes = self.model.cfg.classes
        k = classes.index(cls) if cls in classes else 0
        self.sampler = StrokeSampler(self.model, k, seed_for(self.seed, self.voice, self.restarts))
        fed = self.sampler.prime([(*to_model(x, y), pen) for x, y, pen in prime])
        self.in_drawing = fed
        return {"op": "restart", "class": cls, "prime": [list(p) for p in prime], "fed": fed}

    def step(self, temperature: float) -> Point:
        """The next point on the canvas."""
        assert self.sampler is not None
        self.events += 1
        self.in_drawing += 1
        x, y, pen = self.sampler.next_point(temperature)
        if pen != 2 and self.in_drawing >= MAX_DRAWING:
            pen = 2  # the model did not end it: end it here, and start afresh
            self.sampler.reset()
        if pen == 2:
            self.in_drawing = 0
        cx, cy = to_canvas(x, y)
        return cx, cy, pen


class DrawVoice(ModelVoice):
    """One drawing voice; the event loop posts jobs, the engine samples, the scheduler draws."""

    kind = "draw"
    model_kind = "strokes"
    untrained_note = "UNTRAINED model: expect scribbles, not glyphs"
    fault_point: ClassVar[str] = "job"  # where LIVEGEN_FAULT fails it (live/voices/supervisor.py)

    def __init__(self, name: str, spec: dict[str, Any], rt: Runtime) -> None:
        super().__init__(name, spec, rt)
        self.scheduler = rt.scheduler
        self.gen: DrawGen | None = None
        self._buffer: deque[tuple[int, Point]] = deque()  # (restart number, point)
        self._lock = threading.Lock()
        self._ops: deque[tuple[str, tuple[Point, ...]]] = deque()  # (class, prime) restarts
        self._next_due = 0.0
        self._playing = False
        self._last_temperature: float | None = None
        self._shown_restart = 0  # the restart whose points the outputs show
        self._primes: dict[int, tuple[Point, ...]] = {}  # restart number -> its prime
        self._stroke: list[tuple[float, float]] = []
        self._picture: list[Point] = []  # what the composite draws (scheduler thread writes)
        self._picture_lock = threading.Lock()
        self._after_end = False
        self._sent: deque[float] = deque(maxlen=4000)
        self.points_sent = 0
        self.drawings = 0
        self.gen_s = 0.0
        self.gen_points = 0
        self.composited = 0  # frames drawn on

    def untrained(self, spec: dict[str, Any]) -> tuple[torch.nn.Module, dict[str, Any]]:
        return untrained_draw_model(spec)

    def warm_up(self, model: torch.nn.Module) -> None:
        assert isinstance(model, StrokeRNN)
        StrokeSampler(model).next_point()

    @property
    def classes(self) -> list[str]:
        return list(self.card.get("arch", {}).get("classes") or ["none"])

    def add_params(self, registry: Registry) -> None:
        p, add = f"/{self.name}", registry.add
        self.rate = add(FloatParam(f"{p}/rate", 30.0, "points per second", lo=1, hi=1000))
        self.temperature = add(FloatParam(f"{p}/temperature", 0.4, "sampling temperature "
                                          "(mixture weights, spread and pen)", lo=0.05, hi=2.0))
        first = next((c for c in PREFERRED_CLASSES if c in self.classes), self.classes[0])
        self.cls = add(ChoiceParam(f"{p}/class", first, "what to draw: a class of "
                                   "the model (a font, or kanji)", choices=self.classes))
        self.prime = add(PointsParam(f"{p}/prime", "points the performer drew (x y pen ...); "
                                     "the voice continues from the last", MAX_PRIME_POINTS))
        self.clear = add(BoolParam(f"{p}/clear", False, "clear the canvas, start a new drawing"))
        self.pause = add(FloatParam(f"{p}/pause", 1.0, "seconds a finished drawing stays "
                                    "before the next begins", lo=0, hi=60))
        self.play = add(BoolParam(f"{p}/play", True, "start and stop the voice"))
        self.onto = add(StringParam(f"{p}/onto", "", "the visual voice whose frames show the "
                                    "strokes ('' for none)", max_len=64))
        self.color = add(VectorParam(f"{p}/color", (1.0, 1.0, 1.0), "line colour (r g b, 0-1) "
                                     "in the composite", size=3, lo=0, hi=1))
        self.width = add(FloatParam(f"{p}/width", 2.0, "line width in the composite, pixels",
                                    lo=0.5, hi=64))
        registry.watch(self.prime.path, lambda c: self._restart(self.cls.value, triples(c.value)))
        registry.watch(self.cls.path, lambda c: self._restart(c.value, ()))
        registry.watch(self.clear.path, lambda c: self._restart(self.cls.value, ()))
        registry.watch(self.play.path, lambda c: self._set_playing(c.value))

    def osc_routes(self) -> dict[str, Route]:
        """/NAME/clear needs no argument."""
        return {f"/{self.name}/clear": lambda args, sender: self.rt.registry.set(
            self.clear.path, True, source="osc")}

    # -- life cycle -------------------------------------------------------------------
    def begin(self) -> None:
        model = self.rt.engine.models[self.engine_key]
        assert isinstance(model, StrokeRNN)
        self.gen = DrawGen(model, self.name, self.rt.seed)
        if not self._ops:  # a prime or class set by the patch is queued already
            self._ops.append((self.cls.value, triples(self.prime.value)))
        overlays(self.rt)[self.name] = self
        self.start_ticker()
        self._set_playing(self.play.value)

    async def stop(self) -> None:
        overlays(self.rt).pop(self.name, None)
        self.stop_ticker()
        self._set_playing(False)

    def _set_playing(self, on: bool) -> None:
        self.scheduler.cancel(self.name)
        self._playing = bool(on) and self.gen is not None
        if self._playing:
            self._next_due = time.monotonic() + 0.05
            self.scheduler.at_time(self._next_due, self.name, self._emit)
            self.post_job()

    def _restart(self, cls: str, prime: tuple[Point, ...]) -> None:
        with self._lock:
            self._buffer.clear()  # what the old drawing would have drawn is never drawn
            self._ops.append((cls, prime))
        self.post_job()

    def tick(self) -> None:
        if self._playing or self._ops:
            self.post_job()

    # -- the engine thread ------------------------------------------------------------------
    def job(self) -> None:
        gen = self.gen
        assert gen is not None
        while self._ops:
            cls, prime = self._ops.popleft()
            self.log_gen(gen.restart(cls, prime))
            with self._lock:
                self._primes[gen.restarts] = prime
                self._buffer.clear()
        if not self._playing:
            return
        if gen.sampler is None:
            self.log_gen(gen.restart(self.cls.value))
        t = self.temperature.value
        if t != self._last_temperature:
            self._last_temperature = t
            self.log_gen({"op": "settings", "temperature": t})
        want = max(8, math.ceil(self.rate.value * BUFFER_S)) - len(self._buffer)
        t0 = time.perf_counter()
        with torch.inference_mode():
            points = [gen.step(t) for _ in range(max(0, want))]
        self.gen_s += time.perf_counter() - t0
        self.gen_points += len(points)
        with self._lock:
            if not self._ops:  # a restart arrived meanwhile: these belong to the old drawing
                self._buffer.extend((gen.restarts, p) for p in points)

    # -- the scheduler thread ------------------------------------------------------------------
    def _emit(self, due: float) -> None:
        if not self._playing:
            return
        with self._lock:
            item = self._buffer.popleft() if self._buffer else None
            prime = self._primes.get(item[0], ()) if item else ()
        step = 1.0 / self.rate.value
        if item is not None and item[1][2] == 2:
            step += self.pause.value  # a finished drawing stays a while
        # Keep the grid; after a stall, start a fresh one rather than burst to catch up.
        self._next_due = max(due + step, time.monotonic())
        self.scheduler.at_time(self._next_due, self.name, self._emit)
        if item is None:
            return  # generation is behind: skip a point, never burst
        restart, (x, y, pen) = item
        if restart != self._shown_restart:
            self._new_picture(restart, prime)
        elif self._after_end:
            self._new_picture(restart, ())
        self._after_end = pen == 2
        self._send_point(restart, x, y, pen)

    def _new_picture(self, restart: int, prime: tuple[Point, ...]) -> None:
        """Clear the canvas (and show the prime a new drawing continues from)."""
        if self._stroke:
            self._send_stroke()
        self._shown_restart = restart
        with self._picture_lock:
            self._picture = list(prime)
        self.rt.osc_out.send(f"/{self.name}/clear")
        self.rt.events.publish_threadsafe("draw", {"op": "draw", "voice": self.name,
                                                   "kind": "clear"})
        if prime:
            self.rt.events.publish_threadsafe("draw", {
                "op": "draw", "voice": self.name, "kind": "prime",
                "points": [list(p) for p in prime]})
            # an open last stroke of the prime is the stroke the voice goes on with
            tail: list[tuple[float, float]] = []
            for px, py, ppen in prime:
                tail.append((px, py))
                if ppen != 1:
                    tail = []
            self._stroke = tail

    def _send_point(self, restart: int, x: float, y: float, pen: int) -> None:
        self.rt.osc_out.send(f"/{self.name}/point", x, y, pen)
        self.rt.events.publish_threadsafe("draw", {"op": "draw", "voice": self.name,
                                                   "kind": "point", "x": x, "y": y, "pen": pen,
                                                   "drawing": self.drawings})
        with self._picture_lock:
            self._picture.append((x, y, pen))
            del self._picture[:-MAX_PICTURE]
        self._stroke.append((x, y))
        if pen != 1:
            self._send_stroke()
        if pen == 2:
            self.drawings += 1
        self.points_sent += 1
        self._sent.append(time.monotonic())
        recorder = self.rt.recorder
        if recorder is not None:
            recorder.write({"type": "draw", "t": recorder.t(), "voice": self.name, "x": x, "y": y,
                            "pen": pen, "restarts": restart})

    def _send_stroke(self) -> None:
        pts, self._stroke = self._stroke, []
        self.rt.osc_out.send(f"/{self.name}/stroke", stroke_blob(pts))
        self.rt.events.publish_threadsafe("draw", {"op": "draw", "voice": self.name,
                                                   "kind": "stroke", "points": [list(p) for p in pts]})

    # -- the composite (the visual voice's engine thread calls these) -------------------------
    def covers(self, voice: str) -> bool:
        """Whether this voice draws into the frames of visual voice `voice`."""
        return self.onto.value == voice

    def draw(self, pixels: np.ndarray) -> np.ndarray:
        """The strokes so far drawn over an (H, W, 3) uint8 frame."""
        with self._picture_lock:
            pts = list(self._picture)
        if len(pts) < 2:
            return pixels
        h, w = pixels.shape[:2]
        im = Image.fromarray(np.ascontiguousarray(pixels), "RGB")
        pen = ImageDraw.Draw(im)
        colour = tuple(int(round(255 * c)) for c in self.color.value)
        width = max(1, int(round(self.width.value)))
        for (x0, y0, p0), (x1, y1, _) in zip(pts, pts[1:], strict=False):
            if p0 == 1:
                pen.line([(x0 * (w - 1), y0 * (h - 1)), (x1 * (w - 1), y1 * (h - 1))],
                         fill=colour, width=width)
        self.composited += 1
        return np.asarray(im)

    # -- status ---------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        recent = [t for t in list(self._sent) if t > now - 5.0]
        pps = self.gen_points / self.gen_s if self.gen_s > 0 else None
        return self.model_status() | {
            "events_per_s": round(len(recent) / 5.0, 3), "points": self.points_sent,
            "drawings": self.drawings, "rate": self.rate.value, "playing": self._playing,
            "class": self.cls.value, "onto": self.onto.value, "composited": self.composited,
            "gen_points_per_s": round(pps, 1) if pps else None,
            "gen_speed_x": round(pps / self.rate.value, 1) if pps else None,
        }


def regenerate(name: str, spec: dict[str, Any], seed: int, records: list[dict[str, Any]],
               points: list[dict[str, Any]]) -> dict[str, Any]:
    """Replay: each stretch of points between restarts must be what the model draws again."""
    model, _ = load_draw_model(spec, torch.device("cpu"))
    gen = DrawGen(model, name, seed)
    temperature = 0.4
    by_restart: dict[int, list[tuple[float, float, int]]] = {}
    for p in points:
        by_restart.setdefault(p["restarts"], []).append((p["x"], p["y"], p["pen"]))
    made: dict[int, list[Point]] = {}

    def advance(to_event: int) -> None:
        while gen.sampler is not None and gen.events < to_event:
            made.setdefault(gen.restarts, []).append(gen.step(temperature))

    for rec in records:
        advance(rec["event"])
        if rec["op"] == "restart":
            gen.restart(rec["class"], tuple((float(x), float(y), int(p)) for x, y, p in rec["prime"]))
        elif rec["op"] == "settings":
            temperature = float(rec["temperature"])
    last = gen.restarts
    advance(gen.events + max(0, len(by_restart.get(last, [])) - len(made.get(last, []))))

    def same(a: list[Point], b: list[tuple[float, float, int]]) -> bool:
        return len(a) >= len(b) and all(abs(p[0] - q[0]) < 1e-6 and abs(p[1] - q[1]) < 1e-6
                                        and p[2] == q[2] for p, q in zip(a, b, strict=False))

    identical = sum(1 for r, pts in by_restart.items() if same(made.get(r, []), pts))
    return {"stretches": len(by_restart), "identical": identical,
            "points": sum(len(p) for p in by_restart.values())}

"""The input voice: shows the newest frame of an input stream (frames in over WebSocket, or NDI in).

It is a visual stream like any other (a stream number, frames on the WebSocket, outputs), paced
by its own thread at /NAME/fps, which also encodes (one frame a period, no queue to bound);
until a frame arrives it shows mid grey.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any, ClassVar

import numpy as np

from live import frames
from live.io.frames_in import FramesIn, InputStream
from live.io.osc import Route
from live.io.websocket import HttpRoute
from live.outputs.base import Output, scale
from live.outputs.ndi import NdiReceiver
from live.params import ChoiceParam, FloatParam, IntParam, Registry
from live.runtime import Runtime

log = logging.getLogger("livegen.input")

WAITING_SIZE = 64  # the grey frame's side before any input, without a resolution


def parse_source(name: str, source: Any) -> tuple[str, int | str]:
    """('ws', stream) or ('ndi', source name) from `source`; ValueError naming the voice."""
    text = "ws" if source is None else source
    if isinstance(text, str):
        kind, _, rest = text.partition(":")
        if kind == "ws" and (not rest or (rest.isdigit() and int(rest) < 256)):
            return "ws", int(rest or 0)
        if kind == "ndi" and rest.strip():
            return "ndi", rest.strip()
    raise ValueError(f"voice {name!r}: source {source!r} refused, expected \"ws\", \"ws:N\" "
                     "(input stream N, 0-255) or \"ndi:SOURCE NAME\"")


def fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    """(width, height) scaled so the longer side is `longest`, both even (UYVY outputs need it)."""
    w, h = size
    k = longest / max(w, h)
    return max(2, round(w * k / 2) * 2), max(2, round(h * k / 2) * 2)


class InputVoice:
    """A visual stream whose frames come in from outside; its own thread paces, encodes and sends."""

    kind: ClassVar[str] = "input"
    fault_point: ClassVar[str] = "_show"  # where LIVEGEN_FAULT fails it (live/voices/supervisor.py)

    def __init__(self, name: str, index: int, spec: dict[str, Any], rt: Runtime,
                 frames_in: FramesIn) -> None:
        self.name = name
        self.index = index  # the stream field of the frame header, like a visual voice's
        self.rt = rt
        self.seq = 0
        self.outputs: list[Output] = []  # video outputs fed with what it shows
        self.source_kind, where = parse_source(name, spec.get("source"))
        res = spec.get("resolution")
        if res is not None and (not isinstance(res, int) or isinstance(res, bool) or not 2 <= res <= 4096):
            raise ValueError(f"voice {name!r}: resolution {res!r} refused, expected an int in [2, 4096]")
        self.resolution: int | None = res
        self.receiver: NdiReceiver | None = None
        if self.source_kind == "ws":
            assert isinstance(where, int)
            self.stream: InputStream = frames_in.stream(where)
        else:
            self.stream = InputStream()
            self.receiver = NdiReceiver(str(where), self.stream)
        self.source = spec.get("source") or "ws"
        self.shown = 0  # input frames shown (each counted once, however often it is repeated)
        self._sent: deque[float] = deque(maxlen=120)
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    async def load(self) -> None:
        """Nothing to load: no model."""

    def add_params(self, registry: Registry) -> None:
        """/NAME/fps, /NAME/quality and /NAME/format, as a visual voice has them."""
        p = f"/{self.name}"
        self.fps = registry.add(FloatParam(f"{p}/fps", 30.0, "frame rate shown", lo=1, hi=240))
        self.quality = registry.add(IntParam(f"{p}/quality", 85, "JPEG quality", lo=10, hi=100))
        self.format = registry.add(ChoiceParam(f"{p}/format", "jpeg", "frame encoding",
                                               choices=("jpeg", "rgba")))

    def osc_routes(self) -> dict[str, Route]:
        """None."""
        return {}

    def http_routes(self) -> dict[str, HttpRoute]:
        """None."""
        return {}

    def begin(self) -> None:
        """Start showing (and, for NDI in, receiving)."""
        self._stopping.clear()
        if self.receiver is not None:
            self.receiver.start()
        self._thread = threading.Thread(target=self._run, name=f"input-{self.name}", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Stop showing and receiving."""
        self._stopping.set()
        if self.receiver is not None:
            self.receiver.stop()
        if self._thread is not None:
            self._thread.join(2.0)

    def alive(self) -> bool:
        """False when the showing thread has died (the supervisor restarts the voice)."""
        return self._thread is None or self._thread.is_alive() or self._stopping.is_set()

    def _run(self) -> None:
        next_due = time.monotonic()
        last_seq = -1
        while not self._stopping.is_set():
            frame = self.stream.latest
            if frame is None:
                side = self.resolution or WAITING_SIZE
                pixels = np.full((side, side, 3), 128, np.uint8)
            else:
                size = (frame.pixels.shape[1], frame.pixels.shape[0])
                pixels = scale(frame.pixels, fit(size, self.resolution) if self.resolution else None)
                self.shown += frame.seq != last_seq
                last_seq = frame.seq
            try:
                self._show(pixels)
            except Exception:  # one bad frame must not end the stream
                log.exception("input voice %s: frame %d not shown", self.name, self.seq)
            period = 1.0 / self.fps.value
            next_due = max(next_due + period, time.monotonic() - period)
            self._stopping.wait(max(0.0, next_due - time.monotonic()))

    def _show(self, pixels: np.ndarray) -> None:
        """Offer one frame to the outputs, encode it here (one frame per period) and publish it."""
        stamp, render_us = self.rt.registry.stamp, time.time_ns() // 1000
        for output in self.outputs:
            output.offer(pixels, self.seq, stamp, render_us)
        fmt = frames.RGBA if self.format.value == "rgba" else frames.JPEG
        info = frames.FrameInfo(fmt, self.index, pixels.shape[1], pixels.shape[0], self.seq, stamp,
                                render_us)
        self.seq += 1
        message = frames.pack(info, frames.encode(pixels, fmt, self.quality.value))
        self._sent.append(time.monotonic())
        self.rt.loop.call_soon_threadsafe(self.rt.frames.publish, frames.Frame(info, message))

    def measured_fps(self) -> float:
        """Frames a second sent over the last two seconds."""
        recent = [t for t in list(self._sent) if t > time.monotonic() - 2.0]
        return (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 else 0.0

    def status(self) -> dict[str, Any]:
        """The voice's entry in /status."""
        latest = self.stream.latest
        out: dict[str, Any] = {
            "kind": self.kind, "source": self.source, "fps": round(self.measured_fps(), 2),
            "target_fps": self.fps.value, "frames": self.seq, "received": self.stream.received,
            "shown": self.shown, "input_size": list(latest.pixels.shape[1::-1]) if latest else None,
            "input_from": latest.origin if latest is not None else None}
        if self.receiver is not None:
            out["ndi"] = self.receiver.status()
        return out

"""The input voice: shows the newest frame of an input stream (frames in over WebSocket, or NDI in).

It is a visual stream like any other (a stream number, frames on the WebSocket, outputs), paced
by its own thread at /NAME/fps; until a frame arrives it shows mid grey.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from live.io.frames_in import FramesIn, InputStream
from live.outputs.base import scale
from live.outputs.ndi import NdiReceiver
from live.params import ChoiceParam, FloatParam, IntParam, Registry
from live.runtime import Runtime
from live.voices.visual import VisualVoice

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


class InputVoice(VisualVoice):
    """A visual stream whose frames come in from outside rather than from a generator."""

    kind = "input"
    model_kind = "input"

    def __init__(self, name: str, index: int, spec: dict[str, Any], rt: Runtime,
                 frames_in: FramesIn) -> None:
        super().__init__(name, index, spec, rt)
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
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    async def load(self) -> None:
        """Nothing to load: no model."""
        self.card = {"name": "input", "kind": "input", "trained": True}

    def add_params(self, registry: Registry) -> None:
        p = f"/{self.name}"
        self.fps = registry.add(FloatParam(f"{p}/fps", 30.0, "frame rate shown", lo=1, hi=240))
        self.quality = registry.add(IntParam(f"{p}/quality", 85, "JPEG quality", lo=10, hi=100))
        self.format = registry.add(ChoiceParam(f"{p}/format", "jpeg", "frame encoding",
                                               choices=("jpeg", "rgba")))

    def begin(self) -> None:
        self._stopping.clear()
        if self.receiver is not None:
            self.receiver.start()
        self._thread = threading.Thread(target=self._run, name=f"input-{self.name}", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stopping.set()
        if self.receiver is not None:
            self.receiver.stop()
        if self._thread is not None:
            self._thread.join(2.0)

    def _run(self) -> None:
        next_due = time.monotonic()
        last_seq = -1
        grey: np.ndarray | None = None
        while not self._stopping.is_set():
            frame = self.stream.latest
            if frame is None:
                side = self.resolution or WAITING_SIZE
                grey = grey if grey is not None else np.full((side, side, 3), 128, np.uint8)
                pixels = grey
            else:
                size = (frame.pixels.shape[1], frame.pixels.shape[0])
                pixels = scale(frame.pixels, fit(size, self.resolution) if self.resolution else None)
                self.shown += frame.seq != last_seq
                last_seq = frame.seq
            self.deliver(pixels, self.rt.registry.stamp, time.time_ns() // 1000)
            period = 1.0 / self.fps.value
            next_due = max(next_due + period, time.monotonic() - period)
            self._stopping.wait(max(0.0, next_due - time.monotonic()))

    def status(self) -> dict[str, Any]:
        latest = self.stream.latest
        out = self.model_status() | {
            "source": self.source, "fps": round(self.measured_fps(), 2), "target_fps": self.fps.value,
            "frames": self.seq, "received": self.stream.received, "shown": self.shown,
            "input_size": list(latest.pixels.shape[1::-1]) if latest is not None else None,
            "input_from": latest.origin if latest is not None else None}
        if self.receiver is not None:
            out["ndi"] = self.receiver.status()
        return out

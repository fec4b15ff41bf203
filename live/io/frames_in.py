"""Frames in: LGF1 frames that clients send over the WebSocket, kept newest-wins per input stream.

A client (a browser camera, TouchDesigner's `sendBinary`) sends binary messages with the same
32-byte header as the frames it receives; the header's stream field names the input stream
(`source = "ws:N"` of an input voice). Each stream keeps one frame, the newest. Per connection
the rate is capped and every frame is checked; a connection that sends junk gets an error per
message and, after BAD_LIMIT of them, its input is closed and its frame withdrawn, while
everyone else's input goes on.
"""

from __future__ import annotations

import io
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from live import frames

MAX_PIXELS = 1920 * 1080  # per frame in; a JPEG claiming more is refused before it is decoded
MAX_FPS = 60.0  # frames a second per connection, on average
BURST = 10  # frames a connection may send at once before the rate cap bites
BAD_LIMIT = 3  # junk messages before a connection's input is closed
ERROR_EVERY_S = 1.0  # a connection over its rate hears about it at most this often


@dataclass(frozen=True)
class InFrame:
    """One frame in: (H, W, 3) uint8 RGB, its number in the stream and where it came from."""

    pixels: np.ndarray
    seq: int
    origin: str
    arrived: float  # time.monotonic()


class InputStream:
    """The newest frame in of one stream, written by any thread and read by its voice."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.latest: InFrame | None = None
        self.received = 0

    def put(self, pixels: np.ndarray, origin: str, arrived: float) -> None:
        with self._lock:
            self.received += 1
            self.latest = InFrame(pixels, self.received, origin, arrived)

    def withdraw(self, origin: str) -> None:
        """Forget the newest frame if it came from origin (a client cut off)."""
        with self._lock:
            if self.latest is not None and self.latest.origin == origin:
                self.latest = None


class _Sender:
    """One connection's frames-in state: its token bucket, strikes and name."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.tokens = float(BURST)
        self.refilled = time.monotonic()
        self.bad = 0
        self.accepted = 0
        self.rate_dropped = 0
        self.warned = -ERROR_EVERY_S

    def take_token(self, now: float) -> bool:
        self.tokens = min(float(BURST), self.tokens + (now - self.refilled) * MAX_FPS)
        self.refilled = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class FramesIn:
    """Every input stream, and the checks each connection's binary messages go through."""

    def __init__(self) -> None:
        self.streams: dict[int, InputStream] = {}
        self._senders: weakref.WeakKeyDictionary[Any, _Sender] = weakref.WeakKeyDictionary()
        self._next = 0
        self.refused = 0
        self.closed = 0

    def stream(self, index: int) -> InputStream:
        """Input stream `index` (an input voice asks for the one it shows)."""
        return self.streams.setdefault(index, InputStream())

    def receive(self, client: Any, message: bytes) -> str | None:
        """Take one binary message from a connection; the error to send back, or None."""
        sender = self._senders.get(client)
        if sender is None:
            self._next += 1
            sender = self._senders[client] = _Sender(f"ws:{self._next}")
        if sender.bad >= BAD_LIMIT:
            self.refused += 1
            return (f"frames in: this connection's input is closed after {BAD_LIMIT} bad frames; "
                    "reconnect to send again")
        now = time.monotonic()
        if not sender.take_token(now):
            sender.rate_dropped += 1
            if now - sender.warned < ERROR_EVERY_S:
                return None
            sender.warned = now
            return f"frames in: over {MAX_FPS:g} frames a second; frames dropped"
        try:
            index, pixels = self.check(message)
        except ValueError as e:
            return self._strike(sender, str(e))
        self.streams[index].put(pixels, sender.origin, now)
        sender.accepted += 1
        return None

    def _strike(self, sender: _Sender, problem: str) -> str:
        self.refused += 1
        sender.bad += 1
        if sender.bad < BAD_LIMIT:
            return f"frames in: {problem}; frame ignored"
        self.closed += 1
        for stream in self.streams.values():
            stream.withdraw(sender.origin)
        return f"frames in: {problem}; {BAD_LIMIT} bad frames, this connection's input is closed"

    def check(self, message: bytes) -> tuple[int, np.ndarray]:
        """(stream, (H, W, 3) pixels) of a valid frame message; ValueError saying what is wrong."""
        try:
            info, payload = frames.unpack(message)
        except ValueError as e:
            raise ValueError(f"binary messages are not accepted unless they are LGF1 frames ({e})") from None
        if info.stream not in self.streams:
            known = ", ".join(str(i) for i in sorted(self.streams)) or "none"
            raise ValueError(f"no input voice reads stream {info.stream} (this patch reads: {known})")
        w, h = info.width, info.height
        if not w or not h or w * h > MAX_PIXELS:
            raise ValueError(f"frame of {w}x{h} refused, expected 1 to {MAX_PIXELS} pixels")
        if info.format == frames.RGBA:
            if len(payload) != w * h * 4:
                raise ValueError(f"RGBA payload of {len(payload)} bytes, expected {w}x{h}x4 = {w * h * 4}")
            return info.stream, np.frombuffer(payload, np.uint8).reshape(h, w, 4)[..., :3].copy()
        if info.format == frames.JPEG:
            return info.stream, decode_jpeg(payload, w, h)
        raise ValueError(f"format {info.format} refused, expected 1 (JPEG) or 2 (RGBA)")

    def status(self) -> dict[str, Any]:
        """Counts for /status."""
        return {"streams": {str(i): s.received for i, s in self.streams.items()},
                "senders": len(self._senders), "refused": self.refused, "closed": self.closed}


def decode_jpeg(payload: bytes, width: int, height: int) -> np.ndarray:
    """A JPEG payload of the header's size as (H, W, 3) RGB; ValueError if it is anything else."""
    try:
        image = Image.open(io.BytesIO(payload))
        if image.format != "JPEG":
            raise ValueError(f"payload is {image.format}, not JPEG")
        if image.size != (width, height):  # checked before decoding: no decompression bombs
            raise ValueError(f"JPEG of {image.size[0]}x{image.size[1]}, header says {width}x{height}")
        return np.asarray(image.convert("RGB"))
    except ValueError:
        raise
    except Exception as e:  # Pillow raises several kinds for a broken file
        raise ValueError(f"payload is not a readable JPEG ({type(e).__name__}: {e})") from None

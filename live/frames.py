"""Frames as they travel: the 32-byte LGF1 header, encoding, and the newest-wins frame bus."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

HEADER = struct.Struct("<4sBBHHHIIQI")
MAGIC = b"LGF1"
JPEG = 1
RGBA = 2


@dataclass(frozen=True)
class FrameInfo:
    """The header fields of one frame."""

    format: int
    stream: int
    width: int
    height: int
    seq: int
    stamp: int
    render_us: int


def pack(info: FrameInfo, payload: bytes) -> bytes:
    """Header and payload as one binary WebSocket message."""
    head = HEADER.pack(MAGIC, info.format, info.stream, info.width, info.height, 0,
                       info.seq & 0xFFFFFFFF, info.stamp & 0xFFFFFFFF, info.render_us, 0)
    return head + payload


def unpack(message: bytes) -> tuple[FrameInfo, bytes]:
    """Parse a binary frame message; ValueError if it is not one."""
    if len(message) < HEADER.size:
        raise ValueError(f"frame message of {len(message)} bytes is shorter than its header")
    magic, fmt, stream, w, h, _flags, seq, stamp, render_us, _ = HEADER.unpack_from(message)
    if magic != MAGIC:
        raise ValueError(f"bad frame magic {magic!r}, expected {MAGIC!r}")
    return FrameInfo(fmt, stream, w, h, seq, stamp, render_us), message[HEADER.size:]


def encode(pixels: np.ndarray, fmt: int = JPEG, quality: int = 85) -> bytes:
    """Encode an (H, W, 3) uint8 image. Pillow releases the GIL while it compresses."""
    if fmt == RGBA:
        alpha = np.full(pixels.shape[:2] + (1,), 255, np.uint8)
        return np.concatenate([pixels, alpha], axis=2).tobytes()
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


@dataclass(frozen=True)
class Frame:
    """An encoded frame: its header fields and the message every client receives."""

    info: FrameInfo
    message: bytes


Subscriber = Callable[[Frame], None]


class FrameBus:
    """Fans each encoded frame out to subscribers; a frame older than the last published is dropped."""

    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()
        self._latest_seq: dict[int, int] = {}
        self.published = 0

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.add(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def publish(self, frame: Frame) -> None:
        """Called on the event loop. Encoders finish out of order; newest wins."""
        stream, seq = frame.info.stream, frame.info.seq
        if seq <= self._latest_seq.get(stream, -1):
            return
        self._latest_seq[stream] = seq
        self.published += 1
        for subscriber in list(self._subscribers):
            subscriber(frame)

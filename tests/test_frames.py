"""The LGF1 frame header and the newest-wins frame bus."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from live.frames import HEADER, JPEG, RGBA, Frame, FrameBus, FrameInfo, encode, pack, unpack


def test_header_is_the_contract() -> None:
    info = FrameInfo(JPEG, 2, 128, 64, 7, 42, 1_700_000_000_000_000)
    message = pack(info, b"payload")
    assert HEADER.size == 32
    fields = struct.Struct("<4sBBHHHIIQI").unpack(message[:32])
    assert fields == (b"LGF1", 1, 2, 128, 64, 0, 7, 42, 1_700_000_000_000_000, 0)
    assert unpack(message) == (info, b"payload")


def test_unpack_refuses_what_is_not_a_frame() -> None:
    with pytest.raises(ValueError, match="shorter"):
        unpack(b"LGF1")
    with pytest.raises(ValueError, match="magic"):
        unpack(b"XXXX" + bytes(40))


def test_encodings_round_trip() -> None:
    pixels = (np.arange(16 * 8 * 3) % 256).astype(np.uint8).reshape(16, 8, 3)
    rgba = np.frombuffer(encode(pixels, RGBA), np.uint8).reshape(16, 8, 4)
    assert np.array_equal(rgba[..., :3], pixels) and (rgba[..., 3] == 255).all()
    jpeg = Image.open(io.BytesIO(encode(pixels, JPEG, 95)))
    assert jpeg.format == "JPEG" and jpeg.size == (8, 16)


def test_bus_drops_frames_older_than_the_newest() -> None:
    bus, got = FrameBus(), []
    bus.subscribe(got.append)

    def frame(stream: int, seq: int) -> Frame:
        return Frame(FrameInfo(JPEG, stream, 1, 1, seq, 0, 0), b"")

    for stream, seq in [(0, 1), (0, 3), (0, 2), (1, 0), (0, 4)]:
        bus.publish(frame(stream, seq))
    assert [(f.info.stream, f.info.seq) for f in got] == [(0, 1), (0, 3), (1, 0), (0, 4)]

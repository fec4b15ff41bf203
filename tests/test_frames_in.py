"""Frames in, unit by unit: the checks every binary message goes through, newest wins, the rate cap,
and a junk sender losing only its own input."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from live import frames
from live.io import frames_in
from live.io.frames_in import BAD_LIMIT, BURST, FramesIn


class Conn:
    """Stands for a WebSocket connection (frames in keys its state by the object)."""


def message(pixels: np.ndarray, stream: int = 0, fmt: int = frames.RGBA, seq: int = 0) -> bytes:
    h, w = pixels.shape[:2]
    if fmt == frames.RGBA:
        payload = np.concatenate([pixels, np.full((h, w, 1), 255, np.uint8)], axis=2).tobytes()
    else:
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, "JPEG", quality=95)
        payload = out.getvalue()
    return frames.pack(frames.FrameInfo(fmt, stream, w, h, seq, 0, 0), payload)


def image(value: int, w: int = 8, h: int = 6) -> np.ndarray:
    return np.full((h, w, 3), value, np.uint8)


def test_rgba_and_jpeg_frames_arrive_newest_wins() -> None:
    fin = FramesIn()
    stream = fin.stream(0)
    conn = Conn()
    assert fin.receive(conn, message(image(10))) is None
    assert fin.receive(conn, message(image(200), fmt=frames.JPEG)) is None
    assert stream.received == 2 and stream.latest is not None
    assert stream.latest.pixels.shape == (6, 8, 3)
    assert abs(int(stream.latest.pixels.mean()) - 200) <= 2  # the newer, JPEG one
    assert stream.latest.origin == "ws:1"


@pytest.mark.parametrize(("bad", "words"), [
    (b"\x00\x01", ["not accepted unless they are LGF1", "shorter than its header"]),
    (b"XXXX" + bytes(40), ["LGF1", "magic"]),
    (message(image(1), stream=5), ["no input voice reads stream 5", "reads: 0"]),
    (message(image(1))[:-4], ["RGBA payload of", "8x6x4 = 192"]),
    (frames.pack(frames.FrameInfo(frames.JPEG, 0, 8, 6, 0, 0, 0), b"not a jpeg"), ["not a readable JPEG"]),
    (frames.pack(frames.FrameInfo(frames.JPEG, 0, 9, 6, 0, 0, 0), message(image(1), fmt=frames.JPEG)[32:]),
     ["JPEG of 8x6, header says 9x6"]),
    (frames.pack(frames.FrameInfo(frames.JPEG, 0, 4000, 4000, 0, 0, 0), b""), ["4000x4000 refused"]),
    (frames.pack(frames.FrameInfo(7, 0, 8, 6, 0, 0, 0), b""), ["format 7 refused"]),
])
def test_bad_frames_get_an_error_and_change_nothing(bad: bytes, words: list[str]) -> None:
    fin = FramesIn()
    stream = fin.stream(0)
    good = Conn()
    fin.receive(good, message(image(50)))
    problem = fin.receive(Conn(), bad)
    assert problem is not None and problem.startswith("frames in: ")
    for word in words:
        assert word in problem, (word, problem)
    assert stream.received == 1 and stream.latest is not None and stream.latest.origin == "ws:1"


def test_junk_closes_only_that_connections_input() -> None:
    fin = FramesIn()
    stream = fin.stream(0)
    good, bad = Conn(), Conn()
    assert fin.receive(bad, message(image(9))) is None  # its own frame shows first
    for _ in range(BAD_LIMIT):
        problem = fin.receive(bad, b"junk" * 20)
        assert problem is not None
    assert "input is closed" in (problem or "")
    assert stream.latest is None  # its frame is withdrawn with it
    assert "closed" in (fin.receive(bad, message(image(9))) or "")  # even good frames now
    assert fin.receive(good, message(image(77))) is None  # others go on
    assert stream.latest is not None and stream.latest.origin != "ws:1"
    assert fin.status()["closed"] == 1


def test_rate_cap_per_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(frames_in.time, "monotonic", lambda: now[0])
    fin = FramesIn()
    stream = fin.stream(0)
    fast, calm = Conn(), Conn()
    replies = [fin.receive(fast, message(image(1))) for _ in range(BURST + 5)]
    assert replies[:BURST] == [None] * BURST
    assert "over 60 frames a second" in (replies[BURST] or "")
    assert replies[BURST + 1:] == [None] * 4  # dropped quietly: one warning a second at most
    assert stream.received == BURST
    assert fin.receive(calm, message(image(2))) is None  # another connection has its own budget
    now[0] += 1.0
    assert fin.receive(fast, message(image(3))) is None  # refilled
    assert stream.received == BURST + 2


@settings(max_examples=300, deadline=None)
@given(fmt=st.sampled_from([frames.JPEG, frames.RGBA]) | st.integers(0, 255),
       stream=st.just(0) | st.integers(0, 255), w=st.just(16) | st.integers(0, 70_000),
       h=st.just(12) | st.integers(0, 70_000), cut=st.integers(0, 2000), flip=st.integers(0, 2000),
       junk=st.binary(max_size=64))
def test_any_header_and_payload_is_a_frame_or_a_clear_refusal(
        fmt: int, stream: int, w: int, h: int, cut: int, flip: int, junk: bytes) -> None:
    """Header fields that lie, JPEGs cut short or with a byte changed, RGBA of the wrong size:
    check() returns pixels of the header's size or raises ValueError, never anything else."""
    frames_in = FramesIn()
    frames_in.stream(0)
    real = bytearray(message(image(90, 16, 12), fmt=frames.JPEG)[frames.HEADER.size:])
    payload = bytes(real[:max(len(real) - cut, 0)]) if cut % 3 else bytes(real)
    if flip % 2 and payload:
        changed = bytearray(payload)
        changed[flip % len(changed)] ^= 0xFF
        payload = bytes(changed)
    if flip % 5 == 0:
        payload = junk
    msg = frames.pack(frames.FrameInfo(fmt, stream, w % 65536, h % 65536, 0, 0, 0), payload)
    try:
        index, pixels = frames_in.check(msg)
    except ValueError as e:
        assert str(e)
        return
    assert index == stream == 0 and pixels.shape == (h % 65536, w % 65536, 3)

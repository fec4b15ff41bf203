"""The input voice end to end: frames a client sends over the WebSocket come back out as a visual
stream (exact in RGBA, scaled where the patch says), and junk from one client costs only it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import connect

from live import frames
from tests.conftest import Server, start_server
from tests.livetools import recv_json

PATCH = """
[voices.cam]
kind = "input"
format = "rgba"
fps = 30

[voices.small]
kind = "input"
source = "ws:1"
resolution = 32
format = "rgba"
fps = 30
"""


@pytest.fixture(scope="module")
def input_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("input") / "input.toml"
    path.write_text(PATCH)
    srv = start_server(patch=path)
    try:
        yield srv
    finally:
        srv.stop()


def frame_message(pixels: np.ndarray, stream: int, seq: int) -> bytes:
    h, w = pixels.shape[:2]
    rgba = np.concatenate([pixels, np.full((h, w, 1), 255, np.uint8)], axis=2)
    return frames.pack(frames.FrameInfo(frames.RGBA, stream, w, h, seq, 0, 0), rgba.tobytes())


def picture(k: int, w: int = 48, h: int = 40) -> np.ndarray:
    """A frame that differs with k everywhere: a gradient shifted by k."""
    x = np.arange(w)[None, :, None] * 4 + np.arange(h)[:, None, None] * 2 + np.array([0, 80, 160])
    return ((x + 7 * k) % 256).astype(np.uint8)


async def camera_of(server: Server) -> Any:
    """A send-only client: subscribed to nothing, so frames do not pile up on it."""
    ws = await connect(server.ws)
    await ws.send(json.dumps({"op": "subscribe", "topics": []}))
    await recv_json(ws, "ack")
    return ws


async def shown(ws: Any, stream: int, n: int) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    async with asyncio.timeout(20):
        while len(out) < n:
            msg = await ws.recv()
            if isinstance(msg, bytes):
                info, payload = frames.unpack(msg)
                if info.stream == stream:
                    out.append(np.frombuffer(payload, np.uint8).reshape(info.height, info.width, 4)[..., :3])
    return out


async def until_shown(ws: Any, stream: int, want: np.ndarray, timeout: float = 10.0) -> int:
    """Read frames of a stream until one has exactly want's pixels; how many came before it."""
    before = 0
    async with asyncio.timeout(timeout):
        while True:
            (got,) = await shown(ws, stream, 1)
            if got.shape == want.shape and np.array_equal(got, want):
                return before
            before += 1


async def test_frames_sent_in_are_shown_exactly(input_server: Server) -> None:
    async with connect(input_server.ws, max_size=2**22) as viewer, await camera_of(input_server) as camera:
        grey = await shown(viewer, 0, 1)
        assert (grey[0] == 128).all()  # no input yet: mid grey
        sent = [picture(k) for k in range(12)]
        for k, pixels in enumerate(sent):
            await camera.send(frame_message(pixels, 0, k))
            await asyncio.sleep(0.05)
        await until_shown(viewer, 0, sent[-1])  # RGBA in, RGBA out: the very pixels
        assert all(np.array_equal(f, sent[-1]) for f in await shown(viewer, 0, 3))  # and it stays
    cam = input_server.get_json("/status")["voices"]["cam"]
    assert cam["received"] >= 12 and cam["input_size"] == [48, 40] and cam["kind"] == "input"


async def test_resolution_scales_the_input(input_server: Server) -> None:
    async with connect(input_server.ws, max_size=2**22) as viewer, await camera_of(input_server) as camera:
        await camera.send(frame_message(picture(3, 64, 48), 1, 0))
        await asyncio.sleep(0.2)
        got = await shown(viewer, 1, 3)
    assert got[-1].shape == (24, 32, 3)  # the longer side at 32, the aspect kept


async def test_junk_sender_loses_only_its_own_input(input_server: Server) -> None:
    async with connect(input_server.ws, max_size=2**22) as viewer, \
            await camera_of(input_server) as camera, await camera_of(input_server) as vandal:
        await camera.send(frame_message(picture(20), 0, 0))
        errors = []
        for junk in (b"LGF1" + bytes(3), frame_message(picture(1), 9, 0), b"\xff" * 100):
            await vandal.send(junk)
            errors.append((await recv_json(vandal, "error"))["message"])
        assert "shorter than its header" in errors[0]
        assert "no input voice reads stream 9" in errors[1]
        assert "input is closed" in errors[2]
        await vandal.send(json.dumps({"op": "get", "path": "/cam/fps"}))  # control still works
        assert (await recv_json(vandal, "value"))["value"] == 30.0
        await camera.send(frame_message(picture(21), 0, 1))
        await until_shown(viewer, 0, picture(21))

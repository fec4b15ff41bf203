"""The style voice end to end: a server with a GAN stream, a frames-in stream and two style voices
(one on the GAN, one on a still image); frames arrive styled, follow the mix and the strength,
and every kind of bad input is refused with a message while the voice plays on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from websockets.asyncio.client import connect

from live import frames
from tests.conftest import ROOT, Server, poll_until, start_server
from tests.livetools import recv_frames, send

PATCH = """
[voices.visual]
kind = "visual"
model = "random"
resolution = 64
fps = 20
mode = "hold"
format = "rgba"
seed = 3

[voices.cam]
kind = "input"
format = "rgba"
fps = 20

[voices.painted]
kind = "style"
model = "random"
source = "visual"
format = "rgba"
fps = 15

[voices.still]
kind = "style"
model = "random"
source = "image:{stills}"
resolution = 48
format = "rgba"
fps = 10

[voices.text]
kind = "text"
model = "random"
rate = 5
"""
VISUAL, CAM, PAINTED, STILL = 0, 1, 2, 3  # stream numbers in the frame header


@pytest.fixture(scope="module")
def style_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("style")
    stills = folder / "stills"
    stills.mkdir()
    Image.fromarray(gradient(96, 64)).save(stills / "a.png")
    path = folder / "style.toml"
    path.write_text(PATCH.format(stills=stills))
    srv = start_server(patch=path)
    try:
        yield srv
    finally:
        srv.stop()


def gradient(w: int, h: int, k: int = 0) -> np.ndarray:
    """An RGB picture with structure everywhere."""
    x = np.arange(w)[None, :, None] * 3 + np.arange(h)[:, None, None] * 2 + np.array([0, 90, 180])
    return ((x + 7 * k) % 256).astype(np.uint8)


async def newest(server: Server, streams: set[int], count: int = 3) -> dict[int, np.ndarray]:
    """The pixels of the `count`-th frame from now of each stream (RGBA frames, alpha dropped)."""
    seen: dict[int, int] = {}
    out: dict[int, np.ndarray] = {}
    async with connect(server.ws, compression=None, max_size=None) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topics": ["frames"]}))
        async with asyncio.timeout(20):
            while len(out) < len(streams):
                msg = await ws.recv()
                if not isinstance(msg, bytes):
                    continue
                info, payload = frames.unpack(msg)
                if info.stream not in streams:
                    continue
                seen[info.stream] = seen.get(info.stream, 0) + 1
                if seen[info.stream] >= count:
                    assert info.format == frames.RGBA
                    out[info.stream] = np.frombuffer(payload, np.uint8).reshape(
                        info.height, info.width, 4)[..., :3].astype(np.float32)
    return out


def voice(server: Server, name: str) -> dict[str, Any]:
    return server.get_json("/status")["voices"][name]


def diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


async def test_frames_arrive_styled_and_follow_the_mix(style_server: Server) -> None:
    got = await newest(style_server, {VISUAL, PAINTED})
    source, painted = got[VISUAL], got[PAINTED]
    assert painted.shape == source.shape == (64, 64, 3)  # the source's own size
    assert diff(painted, source) > 8  # the style is applied
    send(style_server, "/painted/style", "c")
    poll_until(lambda: style_server.param("/painted/mix") == [0.0, 0.0, 1.0, 0.0], 5.0)
    await asyncio.sleep(1.0)  # the mix slews in 0.2 s
    other = (await newest(style_server, {PAINTED}))[PAINTED]
    assert diff(other, painted) > 3  # another style, another picture
    send(style_server, "/painted/mix", 1.0, 0.0, 1.0, 0.0)  # halfway between a and c
    await asyncio.sleep(1.0)
    half = (await newest(style_server, {PAINTED}))[PAINTED]
    assert 0 < diff(half, other) and 0 < diff(half, painted)
    assert voice(style_server, "painted")["source_frames"] > 0


async def test_strength_zero_shows_the_source(style_server: Server) -> None:
    send(style_server, "/painted/strength", 0.0)
    try:
        await asyncio.sleep(1.5)
        got = await newest(style_server, {VISUAL, PAINTED})
        assert diff(got[PAINTED], got[VISUAL]) < 1.5  # the held GAN frame, unstyled
    finally:
        send(style_server, "/painted/strength", 1.0)


async def test_a_still_image_is_styled_at_the_voice_resolution(style_server: Server) -> None:
    still = (await newest(style_server, {STILL}))[STILL]
    assert still.shape == (32, 48, 3)  # the 96x64 image, its longest side at 48
    image = np.asarray(Image.fromarray(gradient(96, 64)).resize((48, 32), Image.Resampling.LANCZOS),
                       np.float32)
    assert diff(still, image) > 8
    assert voice(style_server, "still")["slides"] == ["a.png"]


@pytest.mark.parametrize(("address", "args", "words"), [
    ("/painted/style", ("nosuch",), ["nosuch", "a, b, c, d"]),
    ("/painted/mix", (1.0, 0.0), ["2 values", "4 numbers"]),
    ("/painted/mix", (0.0, 0.0, 0.0, 0.0), ["all zeros"]),
    ("/painted/mix", (1.0, -1.0, 0.0, 0.0), ["[0, 100]"]),
    ("/painted/source", ("text",), ["text voice", "not a visual one", "visual, cam"]),
    ("/painted/source", ("nosuch",), ["no voice named 'nosuch'"]),
    ("/painted/source", ("painted",), ["its own frames"]),
    ("/painted/source", ("image:/no/such/file.png",), ["no image or folder"]),
    ("/painted/model", ("nosuch",), ["nosuch", "random"]),
])
def test_bad_input_is_refused_and_changes_nothing(style_server: Server, address: str,
                                                  args: tuple, words: list[str]) -> None:
    before = style_server.param(address)
    frames_before = voice(style_server, "painted")["frames"]
    error = send(style_server, address, *args, reply=True)
    assert error is not None and address in error
    for word in words:
        assert word in error, (word, error)
    assert style_server.param(address) == before
    poll_until(lambda: voice(style_server, "painted")["frames"] > frames_before + 5, 10.0)


def test_a_corrupt_checkpoint_leaves_the_network_playing(style_server: Server,
                                                         tmp_path: Path) -> None:
    card = tmp_path / "broken.json"
    card.write_text(json.dumps({"kind": "style", "arch": {"styles": ["a", "b", "c", "d"]}}))
    (tmp_path / "broken.safetensors").write_bytes(b"not a safetensors file")
    send(style_server, "/painted/model", str(card))
    poll_until(lambda: voice(style_server, "painted")["switch_error"] is not None, 20.0)
    status = voice(style_server, "painted")
    assert "corrupt" in status["switch_error"] and "'random' plays on" in status["switch_error"]
    assert status["model"] == "random" and style_server.param("/painted/model") == "random"
    frames_before = status["frames"]
    poll_until(lambda: voice(style_server, "painted")["frames"] > frames_before + 5, 10.0)


async def test_frames_in_are_styled_and_a_size_it_cannot_take_is_refused(
        style_server: Server) -> None:
    async with connect(style_server.ws) as cam:
        await cam.send(json.dumps({"op": "subscribe", "topics": []}))

        async def show(pixels: np.ndarray, seq: int) -> None:
            h, w = pixels.shape[:2]
            rgba = np.concatenate([pixels, np.full((h, w, 1), 255, np.uint8)], axis=2)
            await cam.send(frames.pack(frames.FrameInfo(frames.RGBA, 0, w, h, seq, 0, 0),
                                       rgba.tobytes()))

        await show(gradient(40, 24), 0)
        assert send(style_server, "/painted/source", "cam", reply=True) is None
        try:
            poll_until(lambda: voice(style_server, "painted")["size"] == [40, 24], 10.0)
            await show(np.zeros((4, 4, 3), np.uint8), 1)  # below the smallest side
            poll_until(lambda: voice(style_server, "painted")["problem"] is not None, 10.0)
            status = voice(style_server, "painted")
            assert "4x4" in status["problem"] and status["size"] == [40, 24]  # the last frame
            frames_before = status["frames"]
            poll_until(lambda: voice(style_server, "painted")["frames"] > frames_before + 5, 10.0)
            await show(gradient(40, 24, 1), 2)
            poll_until(lambda: voice(style_server, "painted")["problem"] is None, 10.0)
        finally:
            send(style_server, "/painted/source", "visual")


def test_a_patch_whose_style_source_is_a_music_voice_does_not_start(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[voices.text]\nkind = "text"\nmodel = "random"\n\n'
                    '[voices.painted]\nkind = "style"\nmodel = "random"\nsource = "text"\n')
    with pytest.raises(RuntimeError, match="text voice, not a visual one"):
        start_server(patch=path)


@pytest.mark.skipif(not (ROOT / "models" / "weights" / "styles.json").is_file(),
                    reason="the shipped style network (models/weights/styles.*) is not there")
async def test_the_shipped_patch_paints_the_gan_with_the_shipped_network() -> None:
    srv = start_server(patch=ROOT / "patches" / "style.toml")
    try:
        async with connect(srv.ws, compression=None, max_size=None) as ws:
            await ws.send(json.dumps({"op": "subscribe", "topics": ["frames"]}))
            got = [info for info, _ in await recv_frames(ws, 12) if info.stream == 2]
        assert got and (got[-1].width, got[-1].height) == (256, 256)  # the bicubic 2x GAN frames
        status = voice(srv, "painted")
        assert status["trained"] and status["model"] == "styles" and len(status["styles"]) >= 4
        assert srv.param("/painted/mix") == [1.0, 0.0, 0.0, 1.0]
    finally:
        srv.stop()

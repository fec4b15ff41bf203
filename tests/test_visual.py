"""The visual voice in a real server: frames that move under walk and freeze under hold, an
untrained model announced, two voices sharing one generator."""

from __future__ import annotations

import json
import time

import numpy as np
from websockets.asyncio.client import connect

from live.frames import JPEG
from tests.conftest import PATCHES, Server, start_server
from tests.livetools import decode, recv_frames, recv_json


async def test_frames_have_header_decode_and_change_under_walk(server: Server) -> None:
    async with connect(server.ws, compression=None) as ws:
        await ws.send(json.dumps({"op": "set", "path": "/visual/mode", "value": "walk"}))
        await ws.send(json.dumps({"op": "set", "path": "/visual/speed", "value": 8}))
        frames = await recv_frames(ws, 30)
    infos = [info for info, _ in frames]
    assert all(i.format == JPEG and i.stream == 0 for i in infos)
    assert all((i.width, i.height) == (64, 64) for i in infos)
    seqs = [i.seq for i in infos]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    now_us = time.time() * 1e6
    assert all(abs(i.render_us - now_us) < 120e6 for i in infos)
    first, last = decode(frames[0][1]), decode(frames[-1][1])
    assert first.shape == (64, 64, 3)
    assert np.abs(first - last).mean() > 1.0  # the picture moves


async def test_hold_freezes_the_picture(server: Server) -> None:
    async with connect(server.ws, compression=None) as ws:
        await ws.send(json.dumps({"op": "set", "path": "/visual/transition", "value": 0}))
        await ws.send(json.dumps({"op": "set", "path": "/visual/mode", "value": "hold", "id": 1}))
        ack = await recv_json(ws, "ack")
        frames = await recv_frames(ws, 10)
        held = [decode(p) for info, p in frames if info.stamp >= ack["stamp"]][-3:]
        await ws.send(json.dumps({"op": "set", "path": "/visual/mode", "value": "walk"}))
    assert len(held) >= 2
    assert np.abs(held[0] - held[-1]).mean() < 0.5


def test_untrained_model_is_announced(server: Server) -> None:
    assert server.ready["untrained"] == ["visual"]
    assert any("UNTRAINED" in line for line in server.stderr_lines)


async def test_two_voices_share_a_model_and_stream_separately() -> None:
    srv = start_server(patch=PATCHES / "two_streams.toml")
    try:
        status = srv.get_json("/status")["voices"]
        assert set(status) == {"left", "right"}
        assert srv.param("/right/mode") == "hold" and srv.param("/left/mode") == "walk"
        async with connect(srv.ws, compression=None) as ws:
            frames = await recv_frames(ws, 30)
        by_stream: dict[int, list[np.ndarray]] = {}
        for info, payload in frames:
            by_stream.setdefault(info.stream, []).append(decode(payload))
        assert set(by_stream) == {0, 1}
        assert srv.get_json("/status")["voices"]["left"]["batch"] == 2  # one forward, both
        # Different seeds draw different pictures from the one shared generator.
        assert np.abs(by_stream[0][-1] - by_stream[1][-1]).mean() > 1.0
    finally:
        assert srv.stop() == 0

"""The real server end to end: frames over WebSocket, control over WebSocket and OSC."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import socket
import time

import numpy as np
from PIL import Image
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from websockets.asyncio.client import connect

from live.frames import JPEG, unpack
from tests.conftest import PATCHES, Server, start_server


def osc_packet(address: str, *args) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def osc_roundtrip(server: Server, data: bytes, timeout: float = 2.0) -> OscMessage | None:
    """Send one datagram from a fresh socket; return the reply (an /error) if one comes."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(timeout)
        s.sendto(data, server.osc)
        try:
            reply, _ = s.recvfrom(65536)
        except TimeoutError:
            return None
    return OscMessage(reply)


async def recv_frames(ws, n: int, timeout: float = 20.0) -> list[tuple]:
    """The next n binary frames (info, payload), skipping JSON messages."""
    out = []
    async with asyncio.timeout(timeout):
        while len(out) < n:
            msg = await ws.recv()
            if isinstance(msg, bytes):
                out.append(unpack(msg))
    return out


async def recv_json(ws, op: str, timeout: float = 10.0) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.recv()
            if isinstance(msg, str) and (data := json.loads(msg))["op"] == op:
                return data


def decode(payload: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(payload)).convert("RGB"), dtype=np.float32)


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


async def test_set_ack_stamp_reaches_frames_and_get(server: Server) -> None:
    async with connect(server.ws, compression=None) as ws:
        await ws.send(json.dumps({"op": "set", "path": "/visual/speed", "value": 2.5, "id": 7}))
        ack = await recv_json(ws, "ack")
        assert ack["id"] == 7 and isinstance(ack["stamp"], int)
        async with asyncio.timeout(10):
            while True:
                (info, _), = await recv_frames(ws, 1)
                if info.stamp >= ack["stamp"]:
                    break
        await ws.send(json.dumps({"op": "get", "path": "/visual/speed", "id": 8}))
        value = await recv_json(ws, "value")
    assert value == {"op": "value", "id": 8, "path": "/visual/speed", "value": 2.5,
                     "stamp": ack["stamp"]}


async def test_osc_changes_parameter_schema_and_frame_stamps(server: Server) -> None:
    async with connect(server.ws, compression=None) as ws:
        before = server.get_json("/schema")["stamp"]
        assert osc_roundtrip(server, osc_packet("/visual/truncation", 0.25), timeout=0.5) is None
        assert server.param("/visual/truncation") == 0.25
        stamp = server.get_json("/schema")["stamp"]
        assert stamp > before
        async with asyncio.timeout(10):
            while (await recv_frames(ws, 1))[0][0].stamp < stamp:
                pass


async def test_osc_xy_vector_and_bundle_with_far_future_timetag(server: Server) -> None:
    from pythonosc.osc_bundle_builder import OscBundleBuilder

    assert osc_roundtrip(server, osc_packet("/visual/xy", 0.5, -0.5), timeout=0.5) is None
    assert server.param("/visual/xy") == [0.5, -0.5]
    bundle = OscBundleBuilder(time.time() + 3600)  # an hour ahead: applied now, loop not held
    bundle.add_content(OscMessage(osc_packet("/visual/speed", 0.75)))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(bundle.build().dgram, server.osc)
    deadline = time.monotonic() + 5
    while server.param("/visual/speed") != 0.75 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.param("/visual/speed") == 0.75
    assert server.get_json("/status")["uptime_s"] > 0  # the loop still answers


def test_osc_bad_input_gets_error_and_changes_nothing(server: Server) -> None:
    speed = server.param("/visual/speed")
    cases = {
        osc_packet("/visual/speed", 99.0): ["/visual/speed", "99", "[0, 8]"],
        osc_packet("/visual/speed", "fast"): ["/visual/speed", "fast", "number"],
        osc_packet("/visual/nope", 1.0): ["unknown parameter", "/visual/nope"],
        osc_packet("/visual/mode", "spin"): ["/visual/mode", "spin", "walk"],
        osc_packet("/visual/speed"): ["/visual/speed", "no arguments"],
        osc_packet("/visual/xy", 0.1, 0.2, 0.3): ["/visual/xy", "3 values", "2 numbers"],
        b"\x00\x01garbage": ["malformed OSC"],
        b"/visual/speed\x00\x00\x00,f\x00": ["malformed OSC"],  # truncated float
    }
    for data, expected in cases.items():
        reply = osc_roundtrip(server, data)
        assert reply is not None, f"no /error for {data!r}"
        assert reply.address == "/error"
        text = reply.params[0]
        for part in expected:
            assert part in text, (part, text)
    assert server.param("/visual/speed") == speed


async def test_websocket_bad_input_gets_error_and_changes_nothing(server: Server) -> None:
    speed = server.param("/visual/speed")
    stamp = server.get_json("/schema")["stamp"]
    cases = [
        (json.dumps({"op": "set", "path": "/visual/speed", "value": -1, "id": 1}),
         ["/visual/speed", "-1", "[0, 8]"]),
        (json.dumps({"op": "set", "path": "/visual/speed", "value": "x", "id": 2}),
         ["/visual/speed", "'x'"]),
        (json.dumps({"op": "set", "path": "/visual/speed", "value": float("nan")}),
         ["/visual/speed", "finite"]),
        (json.dumps({"op": "set", "path": "/nope", "value": 1}), ["unknown parameter"]),
        (json.dumps({"op": "fly"}), ["unknown op"]),
        (json.dumps([1, 2]), ["JSON object"]),
        ("{not json", ["malformed JSON"]),
        (b"\x00\x01\x02", ["binary messages are not accepted"]),
        (json.dumps({"op": "set", "path": "/visual/speed", "value": [1] * 40000}),
         ["bytes refused", "65536"]),
        (json.dumps({"op": "subscribe", "topics": ["frames", "gossip"]}), ["topics"]),
        (json.dumps({"op": "set", "path": "/visual/latent", "value": [0.1, 0.2]}),
         ["/visual/latent", "2 values"]),
    ]
    async with connect(server.ws, compression=None, max_size=2**22) as ws:
        for message, expected in cases:
            await ws.send(message)
            err = await recv_json(ws, "error")
            for part in expected:
                assert part in err["message"], (part, err)
        # Still alive and still streaming after all that.
        await recv_frames(ws, 2)
    assert server.param("/visual/speed") == speed
    assert server.get_json("/schema")["stamp"] == stamp


async def test_oversize_message_closes_only_that_connection(server: Server) -> None:
    async with connect(server.ws, compression=None) as other:
        async with connect(server.ws, compression=None, max_size=2**22) as ws:
            await ws.send("x" * (2 * 1024 * 1024))
            async with asyncio.timeout(10):
                while True:
                    try:
                        await ws.recv()
                    except Exception:
                        break
            assert ws.close_code == 1009  # message too big
        await recv_frames(other, 3)


async def test_subscribe_without_frames_stops_frames(server: Server) -> None:
    async with connect(server.ws, compression=None) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topics": ["status"], "id": 3}))
        await recv_json(ws, "ack")
        await recv_json(ws, "status")
        binary = 0
        try:
            async with asyncio.timeout(1.5):
                while True:
                    binary += isinstance(await ws.recv(), bytes)
        except TimeoutError:
            pass
        assert binary <= 2  # at most frames already in flight before the ack


def test_http_status_schema_and_page(server: Server) -> None:
    status = server.get_json("/status")
    assert status["voices"]["visual"]["kind"] == "visual"
    assert status["voices"]["visual"]["trained"] is False
    assert status["voices"]["visual"]["model"] == "random"
    assert isinstance(status["clients"], int) and status["uptime_s"] > 0
    params = {p["path"]: p for p in server.get_json("/schema")["params"]}
    for path in ("/visual/speed", "/visual/truncation", "/visual/mode", "/visual/xy",
                 "/visual/latent", "/visual/seed", "/visual/fps"):
        assert {"path", "type", "default", "value", "doc"} <= set(params[path])
    assert params["/visual/speed"]["range"] == [0, 8]
    assert params["/visual/mode"]["choices"] == ["walk", "loop", "hold", "xy"]
    status, page = server.get("/")
    assert status == 200 and b"<canvas" in page and b"/ws" in page
    for bad in ("/../server.py", "/missing.js", "/%2e%2e/server.py", "/web/../../server.py"):
        assert server.get(bad)[0] == 404, f"{bad} was served"


async def test_stalled_client_does_not_slow_another(server: Server) -> None:
    async with connect(server.ws, compression=None, max_queue=1) as stalled:
        await stalled.send(json.dumps({"op": "set", "path": "/visual/fps", "value": 30}))
        async with connect(server.ws, compression=None) as reader:
            await recv_frames(reader, 5)  # settle
            frames = await recv_frames(reader, 60)
        # The reader got nearly every frame rendered while the other never read one.
        seqs = [info.seq for info, _ in frames]
        assert len(seqs) / (seqs[-1] - seqs[0] + 1) > 0.9
        assert server.get_json("/status")["clients"] >= 1


def test_sigterm_and_sigint_stop_cleanly() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        srv = start_server()
        t0 = time.monotonic()
        assert srv.stop(sig) == 0
        assert time.monotonic() - t0 < 10  # generous; the contract's 5 s is in bench
        assert not any("Traceback" in line for line in srv.stderr_lines)


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

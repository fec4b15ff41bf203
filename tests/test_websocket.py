"""HTTP and the WebSocket of a real server: set/get with stamps, refusals, limits, subscriptions,
/status, /schema and the page, a stalled client that slows no other, and the param topic."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import connect

from tests.conftest import Server
from tests.livetools import recv_frames, recv_json, send


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
    assert params["/visual/mode"]["choices"] == ["walk", "loop", "hold", "xy", "recommend"]
    status, page = server.get("/")
    assert status == 200 and b"<canvas" in page and b"/ws" in page
    for bad in ("/../server.py", "/missing.js", "/%2e%2e/server.py", "/web/../../server.py"):
        assert server.get(bad)[0] == 404, f"{bad} was served"


async def test_stalled_client_does_not_slow_another(server: Server) -> None:
    # close_timeout: a client that never reads cannot see the server's close frame, so its
    # close handshake waits this long (websockets' default is 10 s of nothing).
    async with connect(server.ws, compression=None, max_queue=1, close_timeout=1) as stalled:
        await stalled.send(json.dumps({"op": "set", "path": "/visual/fps", "value": 30}))
        async with connect(server.ws, compression=None) as reader:
            await recv_frames(reader, 5)  # settle
            frames = await recv_frames(reader, 60)
        # The reader got nearly every frame rendered while the other never read one.
        seqs = [info.seq for info, _ in frames]
        assert len(seqs) / (seqs[-1] - seqs[0] + 1) > 0.9
        assert server.get_json("/status")["clients"] >= 1


async def test_param_topic_pushes_every_change_from_any_source(server: Server) -> None:
    async with connect(server.ws, compression=None) as watcher, \
            connect(server.ws, compression=None) as setter:
        await watcher.send(json.dumps({"op": "subscribe", "topics": ["param"], "id": 1}))
        await recv_json(watcher, "ack")
        await setter.send(json.dumps({"op": "set", "path": "/visual/xy", "value": [0.25, -0.5],
                                      "id": 2}))
        ack = await recv_json(setter, "ack")
        param = await recv_json(watcher, "param")
        assert param == {"op": "param", "path": "/visual/xy", "value": [0.25, -0.5],
                         "stamp": ack["stamp"], "source": "ws"}
        send(server, "/visual/mode", "hold")  # OSC over UDP
        param = await recv_json(watcher, "param")
        assert (param["path"], param["value"], param["source"]) == ("/visual/mode", "hold", "osc")
        assert param["stamp"] > ack["stamp"]
        # A client subscribed to everything (the default) gets it too, frames around it.
        await setter.send(json.dumps({"op": "set", "path": "/visual/mode", "value": "walk"}))
        seen = [await recv_json(setter, "param") for _ in range(3)]  # its xy, the OSC mode, this
        assert [(p["path"], p["value"], p["source"]) for p in seen] == [
            ("/visual/xy", [0.25, -0.5], "ws"), ("/visual/mode", "hold", "osc"),
            ("/visual/mode", "walk", "ws")]

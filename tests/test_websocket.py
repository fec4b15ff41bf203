"""HTTP and the WebSocket of a real server: set/get with stamps, refusals, limits, subscriptions,
/status, /schema and the page, a stalled client that slows no other, and the param topic."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time

import pytest
from websockets.asyncio.client import connect
from websockets.sync.client import connect as sync_connect

from tests.conftest import PATCHES, Server, poll_until, start_server
from tests.livetools import recv_frames, recv_json, send, write_patch


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


def raw_handshake(port: int, path: str = "/ws") -> tuple[socket.socket, str]:
    """A WebSocket handshake by hand: the socket and the server's status line."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return sock, head.split(b"\r\n", 1)[0].decode()


def abort(sock: socket.socket) -> None:
    """Close with a reset, as a client that vanishes mid-frame does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_a_flood_of_sets_is_rate_limited_and_the_last_acked_value_holds(tmp_path) -> None:
    """A patch's control_per_s (20 here: a bucket of 40) against a burst of 200 sets: each
    refused one is answered, and the parameter ends at the last acknowledged value."""
    patch = write_patch(tmp_path, (PATCHES / "small.toml").read_text()
                        + "\n[server]\ncontrol_per_s = 20\n")
    server = start_server(patch=patch)
    try:
        limits = server.get_json("/schema")["limits"]
        assert limits["control_per_s"] == 20 and limits["control_burst"] == 40
        n = 200  # its replies fit the connection's queue of pending events
        with sync_connect(server.ws, compression=None, max_queue=None) as ws:
            ws.send(json.dumps({"op": "subscribe", "topics": []}))
            for i in range(n):  # as fast as the socket takes them: far over the rate
                ws.send(json.dumps({"op": "set", "path": "/visual/speed",
                                    "value": round(0.01 * (i + 1), 3), "id": i}))
            acked, limited = [], 0
            while len(acked) + limited < n:
                msg = ws.recv(timeout=20)
                if isinstance(msg, bytes):
                    continue  # a frame sent before the subscription changed
                reply = json.loads(msg)
                if reply["op"] == "ack" and reply["id"] is not None:
                    acked.append(reply["id"])
                elif reply["op"] == "error":
                    assert "rate limit: at most 20 messages a second" in reply["message"], reply
                    limited += 1
        assert limited > 0 and 40 - 1 <= len(acked) < n  # the bucket, less the subscribe
        assert server.param("/visual/speed") == round(0.01 * (acked[-1] + 1), 3)
        assert server.get_json("/status")["websocket"]["rate_limited"] >= limited
    finally:
        assert server.stop() == 0


def test_too_many_connections_are_refused_and_the_rest_still_served(server: Server) -> None:
    limit = server.get_json("/schema")["limits"]["connections"]
    open_before = server.get_json("/status")["websocket"]["connections"]
    held = []
    try:
        for _ in range(limit - open_before):
            sock, line = raw_handshake(server.ready["http_port"])
            held.append(sock)
            assert " 101 " in line, line
        sock, line = raw_handshake(server.ready["http_port"])
        held.append(sock)
        assert " 503 " in line, line
        assert server.get_json("/status")["websocket"]["refused"] >= 1
    finally:
        for sock in held:
            abort(sock)
    poll_until(lambda: server.get_json("/status")["websocket"]["connections"] <= open_before)
    sock, line = raw_handshake(server.ready["http_port"])  # room again
    abort(sock)
    assert " 101 " in line, line


def test_slow_loris_handshakes_are_closed_and_block_nobody(server: Server) -> None:
    timeout = server.get_json("/schema")["limits"]["open_timeout_s"]
    loris = []
    for _ in range(50):
        sock = socket.create_connection(("127.0.0.1", server.ready["http_port"]), timeout=30)
        sock.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the rest
        loris.append(sock)
    try:
        assert server.get("/status")[0] == 200  # others are served meanwhile
        t0 = time.monotonic()
        for sock in loris:  # each is closed by the server (recv would time out after 30 s)
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
            assert not reply.startswith(b"HTTP/1.1 101"), reply[:100]
        assert time.monotonic() - t0 < timeout + 10
    finally:
        for sock in loris:
            sock.close()


@pytest.mark.parametrize("path", [
    "/../server.py", "/%2e%2e/server.py", "/%252e%252e/server.py", "/..%2fserver.py",
    "/..%252fserver.py", "/web/../../server.py", "/.%2e/.%2e/etc/passwd", "/%2e%2e%5cserver.py",
    "/....//....//server.py", "/index.html%00.js", "/.git/config", "/livegen.js/..",
    "//etc/passwd", "/" + "a" * 3000, "/nosuch",
])
def test_http_traversal_and_unknown_paths_are_not_found(server: Server, path: str) -> None:
    status, body = server.get(path)
    assert status == 404, (status, body[:100])
    assert body.startswith(b"not found"), body[:100]


def test_oversized_headers_and_bodies_are_refused(server: Server) -> None:
    def exchange(request: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", server.ready["http_port"]), timeout=10) as s:
            s.sendall(request)
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
            return reply
    host = b"Host: 127.0.0.1\r\n"
    big_header = exchange(b"GET /status HTTP/1.1\r\n" + host + b"X-Junk: " + b"a" * 70_000 +
                          b"\r\n\r\n")
    many_headers = exchange(b"GET /status HTTP/1.1\r\n" + host +
                            b"".join(b"X-%d: 1\r\n" % i for i in range(500)) + b"\r\n")
    body = exchange(b"POST /status HTTP/1.1\r\n" + host + b"Content-Length: 10000000\r\n\r\n" +
                    b"x" * 100_000)
    for reply in (big_header, many_headers, body):
        assert not reply.startswith(b"HTTP/1.1 200"), reply[:200]
    assert server.get("/status")[0] == 200  # and the server goes on


async def test_a_thousand_connections_come_and_go_and_leave_nothing_behind(server: Server) -> None:
    """Clean closes, clients that vanish mid-frame and clients that never read: no task, file
    descriptor, thread or memory is left once they are gone."""
    port = server.ready["http_port"]

    async def polite() -> None:
        async with connect(server.ws, compression=None) as ws:
            await recv_frames(ws, 1)

    def vanish_mid_frame() -> None:
        sock, line = raw_handshake(port)
        assert " 101 " in line, line
        sock.recv(7)  # a few bytes of a frame, and gone with a reset
        abort(sock)

    def never_read() -> None:
        sock, line = raw_handshake(port)
        assert " 101 " in line, line
        time.sleep(0.2)  # frames pile up unread
        sock.close()

    async def cycles(n: int) -> None:
        for i in range(0, n, 20):  # 20 at a time
            await asyncio.gather(*(polite() if k % 3 == 0 else
                                   asyncio.to_thread(vanish_mid_frame if k % 3 == 1 else never_read)
                                   for k in range(i, i + 20)))

    def settled() -> dict:
        poll_until(lambda: server.get_json("/status")["websocket"]["connections"] == 0)
        time.sleep(0.5)
        return server.get_json("/status")["process"]

    await cycles(100)  # warm: first-use allocations are not leaks
    before = await asyncio.to_thread(settled)
    await cycles(1000)
    after = await asyncio.to_thread(settled)
    print("before", before, "after", after)
    assert after["tasks"] <= before["tasks"]
    assert after["threads"] <= before["threads"] + 2  # a pool may start a worker late: not per cycle
    assert after["fds"] <= before["fds"]
    assert after["rss_mib"] < before["rss_mib"] * 1.05

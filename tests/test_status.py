"""The status feed: /status/... to OSC subscribers and the WebSocket status topic, from a live
server (beats with their bars, frame rates, the loop's turns, errors) and in unit."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import pytest
from pythonosc.osc_message import OscMessage
from websockets.asyncio.client import connect

from live.params import ParamError
from live.status import ERRORS_PER_S, MAX_SUBSCRIBERS, StatusFeed
from tests.conftest import Server
from tests.livetools import osc, write_patch

PATCH = """\
[clock]
bpm = 240
beats_per_bar = 3

[voices.visual]
kind = "visual"
model = "random"
resolution = 32
fps = 15
mode = "loop"
speed = 8.0      # one turn of the loop in 2 s

[voices.music]
kind = "music"
model = "random"
"""


class Feed:
    """A StatusFeed with its outputs collected."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.sent: list[tuple[tuple[str, int], str, tuple[Any, ...]]] = []
        self.feed = StatusFeed(asyncio.new_event_loop(), lambda t, m: self.published.append((t, m)))
        self.feed.reply = lambda to, address, *args: self.sent.append((to, address, args))


def test_subscribers_get_plain_fields_in_order_and_the_websocket_all_of_them() -> None:
    f = Feed()
    f.feed.osc_routes()["/status/subscribe"]([], ("127.0.0.1", 5000))
    f.feed.osc_routes()["/status/subscribe"]([6000], ("127.0.0.1", 5001))
    assert f.sent == [(("127.0.0.1", 5000), "/status/subscribed", (1,)),
                      (("127.0.0.1", 6000), "/status/subscribed", (2,))]
    f.sent.clear()
    f.feed.event("reloaded", patch="p.toml", kept=["a"], values=3)
    assert f.published == [("status", {"op": "reloaded", "patch": "p.toml", "kept": ["a"], "values": 3})]
    assert f.sent == [(to, "/status/reloaded", ("p.toml", 3)) for to in
                      (("127.0.0.1", 5000), ("127.0.0.1", 6000))]
    f.feed.event("fps", ws=False, voice="v", fps=30.0)
    assert len(f.published) == 1 and f.sent[-1][1:] == ("/status/fps", ("v", 30.0))
    f.feed.osc_routes()["/status/unsubscribe"]([6000], ("127.0.0.1", 5001))
    assert f.feed.subscribers == [("127.0.0.1", 5000)]


def test_bad_subscriptions_are_refused_and_change_nothing() -> None:
    f = Feed()
    subscribe = f.feed.osc_routes()["/status/subscribe"]
    for bad in (["9000"], [0], [70000], [True], [1.5]):
        with pytest.raises(ParamError, match="port"):
            subscribe(bad, ("127.0.0.1", 5000))
    assert f.feed.subscribers == []
    for port in range(MAX_SUBSCRIBERS):
        subscribe([1000 + port], ("127.0.0.1", 5000))
    with pytest.raises(ParamError, match="subscribers already"):
        subscribe([], ("127.0.0.1", 5000))
    assert len(f.feed.subscribers) == MAX_SUBSCRIBERS


def test_errors_are_rate_limited_and_the_rest_counted() -> None:
    f = Feed()
    for k in range(ERRORS_PER_S + 5):
        f.feed.error(f"bad {k}")
    assert len(f.published) == ERRORS_PER_S and f.feed.errors_dropped == 5
    assert f.published[0][1] == {"op": "error", "level": "warning", "text": "bad 0"}


# -- a live server -----------------------------------------------------------------------------------
def collect(sock: socket.socket, seconds: float) -> list[OscMessage]:
    out, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            data, _ = sock.recvfrom(65536)
        except TimeoutError:
            break
        out.append(OscMessage(data))
    return out


async def test_a_subscriber_gets_beats_bars_fps_loop_turns_and_errors(run_server, tmp_path) -> None:
    server: Server = run_server(patch=write_patch(tmp_path, PATCH))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.sendto(osc("/status/subscribe"), server.osc)
        async with connect(server.ws, compression=None) as ws:
            await ws.send(json.dumps({"op": "subscribe", "topics": ["status"]}))
            got = await asyncio.to_thread(collect, sock, 2.0)
            sock.sendto(osc("/visual/speed", "fast"), server.osc)  # refused: a status error too
            got += await asyncio.to_thread(collect, sock, 3.0)
            ops: set[str] = set()
            async with asyncio.timeout(10):
                while not {"beat", "loop", "error", "status"} <= ops:
                    msg = await ws.recv()
                    if isinstance(msg, str):
                        ops.add(json.loads(msg)["op"])
    by = {m.address for m in got}
    assert "/status/subscribed" in by, by
    beats = [list(m.params) for m in got if m.address == "/status/beat"]
    assert len(beats) >= 12  # 240 bpm: four a second
    numbers = [b[0] for b in beats]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # none missed
    assert all(bar == n // 3 and in_bar == n % 3 for n, bar, in_bar in beats)  # 3 to the bar
    fps = [list(m.params) for m in got if m.address == "/status/fps"]
    assert fps and all(voice == "visual" for voice, _ in fps) and max(f for _, f in fps) > 0
    turns = [list(m.params) for m in got if m.address == "/status/loop"]
    assert turns and turns[0][0] == "visual" and turns[0][1] >= 1
    errors = [m.params[1] for m in got if m.address == "/status/error"]
    assert any("/visual/speed" in text and "fast" in text for text in errors), errors

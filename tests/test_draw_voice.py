"""The drawing voice end to end: points and stroke blobs over real UDP OSC and a real WebSocket,
a prime continued from its last point, the composite in a visual voice's frames, refusals,
recording and replay."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import numpy as np
import torch
from websockets.asyncio.client import connect

from live.frames import RGBA, unpack
from live.record.recorder import read_events
from live.voices.draw import DrawGen, load_draw_model
from tests.livetools import replay, send, stop_cleanly

DRAW = """
[voices.draw]
kind = "draw"
model = "random"
rate = 80
pause = 0.05
temperature = 0.3
"""

# A still frame (speed 0, raw RGBA) and the strokes drawn into it once /draw/onto names it.
COMPOSITE = """
[voices.visual]
kind = "visual"
model = "random"
resolution = 64
fps = 20
speed = 0.0
format = "rgba"

[voices.draw]
kind = "draw"
model = "random"
rate = 60
pause = 0.0
temperature = 1.0
color = [1.0, 0.0, 0.0]
width = 1
"""


def patch(tmp_path: Path, text: str = DRAW) -> Path:
    path = tmp_path / "draw.toml"
    path.write_text(text)
    return path


def runs(points: list[tuple[float, float, int]]) -> list[list[tuple[float, float]]]:
    """The strokes a point sequence makes: a stroke ends at each point whose pen is not 1."""
    out, cur = [], []
    for x, y, pen in points:
        cur.append((x, y))
        if pen != 1:
            out.append(cur)
            cur = []
    return out


def test_points_and_stroke_blobs_over_osc_recorded_and_replayed(run_server, sink, tmp_path) -> None:
    server = run_server(patch=patch(tmp_path))
    sink.wait_for(lambda: sink.count("/draw/point") >= 120 and sink.count("/draw/stroke") >= 10)
    stop_cleanly(server, sink)

    points = [r.args for r in sink.of("/draw/point")]
    for x, y, pen in points:  # the wire types: f f i
        assert isinstance(x, float) and isinstance(y, float) and isinstance(pen, int)
        assert 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0 and pen in (0, 1, 2)
    assert {p[2] for p in points} >= {0, 1}
    # Each blob is its stroke's points as little-endian float32 pairs, in the order drawn
    # (the one restart at the start: no stroke is cut short).
    blobs = [r.args[0] for r in sink.of("/draw/stroke")]
    strokes = [np.frombuffer(b, "<f4").reshape(-1, 2) for b in blobs]
    expected = runs([tuple(p) for p in points])
    assert len(strokes) >= 10
    for got, want in zip(strokes, expected, strict=False):
        assert got.shape == (len(want), 2)
        assert np.allclose(got, np.array(want, np.float32), atol=1e-6)
    assert sink.count("/draw/clear") >= 1 + sum(p[2] == 2 for p in points[:-1]) - 1

    # Every point sent is in the recording, and the replay draws them again.
    rec = tmp_path / "rec"
    events, _ = read_events(rec / "events.jsonl")
    drawn = [e for e in events if e["type"] == "draw" and e["voice"] == "draw"]
    assert len(drawn) == len(points)
    assert all(math.isclose(e["x"], p[0], abs_tol=1e-6) and e["pen"] == p[2]
               for e, p in zip(drawn, points, strict=True))
    code, summary = replay(rec, "--check")
    assert code == 0, summary
    assert summary["draw"]["draw"]["identical"] == summary["draw"]["draw"]["stretches"] >= 1
    assert summary["draw"]["draw"]["points"] == len(points)


async def test_points_and_strokes_over_websocket(run_server, sink, tmp_path) -> None:
    server = run_server(patch=patch(tmp_path))
    points: list[tuple[float, float, int]] = []
    strokes: list[list[list[float]]] = []
    async with connect(server.ws) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topics": ["draw"], "id": 1}))
        async with asyncio.timeout(20):
            while len(strokes) < 8:
                msg = json.loads(await ws.recv())
                if msg["op"] != "draw":
                    continue
                assert msg["voice"] == "draw"
                if msg["kind"] == "point":
                    points.append((msg["x"], msg["y"], msg["pen"]))
                elif msg["kind"] == "stroke" and points:  # skip one begun before we listened
                    strokes.append(msg["points"])
    stop_cleanly(server, sink)
    # The strokes are the runs of points cut where the pen lifts (exact: JSON carries doubles).
    made = runs(points)
    assert len(made) >= len(strokes) - 1
    assert [[tuple(p) for p in s] for s in strokes[1:]] == made[1:len(strokes)]


def refuse_bad_input(server) -> None:
    """Each bad value gets /error with what was expected; none changes a parameter."""
    error = send(server, "/draw/class", "nosuch", reply=True)
    assert error is not None and "/draw/class" in error and "one of one, two" in error
    error = send(server, "/draw/prime", 0.5, float("nan"), 1, reply=True)
    assert error is not None and "/draw/prime" in error and "not three finite numbers" in error
    error = send(server, "/draw/prime", 0.5, 1.5, 1, reply=True)
    assert error is not None and "out of range" in error
    error = send(server, "/draw/prime", 0.5, 0.5, 3, reply=True)
    assert error is not None and "out of range" in error
    error = send(server, "/draw/prime", 0.5, 0.5, reply=True)
    assert error is not None and "x y pen triples" in error
    many = [v for i in range(501) for v in (0.5, i / 501, 1)]
    error = send(server, "/draw/prime", *many, reply=True)
    assert error is not None and "at most 500 points, not 501" in error
    error = send(server, "/draw/rate", 0.0, reply=True)
    assert error is not None and "/draw/rate" in error
    assert server.param("/draw/class") == "one" and server.param("/draw/prime") == []
    assert server.param("/draw/rate") == 80.0


def test_bad_input_changes_nothing_and_a_prime_continues_from_its_last_point(
        run_server, sink, tmp_path) -> None:
    server = run_server(patch=patch(tmp_path))
    sink.wait_for(lambda: sink.count("/draw/point") >= 20)
    refuse_bad_input(server)
    n = sink.count("/draw/point")
    sink.wait_for(lambda: sink.count("/draw/point") >= n + 10)  # drawing goes on
    # A stroke down to the bottom right; the pen is still down at its last point.
    prime = [0.5, 0.5, 1, 0.7, 0.7, 1, 0.9, 0.85, 1]
    assert send(server, "/draw/prime", *prime, reply=True) is None
    n = sink.count("/draw/point")
    sink.wait_for(lambda: sink.count("/draw/point") >= n + 40)
    stop_cleanly(server, sink)

    events, _ = read_events(tmp_path / "rec" / "events.jsonl")
    restarts = [e for e in events if e["type"] == "gen" and e["op"] == "restart"]
    assert len(restarts) == 2  # the start and the prime: no refusal restarted anything
    assert [e["path"] for e in events if e["type"] == "param" and e["source"] == "osc"] \
        == ["/draw/prime"]  # and none was recorded as applied
    primed = [e for e in restarts if e["prime"]]
    assert len(primed) == 1 and primed[0]["fed"] == 3
    got = primed[0]["prime"]
    assert np.allclose(np.array(got), np.array(prime).reshape(-1, 3), atol=1e-6)  # float32 OSC
    r = primed[0]["restarts"]
    after = [(e["x"], e["y"], e["pen"]) for e in events if e["type"] == "draw"
             and e["restarts"] == r]
    assert len(after) >= 10
    # The first point drawn after the prime is a small step from its last point, far from
    # where an unprimed drawing starts (the top left of the canvas).
    last = np.array(got[-1][:2])
    first = np.array(after[0][:2])
    assert np.linalg.norm(first - last) < 0.1
    assert np.linalg.norm(first - np.array([0.1, 0.1])) > 0.7
    # ...and it is what the model says after that prime, with the voice's seed.
    model, _ = load_draw_model({"model": "random"}, torch.device("cpu"))
    gen = DrawGen(model, "draw", 0)
    gen.restarts = r - 1
    gen.restart(primed[0]["class"], tuple((x, y, int(p)) for x, y, p in got))
    again = [gen.step(0.3) for _ in range(len(after))]
    assert np.allclose(np.array(again), np.array(after), atol=1e-6)


async def test_bad_input_over_websocket_gets_an_error_and_changes_nothing(
        run_server, sink, tmp_path) -> None:
    server = run_server(patch=patch(tmp_path))
    bad = [("/draw/class", "nosuch", "one of one, two"),
           ("/draw/prime", [[0.5, float("nan"), 1]], "not three finite numbers"),  # JSON NaN
           ("/draw/prime", [[0.5, None, 1]], "not three finite numbers"),
           ("/draw/prime", [[0.5, 0.5, 1], [1.2, 0.5, 0]], "point 1 is out of range"),
           ("/draw/prime", [[0.5, 0.5, 1], [0.5, 0.5, -1]], "point 1 is out of range"),
           ("/draw/prime", [[0.5, 0.5]], "x y pen triples"),
           ("/draw/prime", "0.5 0.5 1", "x y pen triples"),
           ("/draw/prime", [[0.5, i / 600, 1] for i in range(501)], "at most 500 points, not 501"),
           ("/draw/temperature", float("inf"), "/draw/temperature"),
           ("/draw/rate", 5000, "/draw/rate")]
    async with connect(server.ws) as ws:
        for i, (path, value, expected) in enumerate(bad):
            await ws.send(json.dumps({"op": "set", "path": path, "value": value, "id": 100 + i}))
            async with asyncio.timeout(10):
                while (m := json.loads(await ws.recv())).get("id") != 100 + i:
                    pass
            assert m["op"] == "error" and path in m["message"] and expected in m["message"], m
    assert server.param("/draw/class") == "one" and server.param("/draw/prime") == []
    assert server.param("/draw/rate") == 80.0 and server.param("/draw/temperature") == 0.3
    stop_cleanly(server, sink)


def rgba(payload: bytes, info) -> np.ndarray:
    return np.frombuffer(payload, np.uint8).reshape(info.height, info.width, 4)[..., :3]


def near_segments(h: int, w: int, pts: list[tuple[float, float, int]], radius: float) -> np.ndarray:
    """(H, W) bool: pixels within radius of a drawn segment (pen 1 at its start)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    mask = np.zeros((h, w), bool)
    for (x0, y0, p0), (x1, y1, _) in zip(pts, pts[1:], strict=False):
        if p0 != 1:
            continue
        ax, ay, bx, by = x0 * (w - 1), y0 * (h - 1), x1 * (w - 1), y1 * (h - 1)
        dx, dy = bx - ax, by - ay
        t = np.clip(((xx - ax) * dx + (yy - ay) * dy) / max(dx * dx + dy * dy, 1e-12), 0, 1)
        mask |= np.hypot(xx - ax - t * dx, yy - ay - t * dy) <= radius
    return mask


async def test_composite_draws_where_the_pen_went(run_server, sink, tmp_path) -> None:
    server = run_server(patch=patch(tmp_path, COMPOSITE))
    points: list[tuple[float, float, int]] = []  # every point drawn while we listen
    plain = frame = changed = None
    cleared = False
    async with connect(server.ws) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topics": ["frames", "draw"], "id": 1}))
        # A clear we see: from then on the picture holds only points we heard of.
        await ws.send(json.dumps({"op": "set", "path": "/draw/clear", "value": True, "id": 3}))
        async with asyncio.timeout(20):
            while True:
                msg = await ws.recv()
                if isinstance(msg, str):
                    m = json.loads(msg)
                    if m["op"] == "draw" and m["kind"] == "point":
                        points.append((m["x"], m["y"], m["pen"]))
                    elif m["op"] == "draw" and m["kind"] == "clear" and plain is None:
                        points, cleared = [], True  # the composite starts a new picture too
                    continue
                info, payload = unpack(msg)
                assert info.format == RGBA
                if not cleared:
                    continue
                if plain is None:  # the still frame, before the strokes are composited
                    plain = rgba(payload, info)
                    await ws.send(json.dumps({"op": "set", "path": "/draw/onto",
                                              "value": "visual", "id": 2}))
                    continue
                frame = rgba(payload, info)
                changed = np.any(frame != plain, axis=2)
                if changed.sum() >= 5:
                    break
        # The red lines so far: the still frame is untouched except on the pen's lines.
        assert np.all(frame[changed] == [255, 0, 0])
        allowed = near_segments(info.height, info.width, points, radius=1.5)
        assert not np.any(changed & ~allowed), "pixels changed where no line was drawn"
        # Colour and width are live: green lines 3 pixels wide from the next frames on.
        for i, (path, value) in enumerate([("/draw/color", [0.0, 1.0, 0.0]), ("/draw/width", 3.0)]):
            await ws.send(json.dumps({"op": "set", "path": path, "value": value, "id": 10 + i}))
        acks = 0
        async with asyncio.timeout(20):
            while True:
                msg = await ws.recv()
                if isinstance(msg, str):
                    m = json.loads(msg)
                    acks += m.get("id") in (10, 11) and m["op"] != "error"
                    if m["op"] == "draw" and m["kind"] == "point":
                        points.append((m["x"], m["y"], m["pen"]))
                    continue
                info, payload = unpack(msg)
                frame = rgba(payload, info)
                changed = np.any(frame != plain, axis=2)
                if acks == 2 and changed.sum() >= 5 and np.all(frame[changed] == [0, 255, 0]):
                    # Wide lines show once a segment longer than a few pixels is drawn: wait for
                    # one (a new drawing may start with dots), else the timeout fails the test.
                    thin = near_segments(info.height, info.width, points, radius=1.0)
                    if np.any(changed & ~thin):
                        break
    stop_cleanly(server, sink)
    assert not np.any(changed & ~near_segments(info.height, info.width, points, radius=2.5))

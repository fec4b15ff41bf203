"""The drawing overlay (live/web/draw.js) in Debian's Chromium against a real server, on its own
page (draw.html) and over the stream on the main page: the draw topic's lines on the canvas where
the server's points went, and a prime drawn by mouse that the voice continues."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from live.record.recorder import read_events
from live.voices.draw import DrawGen, load_draw_model
from tests.conftest import ROOT, Server, start_server
from tests.livetools import OscSink, stop_cleanly
from tests.model_helpers import shipped
from tests.webtools import launch, needs_chromium, open_page, poll

pytestmark = needs_chromium

DRAW_PATCH = ROOT / "patches" / "draw.toml"  # the shipped patch: textures under glyphs
UNTRAINED = """
[voices.visual]
kind = "visual"
model = "random"
resolution = 64
fps = 10

[voices.draw]
kind = "draw"
model = "random"
rate = 60
pause = 2.0
temperature = 0.8
"""

# The pen canvas's pixels as RGBA bytes, and what draw.js holds as the picture, read together.
READ = """() => {
    const c = document.getElementById('pen');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    return {w: c.width, h: c.height, data: Array.from(d), picture: window.drawPen.picture(),
            stats: {...window.drawPen.stats}};
}"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """patches/draw.toml where its models ship (else the same voices untrained)."""
    path = DRAW_PATCH
    if not (shipped("glyphs") and shipped("textures")):
        path = tmp_path / "draw.toml"
        path.write_text(UNTRAINED)
    srv = start_server("--osc-out", "127.0.0.1:9", patch=path)
    try:
        yield srv
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch()


def near(w: int, h: int, picture: list[list[float]], radius: float) -> np.ndarray:
    """(H, W) bool: pixels within radius of a line the picture draws (pen 1 at its start)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    mask = np.zeros((h, w), bool)
    for (x0, y0, p0), (x1, y1, _) in zip(picture, picture[1:], strict=False):
        if p0 != 1:
            continue
        ax, ay, bx, by = x0 * w, y0 * h, x1 * w, y1 * h
        dx, dy = bx - ax, by - ay
        t = np.clip(((xx - ax) * dx + (yy - ay) * dy) / max(dx * dx + dy * dy, 1e-12), 0, 1)
        mask |= np.hypot(xx - ax - t * dx, yy - ay - t * dy) <= radius
    return mask


def test_overlay_draws_the_points_and_sends_a_mouse_prime(server: Server, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 600, "height": 600})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.http + "/draw.html")
    page.wait_for_function("window.drawPen && window.drawPen.stats.points >= 6", timeout=20000)
    # A picture with lines in it: the canvas is lit on those lines and nowhere else.
    got = poll(lambda: page.evaluate(READ),
               lambda g: sum(p[2] == 1 for p in g["picture"][:-1]) >= 3, timeout=15)
    rgba = np.array(got["data"], np.uint8).reshape(got["h"], got["w"], 4)
    lit = rgba[..., 3] > 0
    assert lit.sum() > 20, got["stats"]
    allowed = near(got["w"], got["h"], got["picture"], radius=3.0)  # width 3, antialiased
    assert not np.any(lit & ~allowed), "pixels lit away from the drawn lines"
    opaque = rgba[lit & (rgba[..., 3] == 255)][:, :3].astype(int)  # #ff4040, up to rounding
    assert np.all(np.abs(opaque - [255, 64, 64]) <= 2), np.unique(opaque, axis=0)[:5]

    # A stroke drawn with the mouse becomes /draw/prime on the server, and comes back.
    box = page.locator("#pen").bounding_box()
    page.mouse.move(box["x"] + 300, box["y"] + 300)
    page.mouse.down()
    for k in range(1, 6):
        page.mouse.move(box["x"] + 300 + 10 * k, box["y"] + 300 + 8 * k)
    page.mouse.up()
    page.wait_for_function("window.drawPen.stats.sent >= 1 && window.drawPen.stats.primes >= 1",
                           timeout=10000)
    prime = next(p for p in server.get_json("/schema")["params"] if p["path"] == "/draw/prime")
    pts = np.array(prime["value"]).reshape(-1, 3)  # flat: x, y, pen, x, y, pen...
    assert len(pts) == 6 and pts[-1, 2] == 0 and np.all(pts[:-1, 2] == 1)
    assert np.allclose(pts[0, :2], [0.75, 0.75], atol=0.01)
    assert np.allclose(pts[-1, :2], [0.875, 0.85], atol=0.01)
    assert not errors, errors
    page.close()


# The main page's test patch: a still picture and two draw voices of the shipped glyph model (an
# untrained one ends its drawings after a point or two) in their own colours.
TWO_PENS = """
[voices.visual]
kind = "visual"
model = "random"
resolution = 64
fps = 10
speed = 0.0

[voices.draw]
kind = "draw"
model = "glyphs"
class = "kanji"
rate = 60
pause = 0.5
temperature = 0.4
color = [1.0, 0.25, 0.25]
width = 1

[voices.ink]
kind = "draw"
model = "glyphs"
class = "futural"
rate = 60
pause = 0.5
temperature = 0.4
color = [0.25, 0.5, 1.0]
width = 1
"""
needs_glyphs = pytest.mark.skipif(not shipped("glyphs"), reason="models/weights/glyphs is not there")


# One overlay canvas of the main page: its box on screen, its pixels (a PNG: a million numbers as
# JSON are slow) and what draw.js drew on it, read in one go (so the pixels are the picture's).
READ_LAYER = """(voice) => {
    const c = document.querySelector(`#draw-layer canvas[data-voice="${voice}"]`);
    const r = c.getBoundingClientRect();
    const s = window.livegenPage.drawLayer.stats()[voice];
    return {w: c.width, h: c.height, box: [r.x, r.y, r.width, r.height], png: c.toDataURL('image/png'),
            picture: s.picture, stats: s, events: getComputedStyle(c).pointerEvents};
}"""


def layer(page: Any, voice: str, segments: int = 0) -> dict[str, Any]:
    """READ_LAYER for a voice once its picture has that many drawn segments, pixels as RGBA."""
    got = poll(lambda: page.evaluate(READ_LAYER, voice),
               lambda g: sum(p[2] == 1 for p in g["picture"][:-1]) >= segments, timeout=20)
    with Image.open(io.BytesIO(base64.b64decode(got["png"].split(",", 1)[1]))) as im:
        got["rgba"] = np.asarray(im.convert("RGBA"))
    assert got["rgba"].shape == (got["h"], got["w"], 4)
    return got


def within(points: list[list[float]], sent: list[list[float]]) -> int:
    """Where `points` run, in order and unbroken, in `sent` (float32 over OSC); -1 if nowhere."""
    a, b = np.array(points, np.float64), np.array(sent, np.float64)
    for i in range(len(b) - len(a) + 1):
        if np.allclose(b[i:i + len(a)], a, atol=1e-6):
            return i
    return -1


def lines_drawn(read: dict[str, Any], server_points: list[list[float]], colour: list[int],
                width: float) -> None:
    """The canvas is lit on the server's lines (every segment, in the voice's colour) and nowhere
    else."""
    rgba = read["rgba"]
    lit = rgba[..., 3] > 0
    allowed = near(read["w"], read["h"], server_points, radius=width / 2 + 1.5)
    assert lit.sum() > 50, read["stats"]
    assert not np.any(lit & ~allowed), "pixels lit away from the server's lines"
    for (x0, y0, p0), (x1, y1, _) in zip(server_points, server_points[1:], strict=False):
        if p0 == 1:  # the middle of every segment the pen drew is lit
            mx, my = int((x0 + x1) / 2 * read["w"]), int((y0 + y1) / 2 * read["h"])
            assert lit[min(my, read["h"] - 1), min(mx, read["w"] - 1)], (x0, y0, x1, y1)
    opaque = rgba[lit & (rgba[..., 3] == 255)][:, :3].astype(int)
    assert len(opaque) > 20 and np.all(np.abs(opaque - colour) <= 2), np.unique(opaque, axis=0)[:5]


def drag(page: Any, box: list[float], path: list[tuple[float, float]]) -> None:
    """A mouse stroke through frame positions (0..1 of the overlay's box)."""
    x, y, w, h = box
    page.mouse.move(x + path[0][0] * w, y + path[0][1] * h)
    page.mouse.down()
    for fx, fy in path[1:]:
        page.mouse.move(x + fx * w, y + fy * h)
    page.mouse.up()


def two_pens(run_server: Any, tmp_path: Path, browser: Any, url: str,
             size: tuple[int, int]) -> tuple[Server, Any, Any]:
    """A server on TWO_PENS and the main page at url, once both voices have drawn."""
    path = tmp_path / "pens.toml"
    path.write_text(TWO_PENS)
    server = run_server(patch=path)
    page, console = open_page(browser, server.http + url, width=size[0], height=size[1])
    page.wait_for_function("(() => { const d = window.livegenPage.stats().draw;"
                           " return d.draw && d.ink && d.draw.points >= 5; })()", timeout=20000)
    return server, page, console


@needs_glyphs
def test_main_page_overlays_every_draw_voice_and_sends_a_mouse_prime(
        run_server: Any, sink: OscSink, tmp_path: Path, browser: Any) -> None:
    server, page, console = two_pens(run_server, tmp_path, browser, "/", (800, 500))
    assert page.locator("#pen").is_visible()
    for voice, colour in (("draw", [255, 64, 64]), ("ink", [64, 128, 255])):
        got = layer(page, voice, segments=4)
        # Over the letterboxed square picture of an 800 x 500 window, backing store to match.
        assert np.allclose(got["box"], [150, 0, 500, 500], atol=1), got["box"]
        assert (got["w"], got["h"]) == (500, 500)
        assert got["events"] == "none"  # not drawing: the pointer reaches the stream
        # What the page drew is what the server sent (its OSC points, to the sink)...
        sent = [r.args for r in sink.of(f"/{voice}/point")]
        at = within(got["picture"], sent)
        assert at >= 0, (got["picture"][:3], sent[:3])
        # ...and its pixels are those points' lines, 1 frame pixel (500 / 64 screen px) wide.
        lines_drawn(got, sent[at:at + len(got["picture"])], colour, width=500 / 64)

    # Not in drawing mode, a drag on the stream is no prime.
    box = layer(page, "draw")["box"]
    drag(page, box, [(0.3, 0.3), (0.4, 0.4), (0.5, 0.45)])
    page.wait_for_timeout(300)
    assert server.param("/draw/prime") == [] and page.evaluate(READ_LAYER, "draw")["stats"]["sent"] == 0

    # D: drawing mode on the first draw voice; a stroke with the mouse becomes its prime.
    page.keyboard.press("d")
    assert page.evaluate("window.livegenPage.stats().drawing") is True
    assert page.locator("#pen-toggle").get_attribute("aria-pressed") == "true"
    assert page.evaluate(READ_LAYER, "draw")["events"] == "auto"
    assert page.evaluate(READ_LAYER, "ink")["events"] == "none"
    stroke = [(0.5, 0.5 + 0.04 * k) for k in range(4)] + [(0.5 + 0.05 * k, 0.62) for k in range(1, 4)]
    drag(page, box, stroke)
    prime = np.array(poll(lambda: server.param("/draw/prime"), lambda v: len(v) > 0)).reshape(-1, 3)
    assert len(prime) == len(stroke) and prime[-1, 2] == 0 and np.all(prime[:-1, 2] == 1)
    assert np.allclose(prime[:, :2], stroke, atol=0.004)  # 2 px of 500
    assert server.param("/ink/prime") == []  # the other voice was not drawn on
    # The server echoes the prime (the page draws it), then the voice's next points.
    got = poll(lambda: page.evaluate(READ_LAYER, "draw"),
               lambda g: g["stats"]["primes"] >= 1 and len(g["picture"]) >= len(stroke) + 3)
    assert np.allclose(np.array(got["picture"][:len(stroke)]), prime, atol=1e-6), got["picture"][:8]
    after = got["picture"][len(stroke):]
    assert within(after, [r.args for r in sink.of("/draw/point")]) >= 0  # the server's points
    # The overlay follows the window: a tall one puts the square picture in the middle.
    page.set_viewport_size({"width": 500, "height": 800})
    page.wait_for_function("document.getElementById('draw-layer').getBoundingClientRect().y > 149")
    got = layer(page, "ink", segments=2)
    assert np.allclose(got["box"], [0, 150, 500, 500], atol=1)
    at = within(got["picture"], [r.args for r in sink.of("/ink/point")])
    assert at >= 0
    lines_drawn(got, [r.args for r in sink.of("/ink/point")][at:at + len(got["picture"])],
                [64, 128, 255], width=500 / 64)
    page.keyboard.press("d")
    assert page.evaluate("window.livegenPage.stats().drawing") is False
    assert console.real() == []
    page.close()

    # Those points are the model's continuation of that prime: its restart in the recording, and
    # the same model, seed and restart drawing them again from the prime's last point.
    stop_cleanly(server, sink)
    events, _ = read_events(tmp_path / "rec" / "events.jsonl")
    primed = [e for e in events if e["type"] == "gen" and e.get("voice") == "draw"
              and e["op"] == "restart" and e["prime"]]
    assert len(primed) == 1 and np.allclose(np.array(primed[0]["prime"]), prime, atol=1e-6)
    model, _ = load_draw_model({"model": "glyphs"}, torch.device("cpu"))
    gen = DrawGen(model, "draw", 0)
    gen.restarts = primed[0]["restarts"] - 1
    gen.restart("kanji", tuple((x, y, int(p)) for x, y, p in primed[0]["prime"]))
    again = [gen.step(0.4) for _ in after]
    assert np.allclose(np.array(again), np.array(after), atol=1e-6)
    unprimed = DrawGen(model, "draw", 0)
    unprimed.restarts = gen.restarts - 1
    unprimed.restart("kanji")
    assert not np.allclose(np.array([unprimed.step(0.4) for _ in after]), np.array(after), atol=1e-3)


@needs_glyphs
def test_kiosk_shows_the_overlay_and_takes_no_prime(
        run_server: Any, sink: OscSink, tmp_path: Path, browser: Any) -> None:
    server, page, console = two_pens(run_server, tmp_path, browser, "/?kiosk", (600, 600))
    got = layer(page, "draw", segments=2)
    assert np.allclose(got["box"], [0, 0, 600, 600], atol=1)
    assert got["rgba"][..., 3].max() > 0
    page.keyboard.press("d")
    assert page.evaluate("window.livegenPage.stats().drawing") is False
    drag(page, got["box"], [(0.3, 0.3), (0.5, 0.5), (0.6, 0.5)])
    page.wait_for_timeout(300)
    assert server.param("/draw/prime") == [] and server.param("/ink/prime") == []
    assert page.evaluate(READ_LAYER, "draw")["stats"]["sent"] == 0
    assert console.real() == []
    page.close()

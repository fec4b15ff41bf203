"""The drawing overlay (live/web/draw.js on draw.html) in Debian's Chromium against a real
server: the draw topic's lines on the canvas where the points say, and a prime drawn by mouse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import ROOT, Server, start_server
from tests.model_helpers import shipped
from tests.webtools import launch, needs_chromium, poll

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

"""Frames in from a browser camera: Debian's Chromium (its fake camera) sends getUserMedia frames as
LGF1 JPEG over the WebSocket (/webrtc.html?camera=0), and an input voice shows them."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from websockets.sync.client import connect

from live import frames
from tests.conftest import Server, poll_until, start_server
from tests.webrtc_check import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian chromium is not installed (make deps)")
FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@pytest.fixture
def cam_server(tmp_path: Path) -> Iterator[Server]:
    path = tmp_path / "cam.toml"
    path.write_text('[voices.cam]\nkind = "input"\nsource = "ws:0"\nfps = 15\n')
    srv = start_server(patch=path)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS + FAKE_CAMERA)
        try:
            yield b
        finally:
            b.close()


def shown(server: Server, n: int) -> list[np.ndarray]:
    """The next n frames the input voice shows (a sync client: Playwright's loop runs here)."""
    out = []
    with connect(server.ws, max_size=2**22) as ws:
        while len(out) < n:
            msg = ws.recv(timeout=20)
            if isinstance(msg, bytes):
                _, payload = frames.unpack(msg)
                out.append(np.asarray(Image.open(io.BytesIO(payload)).convert("RGB"), np.float32))
    return out


def test_a_browser_camera_feeds_an_input_voice(cam_server: Server, browser: Any) -> None:
    page = browser.new_page()
    page.goto(f"{cam_server.http}/webrtc.html?camera=0")
    page.wait_for_function("window.livegenRtc && window.livegenRtc.sending.frames > 10", timeout=30000)
    poll_until(lambda: cam_server.get_json("/status")["voices"]["cam"]["received"] > 10, 20)
    cam = cam_server.get_json("/status")["voices"]["cam"]
    assert cam["input_size"] == [128, 96] and cam["input_from"].startswith("ws:")
    got = shown(cam_server, 15)
    assert got[-1].shape == (96, 128, 3)
    assert np.abs(got[-1] - 128).mean() > 5  # the camera's picture, not the grey of no input
    assert max(np.abs(a - b).mean() for a, b in zip(got, got[1:], strict=False)) > 0.5  # and it moves
    assert page.evaluate("window.livegenRtc.sending.errors") == []

"""The web client in a real browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import PATCHES, Server, start_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (make deps installs it)")
# Flags for a sandboxed root session on a closed network (no background fetches).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (make install)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_page_draws_frames_and_sliders_steer(server: Server, browser, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 640, "height": 480})
    page.goto(server.http + "/")
    # The page counts frames it drew; wait until the canvas took the stream's size.
    page.wait_for_function("document.getElementById('view').width === 64", timeout=20000)
    page.wait_for_function(
        "/frame [1-9]/.test(document.getElementById('stats').textContent)", timeout=20000)
    spread = page.evaluate("""() => {
        const c = document.getElementById('view');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let lo = 255, hi = 0;
        for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i]); hi = Math.max(hi, d[i]); }
        return hi - lo;
    }""")
    assert spread > 10  # a picture, not a blank canvas
    page.screenshot(path=str(tmp_path / "page.png"))
    # Move the speed slider: the server applies it.
    slider = page.locator("input[type=range][title='latent walk speed']")
    slider.evaluate("(el) => { el.value = 6.4; el.dispatchEvent(new Event('input')); }")
    deadline = time.monotonic() + 10
    while server.param("/visual/speed") != 6.4 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.param("/visual/speed") == 6.4


def test_page_shows_text_and_notes_and_sends_a_prompt(browser) -> None:
    srv = start_server(patch=PATCHES / "stage.toml")
    try:
        page = browser.new_page(viewport={"width": 640, "height": 480})
        page.goto(srv.http + "/")
        page.wait_for_function("document.getElementById('words').textContent.length > 10",
                               timeout=20000)
        # The piano roll at the bottom draws the notes that arrive.
        page.wait_for_function("""() => {
            const c = document.getElementById('roll');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true;
            return false;
        }""", timeout=20000)
        page.fill("#prime", "To be, or not to be")
        page.press("#prime", "Enter")
        deadline = time.monotonic() + 10
        while srv.param("/text/prime") != "To be, or not to be\n" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert srv.param("/text/prime") == "To be, or not to be\n"
        kiosk = browser.new_page()
        kiosk.goto(srv.http + "/?kiosk")
        assert kiosk.locator("#panel").is_hidden() and kiosk.locator("#prompt").is_hidden()
    finally:
        assert srv.stop() == 0

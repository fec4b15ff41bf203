"""Helpers for the browser tests: Debian's Chromium through Playwright, console watching, canvas
reads, screenshots (as test artifacts, and into docs/ on request)."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Server, start_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (make deps installs it)")
# Flags for a sandboxed root session on a closed network (no background fetches).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# LIVEGEN_DOCS_SHOTS=1 also writes the screenshots the README and docs show into docs/.
DOCS_SHOTS = os.environ.get("LIVEGEN_DOCS_SHOTS") == "1"
# What Chromium logs by itself while a server is down (the page retries): not the page's errors.
NETWORK_NOISE = ("WebSocket connection to", "net::ERR_CONNECTION_REFUSED")


def launch(extra_args: list[str] | None = None) -> Iterator[Any]:
    """Fixture body: a headless Debian Chromium, closed after."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (make install)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=CHROMIUM_ARGS + (extra_args or []))
        try:
            yield browser
        finally:
            browser.close()


class Console:
    """Every console error and uncaught exception of a page."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

    def real(self, allow: tuple[str, ...] = ()) -> list[str]:
        """The errors, less those that contain one of the allowed strings."""
        return [e for e in self.errors if not any(a in e for a in allow)]


def open_page(browser: Any, url: str, width: int = 800, height: int = 500) -> tuple[Any, Console]:
    """A new page at url, its console watched, once the page's protocol socket is open."""
    page = browser.new_page(viewport={"width": width, "height": height})
    console = Console(page)
    page.goto(url)
    page.wait_for_function("window.livegenPage && window.livegenPage.stats().state === 'open'",
                           timeout=20000)
    return page, console


def stats(page: Any) -> dict[str, Any]:
    return page.evaluate("window.livegenPage.stats()")


def wait_stats(page: Any, condition: str, timeout_ms: int = 20000) -> None:
    """Wait until a JS condition on `s` (the page's stats) holds."""
    page.wait_for_function(f"(() => {{ const s = window.livegenPage.stats(); return {condition}; }})()",
                           timeout=timeout_ms)


# A 32 x 32 sample of the canvas: its pixels' spread and a checksum, to tell frames apart.
CANVAS_SAMPLE = """(selector) => {
    const c = document.querySelector(selector);
    const s = document.createElement('canvas'); s.width = 32; s.height = 32;
    const g = s.getContext('2d'); g.drawImage(c, 0, 0, 32, 32);
    const d = g.getImageData(0, 0, 32, 32).data;
    let lo = 255, hi = 0, sum = 0;
    for (let i = 0; i < d.length; i += 4) {
        lo = Math.min(lo, d[i], d[i + 1], d[i + 2]); hi = Math.max(hi, d[i], d[i + 1], d[i + 2]);
        sum = (sum * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) % 1000000007;
    }
    return {spread: hi - lo, sum};
}"""


def canvas_sample(page: Any, selector: str = "#view") -> dict[str, int]:
    return page.evaluate(CANVAS_SAMPLE, selector)


def poll(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 10.0) -> Any:
    """Call read() until done(its value) or timeout; the last value (the caller asserts)."""
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.1)
        value = read()
    return value


def screenshot(page: Any, tmp_path: Path, name: str) -> Path:
    """A screenshot into tmp_path (the test's artifact); into docs/ too with LIVEGEN_DOCS_SHOTS=1."""
    path = tmp_path / name
    page.screenshot(path=str(path))
    if DOCS_SHOTS:
        from PIL import Image

        # A palette PNG: a tenth of the size, and the page is mostly flat colours.
        with Image.open(path) as image:
            image.convert("RGB").quantize(colors=128).save(ROOT / "docs" / name, optimize=True)
    return path


def patch_in(folder: Path, source: Path, extra: str = "") -> Path:
    """A copy of a test patch in folder whose state (presets, likes, ...) stays in folder/state,
    never beside tests/patches; extra TOML is appended."""
    patch = folder / source.name
    patch.write_text(f'[server]\nstate_dir = "{folder / "state"}"\nwatch = false\n\n'
                     + source.read_text() + extra)
    return patch


def serving(*args: str, patch: Path) -> Iterator[Server]:
    """Fixture body: a server on that patch, killed after if still running (pytest resumes a
    fixture after its yield whatever the test did)."""
    srv = start_server(*args, patch=patch)
    yield srv
    srv.stop(signal.SIGKILL)

"""Gallery mode in a real browser: the kiosk page outlives a killed and restarted server, and
reloads itself when frames stop while the server still answers."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PATCHES, Server, start_server
from tests.webtools import (
    NETWORK_NOISE,
    canvas_sample,
    launch,
    needs_chromium,
    open_page,
    patch_in,
    screenshot,
    stats,
    wait_stats,
)

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_kiosk_draws_again_after_the_server_is_killed_and_restarted(browser: Any, tmp_path: Path) -> None:
    port = free_port()
    patch = patch_in(tmp_path, PATCHES / "small.toml")
    servers: list[Server] = [start_server("--port", str(port), patch=patch)]
    try:
        page, console = open_page(browser, f"http://127.0.0.1:{port}/?kiosk", 800, 500)
        wait_stats(page, "s.drawn >= 3")
        assert page.evaluate("getComputedStyle(document.body).cursor") == "none"
        screenshot(page, tmp_path, "web-kiosk.png")
        page.evaluate("window.sameDocument = true")  # gone if the page reloads
        servers[0].proc.kill()  # SIGKILL: no goodbye to the page
        servers[0].proc.wait()
        wait_stats(page, "s.state !== 'open'", 10000)
        drawn = stats(page)["drawn"]
        servers.append(start_server("--port", str(port), patch=patch))  # the same port, as a service would
        wait_stats(page, f"s.state === 'open' && s.connects >= 2 && s.drawn > {drawn + 3}", 20000)
        first = canvas_sample(page)
        page.wait_for_timeout(1000)
        assert canvas_sample(page)["sum"] != first["sum"]
        assert page.evaluate("window.sameDocument") is True  # the socket came back, no reload
        # Chromium logs the refused reconnections itself; the page logged nothing.
        assert console.real(NETWORK_NOISE) == []
        page.close()
    finally:
        for srv in servers:
            if srv.proc.poll() is None:
                srv.stop()


def test_kiosk_reloads_itself_when_frames_stop_but_the_server_answers(browser: Any, tmp_path: Path) -> None:
    srv = start_server(patch=patch_in(tmp_path, PATCHES / "small.toml"))
    try:
        page, console = open_page(browser, srv.http + "/?kiosk&stall=2")
        wait_stats(page, "s.drawn >= 3")
        page.evaluate("window.sameDocument = true")
        # Frames stop (this connection no longer takes them), the server still answers /status.
        page.evaluate("window.livegenPage.lg.subscribe(['param', 'status'])")
        page.wait_for_function("window.sameDocument === undefined", timeout=20000)
        page.wait_for_function("window.livegenPage && window.livegenPage.stats().drawn >= 3",
                               timeout=20000)
        assert console.real() == []
        page.close()
    finally:
        assert srv.stop() == 0

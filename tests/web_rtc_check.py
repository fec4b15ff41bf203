"""Inside a network namespace (tests/netns.py): livegen with a WebRTC output, the page at `/`;
prints one JSON line: how the page got its frames (WebRTC, then the WebSocket fallback when the
output is switched off), what it drew, and its console errors."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.conftest import start_server
from tests.livetools import send
from tests.outputs_tools import visual_voice
from tests.webtools import CANVAS_SAMPLE, CHROMIUM, CHROMIUM_ARGS

PATCH = visual_voice() + """
[outputs.web]
kind = "webrtc"
voice = "visual"
"""
RTC_ARGS = ["--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
            "--autoplay-policy=no-user-gesture-required"]


def stats(page: Any) -> dict[str, Any]:
    return page.evaluate("window.livegenPage.stats()")


def watch(server: Any) -> dict[str, Any]:
    """The page over WebRTC, then with the output off (frames over the WebSocket again)."""
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS + RTC_ARGS)
        page = browser.new_page(viewport={"width": 320, "height": 320})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
        page.goto(server.http + "/")
        try:
            page.wait_for_function("window.livegenPage && livegenPage.stats().via === 'webrtc'",
                                   timeout=30000)
            start = stats(page)
            first = page.evaluate(CANVAS_SAMPLE, "#view")
            time.sleep(2)
            out["rtc"] = {"start": start, "end": stats(page), "first": first,
                          "last": page.evaluate(CANVAS_SAMPLE, "#view")}
            send(server, "/outputs/web/on", 0)  # the output goes: the page falls back
            page.wait_for_function("livegenPage.stats().via === 'websocket'", timeout=30000)
            fallback = stats(page)
            time.sleep(2)
            out["fallback"] = {"start": fallback, "end": stats(page)}
        except Exception as e:
            out["stuck"] = {"error": str(e)[:500], "stats": stats(page)}
        out["errors"] = errors
        browser.close()
    return out


def main(args: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        patch = Path(tmp) / "webrtc.toml"
        patch.write_text(f'[server]\nstate_dir = "{Path(tmp) / "state"}"\n\n' + PATCH)
        server = start_server(patch=patch)
        try:
            result = watch(server)
        finally:
            server.stop()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])

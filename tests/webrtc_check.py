"""Inside a network namespace (tests/netns.py): livegen with a WebRTC output, Chromium on
/webrtc.html; prints one JSON line of what the page measured (frames, fps, how much frames move
before and after a control change) beside the server's own frame rate."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.conftest import Server, start_server
from tests.outputs_tools import visual_voice

PATCH = visual_voice() + """
[outputs.web]
kind = "webrtc"
voice = "visual"
"""
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
                 "--autoplay-policy=no-user-gesture-required"]


def page_stats(page: Any) -> dict[str, Any]:
    return page.evaluate("window.livegenRtc.stats()")


def watch(url: str, seconds: float, control: bool) -> dict[str, Any]:
    """Open the viewer at url twice (two viewers at once) and measure the first; with control,
    move /visual/speed to 0 from it."""
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 320, "height": 320})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(url)
        other = browser.new_page(viewport={"width": 160, "height": 160})
        other.goto(url)
        try:
            for p in (page, other):
                p.wait_for_function("window.livegenRtc && window.livegenRtc.stats().frames > 20",
                                    timeout=30000)
        except Exception:
            out["stuck"] = page_stats(page) if page.evaluate("!!window.livegenRtc") else None
            out["errors"] = errors
            browser.close()
            return out
        first, other_first = page_stats(page), page_stats(other)["frames"]
        time.sleep(seconds)
        moving = page_stats(page)
        out |= {"first": first, "moving": moving, "window_s": seconds,
                "window_frames": moving["frames"] - first["frames"],
                "other_window_frames": page_stats(other)["frames"] - other_first}
        if control:
            ack = page.evaluate("window.livegenRtc.set('/visual/speed', 0)")
            time.sleep(2.5)
            out["still"] = page_stats(page)
            out["ack"] = ack
        out["errors"] = errors
        browser.close()
    return out


def watch_server(server: Server, query: str, output: str, seconds: float) -> dict[str, Any]:
    """watch() /webrtc.html?QUERY with control; the server's fps and the output's status beside."""
    result = watch(f"{server.http}/webrtc.html?{query}", seconds, control=True)
    status = server.get_json("/status")
    return result | {"server_fps": status["voices"]["visual"]["fps"], "output": status["outputs"][output],
                     "ready_outputs": server.ready["outputs"]}


def main(args: list[str]) -> None:
    seconds = float(args[0]) if args else 3.0
    with tempfile.TemporaryDirectory() as tmp:
        patch = Path(tmp) / "webrtc.toml"
        patch.write_text(PATCH)
        server = start_server(patch=patch)
        try:
            result = watch_server(server, "voice=visual", "web", seconds)
        finally:
            server.stop()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])

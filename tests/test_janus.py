"""Through a real media server: livegen pushes one VP8 RTP stream to Janus (deploy/janus), and
Debian's Chromium watches it through Janus's streaming plugin, at the server's rate, with a
control change from the page showing on it. In a network namespace of its own (tests/netns.py)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from tests.netns import checked

pytestmark = [
    pytest.mark.skipif(shutil.which("janus") is None,
                       reason="Debian's janus is not installed (make deps installs it; .ci/run does)"),
    pytest.mark.skipif(importlib.util.find_spec("aiortc") is None,
                       reason="aiortc is not installed (pip install 'livegen[webrtc]')"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="playwright is not installed"),
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(),
                       reason="Debian chromium is not installed (make deps)"),
]


@pytest.fixture(scope="module")
def watched() -> dict:
    return checked("tests.janus_check", "3")


def test_two_chromium_pages_watch_livegen_through_janus(watched: dict) -> None:
    assert "first" in watched, json.dumps(watched)[:3000]
    assert watched["errors"] == []
    assert "to Janus at 127.0.0.1:5004" in watched["ready_outputs"]["audience"]
    moving = watched["moving"]
    assert moving["via"] == "janus" and moving["state"] == "connected"
    assert (moving["width"], moving["height"]) == (64, 64)
    # Frames presented in each of two pages over the window, against the server's rendered rate.
    for frames in (watched["window_frames"], watched["other_window_frames"]):
        page_fps = frames / watched["window_s"]
        assert page_fps >= 0.7 * watched["server_fps"], (page_fps, watched["server_fps"])
    out = watched["output"]
    assert out["state"] == "on" and out["keyframes"] >= 2 and out["bytes_sent"] > 0


def test_a_control_change_shows_through_janus(watched: dict) -> None:
    assert watched["ack"]["op"] == "ack"
    moving, still = watched["moving"]["diff"], watched["still"]["diff"]
    assert moving > 2.0 and still < moving / 5, (moving, still)

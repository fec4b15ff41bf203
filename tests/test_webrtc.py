"""WebRTC out in Debian's Chromium: the page plays livegen's VP8 track (its frames counted and
sampled in the page), at the server's rate, and a control change from the page shows on it.

Runs in a network namespace of its own (tests/netns.py): ICE leaves loopback out of its
candidates, so the namespace has a veth pair, and nothing leaves the machine.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tests.netns import checked

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("aiortc") is None,
                       reason="aiortc is not installed (pip install 'livegen[webrtc]')"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="playwright is not installed"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed (make deps)"),
]


@pytest.fixture(scope="module")
def watched() -> dict:
    return checked("tests.webrtc_check", "3")


def test_two_chromium_pages_play_the_webrtc_track_at_the_server_rate(watched: dict) -> None:
    assert "signalling on ws://127.0.0.1:" in watched["ready_outputs"]["web"]
    assert "first" in watched, json.dumps(watched)[:2000]
    assert watched["errors"] == []
    moving = watched["moving"]
    assert moving["state"] == "connected" and moving["via"] == "livegen"
    assert (moving["width"], moving["height"]) == (64, 64)
    # Frames presented in each of two pages over the window, against the server's rendered rate.
    for frames in (watched["window_frames"], watched["other_window_frames"]):
        page_fps = frames / watched["window_s"]
        assert page_fps >= 0.7 * watched["server_fps"], (page_fps, watched["server_fps"])
    assert watched["output"]["state"] == "on" and watched["output"]["sent"] > 60


def test_a_control_change_from_the_page_shows_on_the_stream(watched: dict) -> None:
    assert watched["ack"]["op"] == "ack"
    moving, still = watched["moving"]["diff"], watched["still"]["diff"]
    # speed 8: frames change a lot from one to the next; speed 0: the picture stands still
    # (what is left is the codec refining it).
    assert moving > 2.0 and still < moving / 5, (moving, still)
    assert watched["still"]["frames"] > watched["moving"]["frames"]  # and it is still playing

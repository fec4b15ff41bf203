"""The page plays WebRTC when the server offers it (a webrtc output for its voice) and falls back
to frames over the WebSocket when that output goes. Debian's Chromium in a network namespace of
its own (tests/netns.py: ICE leaves loopback out of its candidates)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from tests.netns import run_in_netns, why_not

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("aiortc") is None,
                       reason="aiortc is not installed (pip install 'livegen[webrtc]')"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="playwright is not installed"),
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="Debian chromium is not installed"),
]


@pytest.fixture(scope="module")
def watched() -> dict[str, Any]:
    reason = why_not()
    if reason:
        pytest.skip(reason)
    return run_in_netns("tests.web_rtc_check")


@pytest.mark.flaky(reruns=2)  # when it happened: see tests/README.md
def test_the_page_draws_the_webrtc_track_and_takes_no_websocket_frames(watched: dict[str, Any]) -> None:
    assert "rtc" in watched, json.dumps(watched)[:2000]
    start, end = watched["rtc"]["start"], watched["rtc"]["end"]
    assert end["via"] == "webrtc"
    assert end["drawn"] - start["drawn"] >= 20  # two seconds of a 30 fps track
    # Frames over the WebSocket are off meanwhile (one may have been in flight at the switch).
    assert end["received"] - start["received"] <= 1
    first, last = watched["rtc"]["first"], watched["rtc"]["last"]
    assert first["spread"] > 10 and last["sum"] != first["sum"]  # a picture, and it moves
    assert watched["errors"] == []


def test_the_page_falls_back_to_websocket_frames_when_the_output_goes(watched: dict[str, Any]) -> None:
    assert "fallback" in watched, json.dumps(watched)[:2000]
    start, end = watched["fallback"]["start"], watched["fallback"]["end"]
    assert end["via"] == "websocket"
    assert end["received"] - start["received"] >= 20 and end["drawn"] > start["drawn"]
    assert end["seq"] >= 0  # LGF1 frames, with their sequence numbers and stamps, again

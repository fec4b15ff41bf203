"""bench.viewers on small counts: headless viewers on each video path (WebSocket, WebRTC straight
from livegen, Janus) get frames, and the bench reports every part's CPU. No timing is asserted."""

from __future__ import annotations

import importlib.util
import json
import shutil

import pytest

from tests.netns import checked

pytestmark = pytest.mark.skipif(importlib.util.find_spec("aiortc") is None,
                                reason="aiortc is not installed (pip install 'livegen[webrtc]')")


def test_headless_viewers_get_frames_on_every_path() -> None:
    result = checked("bench.viewers", "--max", "2", "--seconds", "1")
    assert result["machine"]["cores"] >= 1
    rows = {(r["path"], r.get("viewers")): r for r in result["rows"]}
    paths = ["websocket", "webrtc"] + (["janus"] if shutil.which("janus") else [])
    for path in paths:
        one = rows.get((path, 1))
        assert one is not None and "error" not in one and "errors" not in one, json.dumps(result)[:3000]
        assert one["fps_min"] > 0 and one["livegen_cpu_per_s"] > 0 and one["viewers_cpu_per_s"] >= 0
    if "janus" in paths:
        assert rows[("janus", 1)]["janus_cpu_per_s"] >= 0
    else:
        assert "janus is not installed" in rows[("janus", None)]["error"]

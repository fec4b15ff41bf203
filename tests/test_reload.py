"""Hot reload: the plan between two patches, refusals naming file, line and key, and a live
server that swaps its patch while a WebSocket client's frames and a UDP receiver's notes go on."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from pythonosc.osc_message import OscMessage
from websockets.asyncio.client import connect

from live.params import FloatParam, Registry
from live.patch import PatchError, line_of, load_patch
from live.record.recorder import read_events
from live.reload import apply_values, plan_reload
from tests.conftest import Server, poll_until
from tests.livetools import OscSink, assert_no_hanging_notes, log_frames, longest_gap, osc

BASE = """\
title = "reload test"

[clock]
bpm = 240

[voices.visual]
kind = "visual"
model = "random"
resolution = 32
fps = 20
seed = 3

[voices.music]
kind = "music"
model = "random"
temperature = 1.0

[voices.text]
kind = "text"
model = "random"
rate = 20
"""

# visual: a value changed; music: kept as it was; text: gone; bass: a second music voice on
# channel 2; echo: a second visual voice; [clock] bpm unchanged.
CHANGED = BASE.replace("seed = 3", "seed = 3\nspeed = 2.5").split("[voices.text]")[0] + """\
[voices.bass]
kind = "music"
model = "random"
channel = 2
style = "irish"

[voices.echo]
kind = "visual"
model = "random"
resolution = 32
fps = 20
"""


def write(tmp_path: Path, text: str, name: str = "patch.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- the plan -------------------------------------------------------------------------------------
def test_plan_keeps_replaces_adds_removes_and_sets_only_what_the_file_changed(tmp_path) -> None:
    old = load_patch(write(tmp_path, BASE))
    text = CHANGED.replace('[voices.music]\nkind = "music"\nmodel = "random"',
                           '[voices.music]\nkind = "music"\nmodel = "random"\nlookahead_beats = 2.0')
    new = load_patch(write(tmp_path, text, "new.toml"))
    plan = plan_reload(old, new)
    assert plan.kept == ["visual"] and plan.replaced == ["music"]
    assert plan.added == ["bass", "echo"] and plan.removed == ["text"]
    values = [path for path, *_ in plan.values]
    # The kept voice gets its one changed value; the rebuilt and new ones all of theirs.
    assert "/visual/speed" in values and "/visual/seed" not in values and "/clock/bpm" not in values
    assert {"/music/temperature", "/bass/channel", "/bass/style", "/echo/fps"} <= set(values)
    assert plan.fresh == ["music", "bass", "echo"]


def test_server_keys_that_need_a_restart_are_named(tmp_path) -> None:
    old = load_patch(write(tmp_path, BASE))
    text = BASE.replace("[clock]", '[server]\nport = 9999\nstate_dir = "elsewhere"\n\n[clock]')
    new = load_patch(write(tmp_path, text, "n.toml"))
    assert plan_reload(old, new).needs_restart == ["port"]


def test_a_refused_value_names_file_line_and_key(tmp_path) -> None:
    text = BASE.replace("rate = 20", "rate = 20\nwobble = 1")
    patch = load_patch(write(tmp_path, text))
    registry = Registry()
    rate = registry.add(FloatParam("/text/rate", 1.0, "", lo=0, hi=100))
    with pytest.raises(PatchError) as e:
        apply_values(patch, registry, [k for k in patch.param_keys() if k[2] == "voices.text"])
    line = text.splitlines().index("wobble = 1") + 1
    assert f"line {line}, key voices.text.wobble" in str(e.value) and str(patch.path) in str(e.value)
    assert "unknown parameter '/text/wobble'" in str(e.value) and rate.value == 20


def test_line_of_finds_keys_under_their_table() -> None:
    text = '[a]\nx = 1\n[voices.v]\n"x" = 2\n  y=3 # c\n[[mappings]]\nsource = "s"\n'
    assert line_of(text, "voices.v", "x") == 4 and line_of(text, "voices.v", "y") == 5
    assert line_of(text, "a", "x") == 2 and line_of(text, "voices.v") == 3
    assert line_of(text, "voices.v", "z") == 3 and line_of(text, "nope") is None


# -- a live server ---------------------------------------------------------------------------------
def ask(server: Server, address: str, *args: object, timeout: float = 30.0) -> OscMessage:
    """Send one OSC message and wait for the first answer to this socket."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(timeout)
        s.sendto(osc(address, *args), server.osc)
        data, _ = s.recvfrom(65536)
    return OscMessage(data)


@pytest.mark.flaky(reruns=2)  # when it happened: see tests/README.md
async def test_reload_swaps_voices_with_frames_and_notes_flowing(run_server, sink: OscSink,
                                                                 tmp_path: Path) -> None:
    def unwatched(text: str) -> str:  # reloaded by /patch/reload only
        return text.replace("[clock]", "[server]\nwatch = false\n\n[clock]")

    path = write(tmp_path, unwatched(BASE))
    server = run_server(patch=path)
    sink.wait_for(lambda: sink.count("/music/noteon") >= 4)
    log: list[tuple[float, Any]] = []
    stop = asyncio.Event()
    async with connect(server.ws, compression=None) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topics": ["frames"]}))
        reader = asyncio.create_task(log_frames(ws, log, stop))
        await asyncio.sleep(3.0)
        before_notes = sink.count("/music/noteon")
        path.write_text(unwatched(CHANGED))
        t_reload = time.monotonic()
        reply = await asyncio.to_thread(ask, server, "/patch/reload")
        t_done = time.monotonic()
        assert reply.address == "/patch/reloaded", list(reply.params)
        await asyncio.sleep(2.0)
        stop.set()
        await reader
    # The kept stream kept coming: no pause like a voice rebuilt or a model reloaded (a second
    # and more), however loaded the machine. bench/reload_gap.py measures the gap itself on a
    # quiet machine (two frame intervals at most).
    times = [(t, info.stream, info.seq) for t, info in log]
    stream0 = [t for t, stream, _ in times if stream == 0]
    around = [t for t in stream0 if t_reload - 1.0 <= t <= t_done + 1.0]
    baseline = longest_gap([t for t in stream0 if t < t_reload - 1.0])
    gap = longest_gap(around)
    print(f"reload took {1000 * (t_done - t_reload):.0f} ms; longest frame gap {gap * 1000:.0f} ms "
          f"(before it: {baseline * 1000:.0f} ms)")
    assert gap <= max(0.5, 4 * baseline), (gap, baseline)
    seqs = [seq for _, stream, seq in times if stream == 0]
    assert seqs == sorted(seqs)
    assert any(stream == 1 for _, stream, _ in times)  # the new visual voice streams
    # The kept music voice played on; the new one plays on channel 2; text is gone.
    sink.wait_for(lambda: sink.count("/music/noteon") >= before_notes + 8
                  and sink.count("/bass/noteon") >= 4)
    assert server.param("/visual/speed") == 2.5 and server.param("/bass/channel") == 2
    schema = {p["path"] for p in server.get_json("/schema")["params"]}
    assert "/text/rate" not in schema and "/echo/speed" in schema
    status = server.get_json("/status")
    assert status["patch"]["reloads"] == 1 and set(status["voices"]) == {"visual", "music",
                                                                        "bass", "echo"}
    assert server.stop() == 0, "".join(server.stderr_lines)
    time.sleep(0.3)
    assert_no_hanging_notes(sink)
    assert_no_hanging_notes(sink, "/bass")
    events, _ = read_events(tmp_path / "rec" / "events.jsonl")
    channels = {(e["voice"], e["channel"]) for e in events if e["type"] == "note"}
    assert channels == {("music", 1), ("bass", 2)}  # two voices, two MIDI channels


async def test_a_bad_patch_is_refused_and_the_running_one_plays_on(run_server, sink: OscSink,
                                                                 tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    server = run_server(patch=path)
    sink.wait_for(lambda: sink.count("/music/noteon") >= 2)
    def settings() -> list[dict]:  # the schema, less the measurements (they change every frame)
        return [p for p in server.get_json("/schema")["params"] if not p.get("readonly")]

    schema = settings()
    rate_line = BASE.splitlines().index("rate = 20") + 1
    glow_line = BASE.splitlines().index("fps = 20") + 2
    for bad, words in ((BASE.replace("rate = 20", "rate = 20000"),
                        [f"line {rate_line}", "voices.text.rate"]),
                       (BASE.replace("fps = 20", "fps = 20\nglow = 1"),
                        [f"line {glow_line}", "voices.visual.glow", "unknown parameter"]),
                       (BASE + "[[mappings]]\nosc = '/x'\ntarget = '/nope'\n", ["/nope"]),
                       (BASE.replace('model = "random"\ntemperature', 'model = "nosuch"\ntemperature'),
                        ["nosuch"]),
                       (BASE + "[voices\n", ["not valid TOML", "line"])):
        path.write_text(bad)
        reply = await asyncio.to_thread(ask, server, "/patch/reload")
        assert reply.address == "/patch/error", list(reply.params)
        text = reply.params[0]
        assert str(path) in text and all(w in text for w in words), text
        assert settings() == schema  # nothing changed
    n = sink.count("/music/noteon")
    sink.wait_for(lambda: sink.count("/music/noteon") >= n + 4)  # still playing
    status = server.get_json("/status")["patch"]
    assert status["reloads"] == 0 and "TOML" in status["error"]


async def test_the_file_watch_reloads_a_saved_patch_and_oscquery_says_what_changed(
        run_server, sink: OscSink, tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    server = run_server(patch=path)
    async with connect(f"ws://127.0.0.1:{server.ready['oscquery_port']}/", compression=None) as oq:
        await asyncio.sleep(0.2)
        path.write_text(BASE.replace("rate = 20", "rate = 30"))
        poll_until(lambda: server.param("/text/rate") == 30, 10.0)
        path.write_text(CHANGED)
        poll_until(lambda: server.get_json("/status")["patch"]["reloads"] == 2, 30.0)
        notices: dict[str, set[str]] = {"PATH_ADDED": set(), "PATH_REMOVED": set()}
        async with asyncio.timeout(10):
            while "/echo/speed" not in notices["PATH_ADDED"] or \
                    "/text/rate" not in notices["PATH_REMOVED"]:
                msg = await oq.recv()
                if isinstance(msg, str):
                    data = json.loads(msg)
                    notices.setdefault(data["COMMAND"], set()).add(data["DATA"])
    assert "/visual/speed" not in notices["PATH_ADDED"]  # a kept voice is not announced


def test_an_unknown_server_key_names_its_line(tmp_path) -> None:
    path = write(tmp_path, '[server]\nport = 8765\nprot = 1\n' + BASE)
    with pytest.raises(PatchError, match=r"line 3, key server\.prot: unknown key; \[server\] takes host"):
        load_patch(path)

"""The voice supervisor through a real server: a voice whose model raises is restarted with
backoff while the others play on; one that keeps failing is parked; an engine thread that dies
is started again. Faults are injected with LIVEGEN_FAULT (live/voices/supervisor.py)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.supervisor_faults import PATCH, FrameLog, arrivals, longest_gap, subscribe
from live.voices.supervisor import BACKOFF_MAX_S, BACKOFF_S, Fault, backoff, parse_faults
from tests.conftest import Server, poll_until
from tests.livetools import MUSIC, OscSink, osc, replay, write_patch


def supervision(server: Server, voice: str) -> dict:
    return server.get_json("/status")["voices"][voice]["supervision"]


@pytest.fixture
def served(run_server, sink: OscSink, tmp_path: Path) -> Iterator:
    def start(fault: str) -> Server:
        srv = run_server(patch=write_patch(tmp_path, PATCH), env={"LIVEGEN_FAULT": fault})
        subscribe(srv, sink)
        return srv
    yield start


def test_backoff_and_fault_spec() -> None:
    assert [backoff(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert (BACKOFF_S, BACKOFF_MAX_S) == (0.5, 8.0)
    faults = parse_faults("music:40, text:5:99:exit")
    assert (faults["music"].after, faults["music"].times, faults["music"].how) == (40, 1, "raise")
    assert (faults["text"].times, faults["text"].how) == (99, "exit")
    for bad in ("music", "music:x", "music:0", "music:3:1:explode", ":3"):
        with pytest.raises(ValueError, match="LIVEGEN_FAULT"):
            parse_faults(bad)
    calls = Fault("v", 2, 1, "raise").wrap(lambda: "ok")
    assert calls() == "ok"
    with pytest.raises(RuntimeError, match="injected fault"):
        calls()
    assert [calls() for _ in range(5)] == ["ok"] * 5  # one run only


@pytest.mark.flaky(reruns=2)
def test_a_voice_whose_model_raises_is_restarted_and_the_others_play_on(served, sink,
                                                                              tmp_path) -> None:
    srv = served("music:40:1")
    frames = FrameLog(srv)
    try:
        t0 = time.monotonic()
        poll_until(lambda: supervision(srv, "music")["restarts"] >= 1, timeout=30, step=0.1)
        entry = supervision(srv, "music")
        assert entry["state"] == "running" and entry["failures"] == 1, entry
        assert "injected fault" in entry["last_error"]
        restarted = time.monotonic()
        sink.wait_for(lambda: any(t > restarted for t in arrivals(sink, "/music/noteon")), 20)
        time.sleep(1.0)
        t1 = time.monotonic()
    finally:
        frames.close()
    # The other voices never stopped: frames and characters all through the fault.
    assert longest_gap(frames.times, t0 + 1, t1) < 1.0
    assert longest_gap(arrivals(sink, "/text/char"), t0 + 1, t1) < 1.0
    states = [r.args for r in list(sink.items) if r.address == "/status/voice"]
    assert ["music", "restarting", 1] == states[0][:3] and "injected fault" in states[0][3]
    assert ["music", "running", 1] == states[1][:3]
    errors = [r.args[1] for r in list(sink.items) if r.address == "/status/error"]
    assert any("voice music failed" in e and "restarting it in 0.5 s" in e for e in errors), errors
    log = "".join(srv.stderr_lines)
    assert "voice music failed" in log and "voice music restarted" in log
    assert srv.get_json("/status")["voices"]["text"]["supervision"]["failures"] == 0
    assert srv.stop() == 0
    # The recording went on through it: every note sent is in it, and rebuilds the MIDI file.
    code, summary = replay(tmp_path / "rec", "--no-regenerate")
    assert code == 0 and summary["ended_cleanly"] and summary["torn_lines"] == 0, summary
    assert summary["notes"] == len(sink.of("/music/note"))


@pytest.mark.flaky(reruns=2)
def test_a_voice_that_keeps_failing_is_parked(served, sink) -> None:
    srv = served("text:5:99")
    t0 = time.monotonic()
    poll_until(lambda: supervision(srv, "text")["state"] == "parked", timeout=40, step=0.2)
    parked_after = time.monotonic() - t0
    entry = supervision(srv, "text")
    assert entry["state"] == "parked" and entry["failures"] == 5 and entry["restarts"] == 4, entry
    assert parked_after > sum(backoff(n) for n in range(1, 5))  # 0.5 + 1 + 2 + 4 s of backoff
    chars = len(arrivals(sink, "/text/char"))
    parked = time.monotonic()
    sink.wait_for(lambda: sum(t > parked for t in arrivals(sink, "/music/noteon")) > 10, 20)
    frames_before = srv.get_json("/status")["voices"]["visual"]["frames"]
    time.sleep(1.5)
    assert srv.get_json("/status")["voices"]["visual"]["frames"] > frames_before + 5
    assert len(arrivals(sink, "/text/char")) == chars  # parked: not restarted again
    assert supervision(srv, "text")["state"] == "parked"
    states = [r.args[:3] for r in list(sink.items) if r.address == "/status/voice"]
    assert states[-1] == ["text", "parked", 5]
    errors = [r.args[1] for r in list(sink.items) if r.address == "/status/error"]
    assert any("voice text parked after 5 failures in 60 s" in e for e in errors), errors
    # A reload begins it again (the injected fault is still armed: it fails again).
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(30)
        s.bind(("127.0.0.1", 0))
        s.sendto(osc("/patch/reload"), srv.osc)
        assert b"/patch/reloaded" in s.recvfrom(65536)[0]
    poll_until(lambda: supervision(srv, "text")["restarts"] == 5, timeout=10, step=0.1)
    assert supervision(srv, "text")["restarts"] == 5
    assert srv.stop() == 0


@pytest.mark.flaky(reruns=2)
def test_an_engine_thread_that_dies_is_started_again(served, sink) -> None:
    srv = served("visual:20:1:exit")
    frames = FrameLog(srv)
    try:
        t0 = time.monotonic()
        poll_until(lambda: srv.get_json("/status")["supervisor"]["engine_restarts"] >= 1,
                   timeout=30, step=0.1)
        poll_until(lambda: supervision(srv, "visual")["restarts"] >= 1, timeout=10, step=0.1)
        back = time.monotonic()
        poll_until(lambda: any(t > back + 0.5 for t in frames.times), timeout=10)
        t1 = time.monotonic()
    finally:
        frames.close()
    assert srv.get_json("/status")["supervisor"]["engine_restarts"] == 1
    entry = supervision(srv, "visual")
    assert entry["failures"] == 1 and "SystemExit" in entry["last_error"], entry
    assert any(t > back for t in frames.times)  # the picture is back
    # Music and text, on the same engine thread, went on through it.
    assert longest_gap(arrivals(sink, "/text/char"), t0 + 1, t1) < 1.0
    assert longest_gap(arrivals(sink, "/music/noteon"), t0 + 1, t1) < 1.5
    assert "the engine thread died (SystemExit" in "".join(srv.stderr_lines)
    assert srv.stop() == 0


@pytest.mark.flaky(reruns=2)
def test_an_input_voice_whose_thread_dies_is_restarted(run_server, sink, tmp_path) -> None:
    patch = write_patch(tmp_path, MUSIC.read_text() + '[voices.cam]\nkind = "input"\nfps = 20\n')
    srv = run_server(patch=patch, env={"LIVEGEN_FAULT": "cam:10:1:exit"})
    poll_until(lambda: supervision(srv, "cam")["restarts"] >= 1, timeout=20, step=0.1)
    entry = supervision(srv, "cam")
    assert entry["failures"] == 1 and entry["last_error"] == "its thread died", entry
    frames = srv.get_json("/status")["voices"]["cam"]["frames"]
    notes = sink.count("/music/noteon")
    poll_until(lambda: srv.get_json("/status")["voices"]["cam"]["frames"] > frames + 10, 10)
    assert srv.get_json("/status")["voices"]["cam"]["frames"] > frames + 10  # showing again
    assert sink.count("/music/noteon") > notes  # the music never stopped
    assert srv.stop() == 0


@pytest.mark.flaky(reruns=2)
def test_draw_and_style_voices_are_supervised_too(run_server, sink, tmp_path) -> None:
    patch = write_patch(tmp_path, PATCH + '''
[voices.draw]
kind = "draw"
model = "random"
rate = 60
pause = 0.0

[voices.painted]
kind = "style"
model = "random"
source = "visual"
fps = 10
''')
    srv = run_server(patch=patch, env={"LIVEGEN_FAULT": "draw:20:1,painted:10:1"})
    for voice in ("draw", "painted"):
        poll_until(lambda v=voice: supervision(srv, v)["restarts"] >= 1, timeout=30, step=0.1)
        entry = supervision(srv, voice)
        assert entry["state"] == "running" and entry["failures"] == 1, (voice, entry)
        assert "injected fault" in entry["last_error"]
    status = srv.get_json("/status")["voices"]
    points, styled, notes = status["draw"]["points"], status["painted"]["frames"], sink.count("/music/noteon")
    poll_until(lambda: srv.get_json("/status")["voices"]["painted"]["frames"] > styled + 5, 15)
    status = srv.get_json("/status")["voices"]
    assert status["painted"]["frames"] > styled + 5 and status["draw"]["points"] > points
    assert sink.count("/music/noteon") > notes
    assert srv.get_json("/status")["voices"]["music"]["supervision"]["failures"] == 0
    assert srv.stop() == 0

"""--record DIR: files that parse after SIGTERM and SIGKILL, a tempo map, and the replay of
what was recorded (the replay's own refusals: test_replay.py)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import wave
from fractions import Fraction
from pathlib import Path

import pretty_midi
import pytest

from live.record.recorder import read_events
from tests.livetools import (
    OscSink,
    assert_no_hanging_notes,
    midi_notes,
    replay,
    send,
    stop_cleanly,
)


def no_hanging_notes(sink: OscSink) -> bool:
    try:
        assert_no_hanging_notes(sink)
    except AssertionError:
        return False
    return True


@pytest.mark.flaky(reruns=2)  # when it happened: see tests/README.md
def test_sigterm_leaves_a_complete_recording_with_its_tempo_map(run_server, sink, tmp_path) -> None:
    server = run_server()
    sink.wait_for(lambda: sink.count("/music/note") >= 20)
    send(server, "/clock/bpm", 150.0)
    send(server, "/music/temperature", 0.75)
    n = sink.count("/music/note")
    sink.wait_for(lambda: sink.count("/music/note") >= n + 20 and sink.count("/text/char") >= 30)
    stop_cleanly(server, sink)

    rec = tmp_path / "rec"
    events, torn = read_events(rec / "events.jsonl")
    assert torn == 0 and events[0]["type"] == "header" and events[-1]["type"] == "end"
    params = [(e["path"], e["value"], e["source"]) for e in events if e["type"] == "param"]
    assert ("/clock/bpm", 240.0, "patch") in params
    assert ("/clock/bpm", 150.0, "osc") in params and ("/music/temperature", 0.75, "osc") in params
    stamps = [e["stamp"] for e in events if e["type"] == "param"]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)

    pm = pretty_midi.PrettyMIDI(str(rec / "performance.mid"))
    times, tempi = pm.get_tempo_changes()
    assert list(tempi.round(3)) == [240.0, 150.0]
    tempo = [e for e in events if e["type"] == "tempo"]
    assert times[1] == pytest.approx(tempo[-1]["t"], abs=1e-3)
    # Each note's start in the file is its recorded clock time: the tempo map holds them.
    recorded = sorted(e["t"] for e in events if e["type"] == "note")
    assert [x.start for x in midi_notes(rec)] == pytest.approx(recorded, abs=1e-4)
    # /music/note carries the duration of the tempo map in force when it went out (the sender
    # rebuilds it after a change): the same as recorded, before and after the change. One that
    # started just before the change, while the new map was still on its way down the pipe to
    # the sender, carries the old map's duration (240 bpm), and only if it spans the change.
    change = Fraction(tempo[-1]["beat"])
    # Paired by pitch and velocity, in time order within each (a stable sort of both).
    sent = sorted(((r.args[0], r.args[1], r.args[2]) for r in sink.of("/music/note")),
                  key=lambda x: x[:2])
    kept = sorted(((e["pitch"], e["velocity"], e["dur"], e) for e in
                   sorted((e for e in events if e["type"] == "note"), key=lambda e: e["t"])),
                  key=lambda x: x[:2])
    assert [x[:2] for x in sent] == [x[:2] for x in kept]
    for (_, _, got), (_, _, dur, e) in zip(sent, kept, strict=True):
        start, beats = Fraction(e["beat"]), Fraction(e["beats"])
        spans = start < change < start + beats
        assert got == pytest.approx(dur, abs=1e-5) or (
            spans and got == pytest.approx(float(beats) * 60 / 240, abs=1e-5)), e
    for e in events:
        if e["type"] == "note":  # on the beat grid of whichever tempo was in force
            assert (Fraction(e["beat"]) * 12).denominator == 1
    chars = "".join(e["text"] for e in events if e["type"] == "text" and e["kind"] == "char")
    assert (rec / "text.txt").read_text() == chars and len(chars) >= 30

    code, summary = replay(rec, "--check")
    assert code == 0, summary
    assert summary["notes"] == len(recorded)
    assert summary["music"]["music"]["identical"] == len(recorded)
    assert summary["text"]["text"]["identical"] == summary["text"]["text"]["stretches"]


def test_sigkill_leaves_files_that_parse_and_events_rebuild_the_midi(run_server, sink,
                                                                     tmp_path) -> None:
    server = run_server()
    sink.wait_for(lambda: sink.count("/music/note") >= 60)
    server.stop(signal.SIGKILL)
    # The OSC sender process sees its pipe close and ends every sounding note itself.
    sink.wait_for(lambda: no_hanging_notes(sink), timeout=5)
    rec = tmp_path / "rec"
    events, torn = read_events(rec / "events.jsonl")
    assert torn <= 1 and events[0]["type"] == "header" and events[-1]["type"] != "end"
    notes = [e for e in events if e["type"] == "note"]
    assert len(notes) >= 40
    pm = pretty_midi.PrettyMIDI(str(rec / "performance.mid"))  # at most a second behind
    assert 0 < sum(len(i.notes) for i in pm.instruments) <= len(notes)
    code, summary = replay(rec, "--out", str(tmp_path / "rebuilt.mid"))
    assert code == 0, summary
    rebuilt = pretty_midi.PrettyMIDI(str(tmp_path / "rebuilt.mid"))
    assert sum(len(i.notes) for i in rebuilt.instruments) == len(notes)
    assert summary["ended_cleanly"] is False
    assert summary["music"]["music"]["identical"] == len(notes)


SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")


@pytest.mark.skipif(shutil.which("fluidsynth") is None or not SOUNDFONT.exists(),
                    reason="needs Debian fluidsynth and fluid-soundfont-gm (make deps installs them)")
def test_recorded_midi_plays_on_a_real_synth(run_server, sink, tmp_path) -> None:
    server = run_server()
    sink.wait_for(lambda: sink.count("/music/note") >= 20)
    stop_cleanly(server, sink)
    wav = tmp_path / "performance.wav"
    subprocess.run(["fluidsynth", "-ni", "-g", "0.5", "-r", "22050", "-F", str(wav),
                    str(SOUNDFONT), str(tmp_path / "rec" / "performance.mid")],
                   check=True, capture_output=True, timeout=120)
    with wave.open(str(wav)) as w:
        frames = w.readframes(w.getnframes())
        assert w.getnframes() > w.getframerate()  # at least the second the notes took
    samples = memoryview(frames).cast("h")
    assert max(abs(x) for x in samples) > 100  # not silence

"""The music voice end to end: a real server, a real UDP OSC receiver, the recorder's MIDI file."""

from __future__ import annotations

import time
from collections import Counter
from fractions import Fraction

import mido

from live.clock import NTP_UNIT
from live.record.recorder import read_events
from tests.livetools import (
    MUSIC,
    assert_no_hanging_notes,
    midi_notes,
    send,
    stop_cleanly,
    write_patch,
)


# -- tests --------------------------------------------------------------------------------------
def test_notes_reach_osc_in_clock_order_and_match_the_midi_file(run_server, sink, tmp_path) -> None:
    server = run_server()
    sink.wait_for(lambda: sink.count("/music/note") >= 40)
    assert send(server, "/music/style", "folk", reply=True) is None  # a change: note-offs first
    n = sink.count("/music/note")
    sink.wait_for(lambda: sink.count("/music/note") >= n + 30)
    status = server.get_json("/status")
    assert status["voices"]["music"]["trained"] is False
    assert "UNTRAINED" in status["voices"]["music"]["note"]
    stop_cleanly(server, sink)

    rec = tmp_path / "rec"
    notes = midi_notes(rec)
    events, torn = read_events(rec / "events.jsonl")
    assert torn == 0
    recorded = [e for e in events if e["type"] == "note"]
    sent = sink.of("/music/note")
    assert len(sent) == sink.count("/music/noteon") == len(notes) == len(recorded)
    assert Counter((r.args[0], r.args[1]) for r in sent) == \
        Counter((n.pitch, n.velocity) for n in notes)
    assert_no_hanging_notes(sink)
    # Every onset is on the clock's grid (1/12 beat at 240 bpm) ...
    bpm = 240
    for n in notes:
        steps = n.start * bpm / 60 * 12
        assert abs(steps - round(steps)) < 1e-3, n
    # ... and the notes arrived in the clock's order: chord by chord as in the file.
    chords: dict[float, Counter[int]] = {}
    for e in recorded:
        chords.setdefault(round(e["t"], 6), Counter())[e["pitch"]] += 1
    arrived = [r.args[0] for r in sink.of("/music/noteon")]
    i = 0
    for t in sorted(chords):
        size = sum(chords[t].values())
        assert Counter(arrived[i:i + size]) == chords[t], f"chord at {t}s out of order"
        i += size
    beats = [r.args[0] for r in sink.of("/clock/beat")]
    assert len(beats) > 4 and beats == list(range(beats[0], beats[0] + len(beats)))


def test_timetags_are_exactly_on_the_grid_across_a_tempo_change(run_server, sink, tmp_path) -> None:
    patch = write_patch(tmp_path, MUSIC.read_text().replace('"immediate"', '"timetag"'))
    server = run_server(patch=patch)
    sink.wait_for(lambda: sink.count("/music/note") >= 30)
    assert send(server, "/clock/bpm", 180.0, reply=True) is None
    time.sleep(0.2)
    clock = server.get_json("/status")["clock"]
    segs = [(Fraction(b), int(t), Fraction(bpm)) for b, t, bpm in clock["segments"]]
    assert segs[-1][2] == 180
    n = sink.count("/music/note")
    sink.wait_for(lambda: sink.count("/music/note") >= n + 30)
    # Before the stop: the note-offs a stop sends are due at once, not on the grid.
    tagged = [r for r in sink.items if r.address.startswith("/music/note") and r.timetag]
    stop_cleanly(server, sink)

    assert len(tagged) >= 60
    after = 0
    for r in tagged:
        ticks = r.timetag - clock["origin_ntp"]
        beat0, t0, bpm = [s for s in segs if s[1] <= ticks][-1]
        steps = (ticks - t0) * bpm * 12 / (60 * NTP_UNIT)
        k = round(steps)
        # Exactly the NTP value of grid point k: not near it.
        assert t0 + round(Fraction(k, 12) * 60 * NTP_UNIT / bpm) == ticks, (r, steps)
        after += bpm == 180
    assert after > 0
    assert_no_hanging_notes(sink)


def test_bad_input_is_refused_and_the_voice_plays_on(run_server, sink) -> None:
    server = run_server()
    sink.wait_for(lambda: sink.count("/music/note") >= 10)
    cases = [
        (("/music/in/note", 200, 100), "pitch 200"),
        (("/music/in/note", "C4"), "expected pitch velocity"),
        (("/clock/bpm", 0.0), "/clock/bpm"),
        (("/clock/bpm", float("nan")), "/clock/bpm"),
        (("/music/style", "dubstep"), "one of"),
        (("/music/prime", "C4 X9"), "not a pitch"),
        (("/music/prime", 300), "pitch 300"),
        (("/music/prime", *range(60, 130)), "at most 64"),
        (("/music/midi_port", "no such port"), "cannot open"),
        (("/text/prime", "x" * 3000), "at most 2000"),
        (("/text/temperature", 0.5, 9.0), "/text/temperature"),
    ]
    for message, words in cases:
        error = send(server, *message, reply=True)
        assert error is not None and words in error, (message, error)
    assert server.param("/clock/bpm") == 240
    assert server.param("/music/style") == "bach"
    n = sink.count("/music/note")
    sink.wait_for(lambda: sink.count("/music/note") >= n + 10)  # still playing
    stop_cleanly(server, sink)
    assert_no_hanging_notes(sink)


def test_stop_panic_and_restart_leave_no_hanging_note(run_server, sink) -> None:
    server = run_server()
    sink.wait_for(lambda: sink.count("/music/noteon") >= 20)
    send(server, "/music/play", 0)
    sink.wait_for(lambda: server.get_json("/status")["voices"]["music"]["playing"] is False)
    time.sleep(0.3)
    assert_no_hanging_notes(sink)
    quiet = sink.count("/music/noteon")
    time.sleep(0.5)
    assert sink.count("/music/noteon") == quiet  # stopped means silent
    offs = sink.count("/music/noteoff")
    send(server, "/music/panic")  # no argument: an address of its own
    sink.wait_for(lambda: sink.count("/music/noteoff") >= offs + 128)
    send(server, "/music/play", 1)
    sink.wait_for(lambda: sink.count("/music/noteon") >= quiet + 10)
    send(server, "/music/transpose", 5)  # a key change ends what sounds, then plays on
    sink.wait_for(lambda: sink.count("/music/noteon") >= quiet + 30)
    stop_cleanly(server, sink)
    assert_no_hanging_notes(sink)


def test_call_and_response_answers_a_phrase_in_tempo(run_server, sink, tmp_path) -> None:
    patch = write_patch(tmp_path, MUSIC.read_text().replace(
        "temperature = 1.0\n", "temperature = 1.0\nrespond = true\nanswer_beats = 2.0\n"))
    server = run_server(patch=patch)
    sink.wait_for(lambda: sink.count("/clock/beat") >= 2)
    assert sink.count("/music/noteon") == 0  # waits for a phrase
    phrase = [60, 62, 64, 65, 67]
    for p in phrase:
        send(server, "/music/in/note", p, 100)
        time.sleep(0.06)
    sink.wait_for(lambda: sink.count("/music/noteon") >= 1)
    first = sink.of("/music/noteon")[0].at

    def answered_all() -> bool:
        music = server.get_json("/status")["voices"]["music"]
        return music["playing"] is False and music["queued"] == 0

    sink.wait_for(answered_all)
    time.sleep(0.1)
    answered = sink.count("/music/noteon")
    time.sleep(0.5)
    assert sink.count("/music/noteon") == answered  # the answer ended
    stop_cleanly(server, sink)
    assert_no_hanging_notes(sink)
    events, _ = read_events(tmp_path / "rec" / "events.jsonl")
    inputs = [e["pitch"] for e in events if e["type"] == "input"]
    assert inputs == phrase
    restarts = [e for e in events if e["type"] == "gen" and e.get("op") == "restart" and e["prime"]]
    assert [v for k, v in restarts[-1]["prime"] if k == "note_on"] == phrase
    # The answer starts on a beat and lasts the 2 beats asked for.
    notes = [e for e in events if e["type"] == "note"]
    start = min(Fraction(e["beat"]) for e in notes)
    assert start.denominator == 1
    assert max(Fraction(e["beat"]) + Fraction(e["beats"]) for e in notes) <= start + 2
    assert first > 0


def test_midi_out_through_a_mido_backend(run_server, sink, tmp_path) -> None:
    log = tmp_path / "midi.log"
    patch = write_patch(tmp_path, MUSIC.read_text().replace(
        'delivery = "immediate"', 'delivery = "immediate"\nmidi_port = "virtual:livegen-test"'))
    env = {"MIDO_BACKEND": "tests.midi_backend", "LIVEGEN_TEST_MIDI_LOG": str(log)}
    server = run_server(patch=patch, env=env)
    sink.wait_for(lambda: sink.count("/music/note") >= 30)
    status = server.get_json("/status")["voices"]["music"]["midi"]
    assert status["port"] == "virtual:livegen-test"
    error = send(server, "/music/midi_port", "fail here", reply=True)
    assert error is not None and "cannot open" in error
    stop_cleanly(server, sink)
    msgs = [mido.Message.from_str(line) for line in log.read_text().splitlines()]
    ons = [m for m in msgs if m.type == "note_on"]
    offs = [m for m in msgs if m.type == "note_off"]
    assert len(ons) == len(midi_notes(tmp_path / "rec")) == sink.count("/music/noteon")
    assert Counter(m.note for m in ons) == Counter(m.note for m in offs)  # nothing left on


def test_midi_in_phrase_gets_an_answer(run_server, sink, tmp_path) -> None:
    played = tmp_path / "midi-in.txt"
    patch = write_patch(tmp_path, MUSIC.read_text().replace(
        "temperature = 1.0\n", 'temperature = 1.0\nrespond = true\nmidi_in = "virtual:in"\n'))
    env = {"MIDO_BACKEND": "tests.midi_backend", "LIVEGEN_TEST_MIDI_IN": str(played),
           "LIVEGEN_TEST_MIDI_LOG": str(tmp_path / "midi.log")}
    server = run_server(patch=patch, env=env)
    sink.wait_for(lambda: sink.count("/clock/beat") >= 2)
    assert sink.count("/music/noteon") == 0
    with played.open("a") as f:
        for p in (62, 65, 69):
            f.write(f"note_on channel=0 note={p} velocity=90 time=0\n")
            f.flush()
            time.sleep(0.05)
    sink.wait_for(lambda: sink.count("/music/noteon") >= 1)
    stop_cleanly(server, sink)
    events, _ = read_events(tmp_path / "rec" / "events.jsonl")
    assert [(e["pitch"], e["source"]) for e in events if e["type"] == "input"] == \
        [(62, "midi"), (65, "midi"), (69, "midi")]

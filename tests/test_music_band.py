"""Playing with a band: chords sent or played to a music voice, and the instrument of each style."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import mido
import pytest

from live.record.recorder import read_events
from live.voices.music_band import ChordListener, PartAllocator, chord_pitch_classes, program_for
from tests.livetools import MUSIC, send, stop_cleanly, write_patch


@pytest.mark.parametrize(("text", "classes"), [
    ("C", (0, 4, 7)), ("Am", (0, 4, 9)), ("G7", (2, 5, 7, 11)), ("F#m7", (1, 4, 6, 9)),
    ("Bbmaj7", (2, 5, 9, 10)), ("Ebmin", (3, 6, 10)), ("C E G", (0, 4, 7)),
    ("60, 64, 67", (0, 4, 7)), ("D4 F#4 A4", (2, 6, 9)), ("none", ()), ("", ()),
])
def test_chords_by_name_or_notes(text: str, classes: tuple[int, ...]) -> None:
    assert chord_pitch_classes(text) == classes


@pytest.mark.parametrize("text", ["H7", "Cblah", "C X9", "300", "C4 E9 G99"])
def test_a_chord_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        chord_pitch_classes(text)


def test_three_notes_together_make_a_chord_and_a_melody_does_not() -> None:
    band = ChordListener()
    assert band.add(0.0, 60) is None and band.add(1.0, 62) is None and band.add(2.0, 64) is None
    assert band.add(4.0, 57) is None and band.add(4.05, 60) is None
    assert band.add(4.1, 64) == "C E A"
    assert chord_pitch_classes("C E A") == chord_pitch_classes("Am")


def test_a_style_has_its_instrument_and_a_patch_overrides_it() -> None:
    assert program_for("bach", -1) == 19 and program_for("irish", -1) == 110
    assert program_for("joplin", -1) == 0 and program_for("bach", 40) == 40
    assert program_for("no such style", -1) == 0


def with_midi_log(run_server, tmp_path: Path, settings: str) -> tuple[Any, Path]:
    """A server playing the music patch with `settings` and MIDI out to a mido test backend."""
    log = tmp_path / "midi.log"
    patch = write_patch(tmp_path, MUSIC.read_text().replace(
        'delivery = "immediate"',
        f'delivery = "immediate"\nmidi_port = "virtual:livegen-test"\n{settings}'))
    env = {"MIDO_BACKEND": "tests.midi_backend", "LIVEGEN_TEST_MIDI_LOG": str(log)}
    return run_server(patch=patch, env=env), log


def test_programs_over_osc_and_midi_and_a_chord_that_lands_on_the_beat(run_server, sink,
                                                                      tmp_path) -> None:
    server, log = with_midi_log(run_server, tmp_path, "chord_strength = 10.0")
    sink.wait_for(lambda: sink.count("/music/note") >= 20)
    assert [r.args for r in sink.of("/music/program")][:1] == [[1, 19]]  # bach: church organ
    assert send(server, "/music/style", "irish", reply=True) is None
    sink.wait_for(lambda: [1, 110] in [r.args for r in sink.of("/music/program")])
    assert send(server, "/music/program", 200, reply=True) is not None  # refused
    assert server.param("/music/program") == -1
    # Bad chords are refused with a message and change nothing.
    error = send(server, "/music/chord", "H7", reply=True)
    assert error is not None and "/music/chord" in error and "Am" in error
    assert server.param("/music/chord") == "none"
    assert send(server, "/music/chord", "C E G", reply=True) is None
    sent_at = server.get_json("/status")["clock"]["beat"]
    n = sink.count("/music/note")
    sink.wait_for(lambda: sink.count("/music/note") >= n + 40)
    # Three notes played together into /music/in/note (the voice is not answering): a chord.
    for pitch in (62, 65, 69):
        send(server, "/music/in/note", pitch, 90)
    sink.wait_for(lambda: server.param("/music/chord") == "D F A", timeout=5)
    stop_cleanly(server, sink)
    events, _ = read_events(tmp_path / "rec" / "events.jsonl")
    notes = [e for e in events if e["type"] == "note"]
    after = [e for e in notes if Fraction(e["beat"]) >= int(sent_at) + 1
             and e["pitch"] % 12 in (0, 4, 7, 2, 5, 9)]
    change = [e for e in events if e["type"] == "param" and e["path"] == "/music/chord"]
    assert [e["value"] for e in change] == ["C E G", "D F A"]
    landed = [e for e in notes if int(sent_at) + 1 <= Fraction(e["beat"])
              and e["t"] < change[1]["t"]]
    assert len(landed) >= 20 and after
    in_chord = sum(e["pitch"] % 12 in (0, 4, 7) for e in landed) / len(landed)
    assert in_chord >= 0.9, in_chord  # an untrained model, steered hard: chord tones only
    msgs = [mido.Message.from_str(line) for line in log.read_text().splitlines()]
    programs = [(m.channel, m.program) for m in msgs if m.type == "program_change"]
    assert (0, 19) in programs and (0, 110) in programs


def test_a_chorale_is_dealt_into_four_lines_that_keep_their_places() -> None:
    deal = PartAllocator(4)
    progression = [(60, 64, 67, 72), (59, 62, 67, 74), (57, 60, 64, 72), (53, 60, 65, 69)]
    for beat, chord in enumerate(progression):
        parts = deal.chord(Fraction(beat), [(p, Fraction(beat + 1)) for p in chord])
        assert parts == [3, 2, 1, 0]  # bass to soprano
    # A note that starts while its neighbours sound goes to the free part nearest it.
    held = PartAllocator(4)
    held.chord(Fraction(0), [(48, Fraction(4)), (55, Fraction(4)), (64, Fraction(4))])
    assert held.chord(Fraction(1), [(71, Fraction(2))]) == [0]
    # More notes than parts: the highest take the parts, the extra one doubles the nearest.
    assert PartAllocator(2).chord(Fraction(0), [(60, Fraction(1)), (64, Fraction(1)),
                                                (67, Fraction(1))]) == [1, 1, 0]


def test_parts_go_out_on_their_own_channels_and_osc(run_server, sink, tmp_path) -> None:
    server, log = with_midi_log(run_server, tmp_path, "parts = 4\nchannel = 15")
    sink.wait_for(lambda: sink.count("/music/note") >= 60)
    assert send(server, "/music/parts", 9, reply=True) is not None  # refused: 1 to 8
    stop_cleanly(server, sink)
    parts = [tuple(r.args) for r in sink.of("/music/part")]
    assert len(parts) == sink.count("/music/noteon") and {p for p, _ in parts} == {0, 1, 2, 3}
    items = [r for r in sink.items if r.address in ("/music/part", "/music/noteon")]
    for part_msg, on in zip(items[0::2], items[1::2], strict=True):  # each part just before its note
        assert part_msg.address == "/music/part" and on.address == "/music/noteon"
        assert part_msg.args[1] == on.args[0]
    msgs = [mido.Message.from_str(line) for line in log.read_text().splitlines()]
    ons = [m for m in msgs if m.type == "note_on"]
    assert {m.channel for m in ons} == {14, 15, 0, 1}  # channels 15, 16, 1, 2 (wrapping)
    by_part = {0: 14, 1: 15, 2: 0, 3: 1}
    assert [by_part[p] for p, _ in parts] == [m.channel for m in ons]

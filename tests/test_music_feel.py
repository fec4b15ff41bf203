"""The performance layer: accents, the phrase arc, swing and humanised timing, and a server that
plays them and replays them note for note."""

from __future__ import annotations

import statistics
from fractions import Fraction

from live.record.recorder import read_events
from live.voices.music_feel import TICKS, Feel, accent, arc, on_ticks, perform, swung
from tests.livetools import MUSIC, replay, stop_cleanly, write_patch

F = Fraction


def test_the_downbeat_is_strongest_and_off_beats_weakest() -> None:
    assert accent(F(0), 4) == 1.0 and accent(F(8), 4) == 1.0
    assert accent(F(2), 4) > accent(F(1), 4) > accent(F(1, 2), 4) > accent(F(1, 4), 4)
    assert accent(F(1), 3) == accent(F(2), 3)  # no secondary stress in three
    assert arc(F(0), 4) == -1 and arc(F(8), 4) == 1  # a 4-bar phrase peaks in its middle


def test_swing_moves_the_off_beat_eighth_and_leaves_the_beats() -> None:
    assert swung(F(3), 1.0) == 3 and swung(F(7, 2), 0.0) == F(7, 2)
    assert swung(F(7, 2), 1.0) == 3 + F(2, 3)  # full swing: the triplet's last third
    assert swung(F(1, 2), 0.5) == F(1, 2) + F(1, 12)
    times = [F(k, 12) for k in range(13)]
    assert [swung(t, 1.0) for t in times] == sorted(swung(t, 1.0) for t in times)  # order kept


def test_perform_is_deterministic_shapes_velocity_and_keeps_notes_whole() -> None:
    written = [(F(k, 2), F(k, 2) + F(1, 12)) for k in range(64)]
    feel = Feel(dynamics=1.0, swing=0.3, humanize=1.0)
    played = [perform(a, b, 80, feel, seed) for seed, (a, b) in enumerate(written)]
    assert played == [perform(a, b, 80, feel, seed) for seed, (a, b) in enumerate(written)]
    assert played != [perform(a, b, 80, feel, seed + 1) for seed, (a, b) in enumerate(written)]
    assert all(p.end > p.start and (p.start * TICKS).denominator == 1 for p in played)
    assert all(abs(p.start - swung(a, 0.3)) <= F(1, 25) for p, (a, _) in zip(played, written, strict=True))
    velocities = [p.velocity for p in played]
    assert statistics.pstdev(velocities) > 8 and 1 <= min(velocities) and max(velocities) <= 127
    flat = [perform(a, b, 80, Feel(), 0) for a, b in written]
    assert {p.velocity for p in flat} == {80} and [p.start for p in flat] == [a for a, _ in written]
    loud = perform(F(0), F(1), 120, Feel(dynamics=1.0, velocity_scale=2.0), 0)
    assert loud.velocity == 127  # clamped


def _patch(tmp_path, **settings: float) -> object:
    lines = "".join(f"{k} = {v}\n" for k, v in settings.items())
    text = MUSIC.read_text().replace("humanize = 0.0", "").replace("temperature = 1.0\n",
                                                                   "temperature = 1.0\n" + lines)
    return write_patch(tmp_path, text)


def test_a_swung_accented_performance_is_recorded_and_replays_note_for_note(run_server, sink,
                                                                            tmp_path) -> None:
    server = run_server(patch=_patch(tmp_path, swing=1.0, dynamics=1.0, humanize=0.0))
    sink.wait_for(lambda: sink.count("/music/note") >= 60)
    stop_cleanly(server, sink)
    events, _ = read_events(tmp_path / "rec" / "events.jsonl")
    notes = [e for e in events if e["type"] == "note"]
    beats = [F(e["beat"]) for e in notes]
    # The untrained model writes on a grid of 1/12 beat; with full swing every onset is heard
    # where the swing moves a grid point (the half beat to the triplet's last third), none on
    # the half beat itself.
    heard_grid = {on_ticks(swung(F(k, 12), 1.0)) for k in range(12)}
    assert {b % 1 for b in beats} <= heard_grid and F(1, 2) not in heard_grid
    assert statistics.pstdev(e["velocity"] for e in notes) > 5
    sent = sink.of("/music/noteon")
    assert sorted(r.args[1] for r in sent) == sorted(e["velocity"] for e in notes)
    code, summary = replay(tmp_path / "rec", "--check")
    assert code == 0, summary
    assert summary["music"]["music"]["identical"] == len(notes)


def test_humanised_timing_replays_identically(run_server, sink, tmp_path) -> None:
    server = run_server(patch=_patch(tmp_path, humanize=1.0))
    sink.wait_for(lambda: sink.count("/music/note") >= 60)
    stop_cleanly(server, sink)
    events, _ = read_events(tmp_path / "rec" / "events.jsonl")
    notes = [e for e in events if e["type"] == "note"]
    off_grid = [e for e in notes if (F(e["beat"]) * 12).denominator != 1]
    assert len(off_grid) > len(notes) / 2  # humanised: most onsets leave the step grid
    code, summary = replay(tmp_path / "rec", "--check")
    assert code == 0, summary
    assert summary["music"]["music"]["identical"] == len(notes)

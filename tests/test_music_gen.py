"""The music voice's generator in process, without a server."""

from __future__ import annotations

import json
import math
import time

import pytest


def test_generation_runs_offline_and_reports_its_speed() -> None:
    """Figures only (no threshold): the untrained model's speed, printed for the record."""
    import torch

    from live.voices.music_gen import MusicGen, Settings, load_music_model

    model, _ = load_music_model({"model": "random"}, torch.device("cpu"))
    gen = MusicGen(model, "music", 0)
    gen.restart(0, "bach")
    t0 = time.perf_counter()
    notes = gen.run(Settings(), until=12 * 32)
    dt = time.perf_counter() - t0
    assert gen.cursor >= 12 * 32 and all(n.end > n.start for n in notes)
    print(json.dumps({"events": gen.events, "seconds": round(dt, 4),
                      "x_real_time_at_120bpm": round(16.0 / dt, 1)}))
    assert not math.isnan(dt)


# -- the key, the voice leading and the style's texture, at sampling time ----------------------

def _model(name: str):
    import torch

    from live.voices.music_gen import load_music_model

    return load_music_model({"model": name}, torch.device("cpu"))[0]


def _notes(model, style: str, settings, seed: int = 0, beats: int = 32, prime=None):
    from live.voices.music_gen import MusicGen

    gen = MusicGen(model, "music", seed)
    gen.restart(0, style, prime)
    return gen, gen.run(settings, until=gen.spb * beats)


def test_key_strength_1_keeps_every_note_in_the_key_even_transposed() -> None:
    """The untrained model plays any pitch; a key held at 1 leaves only its scale."""
    from live.voices.music_gen import Settings

    model = _model("random")
    d_minor = {2, 4, 5, 7, 9, 10, 0, 1}  # D E F G A Bb C and the leading tone C#
    free = _notes(model, "bach", Settings(key="any"))[1]
    assert {n.pitch % 12 for n in free} - d_minor, "the untrained model should stray"
    for key in ("Dm", "D minor"):
        for transpose in (0, 5):
            held = _notes(model, "bach", Settings(key=key, key_strength=1.0, transpose=transpose))[1]
            assert len(held) > 20 and {n.pitch % 12 for n in held} <= d_minor


def test_the_bands_chord_is_never_out_of_key() -> None:
    """C major held at 1 with a D major chord: F# (the chord's) may sound, nothing else outside."""
    from live.voices.music_gen import Settings

    model = _model("random")
    notes = _notes(model, "bach", Settings(key="C", key_strength=1.0, chord=(2, 6, 9)))[1]
    classes = {n.pitch % 12 for n in notes}
    assert classes <= {0, 2, 4, 5, 7, 9, 11, 6} and 6 in classes


def test_auto_follows_the_key_of_the_notes_and_of_the_prime() -> None:
    """'auto' holds the key the prime and the notes are in: A minor primed, A minor it stays."""
    from live.voices.music_gen import KeyTracker, Settings, melody

    tracker = KeyTracker(12)
    assert tracker.allowed("auto", 0) is None  # nothing heard: no key yet
    prime = melody((57, 60, 64, 69, 68, 69, 64, 57), 0.5, 12)
    tracker.hear_events(prime, 0)
    assert tracker.estimate() == (9, "minor")
    model = _model("random")
    a_minor = {9, 11, 0, 2, 4, 5, 7, 8}

    def in_a_minor(key: str) -> float:
        notes = _notes(model, "bach", Settings(key=key, key_strength=1.0), prime=prime,
                       beats=16)[1]
        return sum(n.pitch % 12 in a_minor for n in notes) / len(notes)

    free, held = in_a_minor("any"), in_a_minor("auto")
    print(f"in A minor after an A minor prime: free {free:.2f}, auto {held:.2f}")
    assert free < 0.8 and held > 0.9  # the key may drift with the notes, a little


def test_voice_leading_makes_fewer_parallels_for_the_same_seed() -> None:
    """The shipped model's bach, counted as models.music_stats counts the corpus."""
    from live.voices.music_gen import Settings
    from models import music_stats as ms

    model = _model("corpus")

    def parallels(lead: float) -> float:
        total = 0.0
        for seed in range(2):
            gen, notes = _notes(model, "bach", Settings(voice_leading=lead), seed=seed, beats=48)
            total += ms.parallels_per_100_beats(ms.notes_array(
                [(n.pitch, n.start / gen.spb, n.end / gen.spb, n.velocity) for n in notes]))
        return total / 2

    off, on = parallels(0.0), parallels(1.0)
    print(f"bach parallels per 100 beats: voice leading off {off:.1f}, on {on:.1f}")
    assert on < off and on <= 2.0


def test_the_parallels_a_candidate_would_make() -> None:
    """C-G moving up a step in both voices makes a fifth again; the contrary motion does not."""
    from live.voices.music_gen import VoiceLeading

    lead = VoiceLeading()
    lead.onset()
    lead.time_moves({48: None, 55: None})  # the chord at the last onset: C3 G3
    count = lead.parallels([50])  # the bass has moved up to D3
    assert count is not None and count[57] == 1  # A3 over D3: parallel fifths
    assert count[53] == 0 and count[59] == 0  # F3 (contrary), B3 (a sixth)
    held = lead.parallels([48])  # a held bass: nothing above it moves in parallel with it
    assert held is not None and not held[49:].any()


def test_same_seed_and_settings_give_the_same_notes_and_a_replay_follows() -> None:
    from live.voices.music_gen import MusicGen, Settings

    model = _model("corpus")
    s = Settings()

    def played(gen: MusicGen, by_events: int | None = None) -> list:
        gen.restart(0, "bach")
        notes = gen.run_events(s, by_events) if by_events else gen.run(s, until=gen.spb * 24)
        return [(n.pitch, n.start, n.end, n.velocity) for n in notes]

    first = MusicGen(model, "music", 7)
    a = played(first)
    assert a == played(MusicGen(model, "music", 7))[: len(a)]
    assert a == played(MusicGen(model, "music", 7), by_events=first.events)  # as replay runs


def test_settings_records_round_trip_and_older_logs_play_as_they_did() -> None:
    from dataclasses import asdict

    from live.voices.music_gen import STYLE_DENSITY, STYLE_VOICE_LEADING, Settings

    s = Settings(key="Dm", key_strength=0.5, voice_leading=0.25)
    assert Settings.from_record({"op": "settings", **asdict(s)}) == s
    assert Settings().in_style("bach") == (STYLE_DENSITY["bach"], 0.8, STYLE_VOICE_LEADING["bach"])
    assert Settings().in_style("irish") == (0.0, 0.8, 0.0)
    old = Settings.from_record({"key": "C", "key_strength": 3.0, "density": 0.5})
    assert old.voice_leading == 0.0 and not old.style_density
    assert abs(old.key_strength - (1 - math.exp(-3.0))) < 1e-12
    assert old.in_style("bach")[0] == 0.5  # no style density in a log from before it


@pytest.mark.parametrize(("text", "name"), [("D minor", "Dm"), ("d min", "Dm"), ("Dm", "Dm"),
                                            ("Eb major", "Eb"), ("D#m", "Ebm"), ("Db", "C#"),
                                            ("auto", "auto"), ("ANY", "any"), (["A minor"], "Am")])
def test_keys_by_any_spelling(text, name) -> None:
    from live.voices.music_params import KEYS, KeyParam

    assert KeyParam("/music/key", "auto", "", choices=KEYS).validate(text) == name


@pytest.mark.parametrize("bad", ["H minor", "D dorian", "", 3, "Cmm"])
def test_a_key_that_is_not_one_is_refused(bad) -> None:
    from live.params import ParamError
    from live.voices.music_params import KEYS, KeyParam

    with pytest.raises(ParamError, match="/music/key"):
        KeyParam("/music/key", "auto", "", choices=KEYS).validate(bad)


def test_the_first_beats_hold_no_note_longer_than_the_styles_longest() -> None:
    """A piece does not open on notes held for seconds: each note begun in its first beats
    lasts at most the style's corpus 99th percentile; with start_hold off, the model's own."""
    from live.voices.music_gen import START_BEATS, STYLE_START_HOLD_BEATS, Settings

    model = _model("random")  # an untrained model holds notes as long as the sampler lets it
    longest = {}
    for hold in (True, False):
        lengths = []
        for seed in range(4):
            gen, notes = _notes(model, "irish", Settings(start_hold=hold), seed=seed, beats=16)
            lengths += [(n.end - n.start) / gen.spb for n in notes if n.start < START_BEATS * gen.spb]
        longest[hold] = max(lengths)
    assert longest[True] <= STYLE_START_HOLD_BEATS["irish"] < longest[False]
    assert not Settings.from_record({"key": "C"}).start_hold  # older logs play as they did

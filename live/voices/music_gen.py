"""The music voice's generator: deterministic notes on a step grid from a performance-event RNN.

The live voice, the replay and the benchmarks all generate through MusicGen, so that the same
model, seeds, restarts and settings (which the recorder writes) give the same notes.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import torch

from live.voices.kit import load_model, seed_for
from live.voices.music_feel import Feel, jitter_seed, perform
from live.voices.music_params import parse_key
from models import music_rhythm
from models.metrics import KK_MAJOR, KK_MINOR, SCALE
from models.music_data import COLLECTIONS
from models.music_rnn import Event, MusicConfig, MusicRNN, MusicSampler

MAX_EVENTS_PER_JOB = 4096
STALL_EVENTS = 64  # this many events without a time shift: push time on by one step

# What key_strength and voice_leading are at their default, -1 ("the style's"): the key held
# in the styles whose corpus is diatonic (at least 90% of its notes in its key), not in the
# chromatic ones (classical, joplin); voice leading on for the chorale-like styles, whose
# corpus keeps parallel fifths and octaves rare, and partly for monteverdi (its corpus: 2.3 per
# 100 beats). Chosen with bench/music_style.py on other seeds than it reports (docs/models.md);
# classical keeps none: steering it thickened its texture but cost its rhythm (duration KL 4x).
STYLE_KEY_STRENGTH = {"bach": 0.8, "palestrina": 0.8, "monteverdi": 0.8, "folk": 0.8,
                      "irish": 0.8}
STYLE_VOICE_LEADING = {"bach": 1.0, "palestrina": 1.0, "monteverdi": 0.7}
# Added to /NAME/density in the polyphonic styles, whose generated texture is thinner than their
# corpus's (mean polyphony 0.75-0.9 of it at 0): density 0 is the style's own texture.
STYLE_DENSITY = {"bach": 0.2, "palestrina": 0.2, "monteverdi": 0.2}
# The longest note the first START_BEATS beats of a piece may hold: each style's held-out corpus
# 99th percentile of note length (bench.music_style's "corpus_p99_note_beats"), so a piece does
# not open on notes held for seconds. Later notes are the model's.
START_BEATS = 8
STYLE_START_HOLD_BEATS = {"bach": 3.0, "folk": 3.0, "irish": 1.5, "palestrina": 8.0,
                          "monteverdi": 5.5, "classical": 4.0}
KEY_HALF_LIFE_BEATS = 16.0  # "auto": how fast the notes heard fade from the key estimate
KEY_MIN_NOTES = 4.0  # "auto": no key is held before this many notes (decayed) are heard


def untrained_music_model(spec: dict[str, Any]) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A small untrained music RNN with every style token."""
    cfg = MusicConfig(styles=list(COLLECTIONS), n_embd=32, hidden=64, layers=1, dropout=0.0)
    return MusicRNN(cfg), cfg.to_dict()


def load_music_model(spec: dict[str, Any], device: torch.device) -> tuple[Any, dict]:
    """The music RNN a voice's patch table names, and its card; runs on the engine thread."""
    return load_model("music", spec, device, untrained_music_model)


def grooves_for(spec: dict[str, Any], card: dict[str, Any]) -> dict[str, np.ndarray]:
    """The onset prior beside a trained model's weights, if its grid matches the model's."""
    if not card.get("trained"):
        return {}
    grooves = music_rhythm.for_model(str(spec.get("model")))
    spb = card.get("arch", {}).get("steps_per_beat")
    return {s: g for s, g in grooves.items() if len(g) == spb}


@dataclass
class Settings:
    """What a generation job reads from the controls; recorded whenever it changes."""

    temperature: float = 1.0
    top_p: float = 0.95
    density: float = 0.0
    key: str = "auto"  # a key (C, Am, "D minor"), auto (follow the notes) or any (no key)
    key_strength: float = -1.0  # 0..1: out-of-key chances scaled by 1 - this; -1: the style's
    transpose: int = 0
    chord: tuple[int, ...] = field(default_factory=tuple)  # pitch classes the band plays
    chord_strength: float = 2.5
    dynamics: float = 0.6
    swing: float = 0.0
    humanize: float = 0.3
    beats_per_bar: int = 4
    velocity_scale: float = 1.0
    groove: float = 0.5  # how hard time shifts are steered onto the style's onset positions
    voice_leading: float = -1.0  # 0..1: parallel 5ths/8ves' chances scaled by 1 - this; -1: style's
    style_density: bool = True  # STYLE_DENSITY added to density (logs from before it: False)
    start_hold: bool = True  # STYLE_START_HOLD_BEATS caps the first notes (older logs: False)

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Settings:
        """The settings a generation log recorded (older logs lack the newer fields)."""
        known: dict[str, Any] = {"dynamics": 0.0, "humanize": 0.0, "groove": 0.0,
                                 "voice_leading": 0.0, "style_density": False,
                                 "start_hold": False}  # older logs
        known |= {k: rec[k] for k in cls.__dataclass_fields__ if k in rec}
        if "chord" in known:
            known["chord"] = tuple(known["chord"])
        if "voice_leading" not in rec and "key_strength" in rec:  # a log of key_strength in logits
            known["key_strength"] = 1.0 - math.exp(-float(rec["key_strength"]))
        return cls(**known)

    def in_style(self, style: str) -> tuple[float, float, float]:
        """(density, key strength, voice leading) in force in a style: -1 is the style's own."""
        density = self.density + (STYLE_DENSITY.get(style, 0.0) if self.style_density else 0.0)
        key = STYLE_KEY_STRENGTH.get(style, 0.0) if self.key_strength < 0 else self.key_strength
        lead = STYLE_VOICE_LEADING.get(style, 0.0) if self.voice_leading < 0 else self.voice_leading
        return density, key, lead

    def feel(self) -> Feel:
        """How notes generated under these settings are played."""
        return Feel(self.dynamics, self.swing, self.humanize, self.beats_per_bar,
                    self.velocity_scale)


@dataclass
class GenNote:
    """A complete generated note on the voice's step grid (steps from beat 0)."""

    id: int
    pitch: int
    velocity: int
    start: int
    end: int


@dataclass(frozen=True)
class PlayedNote:
    """A generated note as it is played: times in beats (swung, humanised), shaped velocity."""

    id: int
    pitch: int
    velocity: int
    start: Fraction
    end: Fraction


class MusicGen:
    """Generation state: a sampler, a cursor on the step grid and the notes not yet ended.

    Deterministic given the model, the seeds and the sequence of restarts and settings (keyed
    by event count), which is what the recorder writes: a replay gets the same notes.
    """

    def __init__(self, model: MusicRNN, voice: str, seed: int, max_note_beats: float = 4.0,
                 grooves: dict[str, np.ndarray] | None = None) -> None:
        self.model = model
        self.grooves = grooves or {}  # per style (models.music_rhythm); none: shifts unsteered
        self.voice = voice
        self.seed = seed
        self.spb = model.cfg.steps_per_beat
        self.max_note_beats = max_note_beats
        self.restarts = 0
        self.events = 0  # events sampled since the voice began (the replay's position)
        self.next_id = 0
        self.cursor = 0
        self.velocity = 80
        self.open: dict[int, tuple[int, int]] = {}  # output pitch -> (start step, velocity)
        self.sampler: MusicSampler | None = None
        self._since_shift = 0
        self._voice_hash = zlib.crc32(voice.encode())
        self.key = KeyTracker(self.spb)
        self.leading = VoiceLeading()
        self.piece_start = 0  # the step the current piece (restart) began at
        self.start_cap: int | None = None  # steps the start's notes may last (Settings.start_hold)

    def restart(self, at_step: int, style: str, prime: list[Event] | None = None) -> dict[str, Any]:
        """A fresh sampler in a style (optionally primed); generation resumes at at_step."""
        self.restarts += 1
        self.sampler = MusicSampler(self.model, seed_for(self.seed, self.voice, self.restarts),
                                    style=style)
        self.sampler.max_note_beats = self.max_note_beats
        if prime:
            self.sampler.prime(prime)
        self.key = KeyTracker(self.spb)  # a new piece: its key is heard afresh, from the prime
        self.key.hear_events(prime or [], at_step)
        self.leading = VoiceLeading()
        self.cursor, self.open, self._since_shift = at_step, {}, 0
        self.piece_start = at_step
        return {"op": "restart", "step": at_step, "style": style,
                "prime": [[e.kind, e.value] for e in prime or []]}

    def release(self, at_step: int) -> dict[str, Any]:
        """Forget the notes not yet ended (they were silenced) and resume at at_step."""
        if self.sampler is not None:
            for pitch in list(self.sampler.sounding):  # tell the model they ended
                self.sampler.feed(Event("note_off", pitch))
        self.cursor, self.open, self._since_shift = at_step, {}, 0
        self.leading = VoiceLeading()
        return {"op": "release", "step": at_step}

    def close_all(self, at: int) -> list[GenNote]:
        """End every open note at step `at` (the end of an answer), or just after its start."""
        notes = [self._note(p, at) for p in list(self.open)]
        self.release(self.cursor)
        return notes

    def _note(self, pitch: int, at: int | None = None) -> GenNote:
        start, vel = self.open.pop(pitch)
        self.next_id += 1
        end = self.cursor if at is None else min(self.cursor, at)
        if self.start_cap is not None and start - self.piece_start < START_BEATS * self.spb:
            end = min(end, start + self.start_cap)  # played shorter; the model heard it out
        return GenNote(self.next_id, pitch, vel, start, max(end, start + 1))

    def perform(self, note: GenNote, s: Settings) -> PlayedNote:
        """How a note is played under settings s: the same in a replay."""
        p = perform(Fraction(note.start, self.spb), Fraction(note.end, self.spb), note.velocity,
                    s.feel(), jitter_seed(self.seed, self._voice_hash, note.id))
        return PlayedNote(note.id, note.pitch, p.velocity, p.start, p.end)

    def step(self, s: Settings) -> list[GenNote]:
        """Sample one event; return the notes it completes."""
        assert self.sampler is not None
        self.events += 1
        groove = self.grooves.get(self.sampler.style)
        hold = STYLE_START_HOLD_BEATS.get(self.sampler.style) if s.start_hold else None
        self.start_cap = None if hold is None else int(hold * self.spb)
        density = self._steer(s)
        ev = self.sampler.next_event(s.temperature, s.top_p, density, s.transpose, None, 0.0,
                                     s.chord, s.chord_strength,
                                     None if groove is None or not s.groove else s.groove * groove,
                                     self.cursor % self.spb)
        self._since_shift += 1
        if ev.kind == "time_shift":
            self.leading.time_moves(self.open)
            self.cursor += ev.value
            self._since_shift = 0
        elif self._since_shift >= STALL_EVENTS:  # an untrained model may never move time on
            self.sampler.feed(Event("time_shift", 1))
            self.cursor += 1
            self._since_shift = 0
        if ev.kind == "velocity":
            self.velocity = ev.value
        elif ev.kind == "note_on":
            done = [self._note(ev.value)] if ev.value in self.open else []
            self.open[ev.value] = (self.cursor, self.velocity)
            self.key.hear(ev.value - s.transpose, self.cursor)
            self.leading.onset()
            return done
        elif ev.kind == "note_off" and ev.value in self.open:
            return [self._note(ev.value)]
        return []

    def _steer(self, s: Settings) -> float:
        """Weigh the next event's note-ons by the key and the voice leading; the density.

        MusicSampler.next_event samples from the logits the last event fed left in
        sampler.logits, and the next feed replaces them: a bias added to them here steers that
        one event. Pitches are the model's (before transpose) in the logits, sounding ones here.
        """
        sampler = self.sampler
        assert sampler is not None
        density, key_strength, lead = s.in_style(sampler.style)
        bias = np.zeros(128)
        out = np.arange(128) + s.transpose  # the pitch each note-on token sounds
        allowed = self.key.allowed(s.key, s.transpose) if key_strength > 0 else None
        if allowed is not None:
            if s.chord:
                allowed = allowed.copy()
                allowed[list(s.chord)] = True  # the band's chord is never out of key
            bias[~allowed[out % 12]] += _log_keep(key_strength)
        if lead > 0:
            count = self.leading.parallels(sorted(self.open))
            if count is not None:
                shifted = np.zeros(128)
                ok = (out >= 0) & (out < 128)
                shifted[ok] = count[out[ok]]
                bias[shifted > 0] += _log_keep(lead) * (1 if lead >= 1 else shifted[shifted > 0])
        if not bias.any():
            return density
        v = sampler.vocab
        logits = sampler.logits.astype(np.float64)
        on = logits[v.on0 : v.on0 + 128]  # a view
        free = (out >= 0) & (out < 128)
        free[list(sampler.sounding)] = False  # what next_event leaves to choose from
        mass = np.logaddexp.reduce(on[free])
        on += bias
        steered = np.logaddexp.reduce(on[free])
        if np.isfinite(mass) and np.isfinite(steered):
            on += mass - steered  # among the note-ons only: how often a note begins stays the model's
        sampler.logits = logits
        return density

    def run(self, s: Settings, until: int, stop_at: int | None = None) -> list[GenNote]:
        """Generate until the cursor reaches `until` and every note begun before it has ended.

        stop_at (the end of an answer) is a hard end: the caller ends what is still open.
        """
        out: list[GenNote] = []
        limit = until + int(self.max_note_beats * self.spb) + self.spb
        if stop_at is not None:
            limit = min(limit, stop_at)
        for _ in range(MAX_EVENTS_PER_JOB):
            begun = any(start < until for start, _ in self.open.values())
            if (self.cursor >= until and not begun) or self.cursor >= limit:
                break
            out += self.step(s)
        return out

    def run_events(self, s: Settings, n: int) -> list[GenNote]:
        """Generate exactly n more events (a replay follows the recorded event counts)."""
        out: list[GenNote] = []
        for _ in range(n):
            out += self.step(s)
        return out


def _log_keep(strength: float) -> float:
    """The log of 1 - strength: what a strength (0..1) adds to the logits it lowers (1: -inf)."""
    return -math.inf if strength >= 1 else math.log1p(-strength)


class KeyTracker:
    """The key the notes are in, for key 'auto': Krumhansl-Schmuckler over the notes heard.

    Each note-on (the model's pitch, before transpose) adds 1 to its pitch class; the counts
    fade with a half-life of KEY_HALF_LIFE_BEATS, so a modulation is followed within a phrase or
    two. The same profiles and scales as models.music_stats' in-key rate (minor with its leading
    tone). Deterministic: a function of the notes heard and their steps.
    """

    def __init__(self, spb: int) -> None:
        self.spb = spb
        self.counts = np.zeros(12)
        self.at = 0  # step of the last note heard
        self._scale: tuple[int, np.ndarray | None] | None = None  # cached: transpose, allowed
        self._dirty = False

    def hear(self, pitch: int, step: int) -> None:
        """A note-on at a step (model pitch)."""
        if step > self.at:
            self.counts *= 0.5 ** ((step - self.at) / (self.spb * KEY_HALF_LIFE_BEATS))
            self.at = step
        self.counts[pitch % 12] += 1.0
        self._dirty = True

    def hear_events(self, events: list[Event], at_step: int) -> None:
        """A prime phrase's note-ons, each at its step; generation goes on from at_step."""
        step = 0
        for ev in events:
            if ev.kind == "time_shift":
                step += ev.value
            elif ev.kind == "note_on":
                self.hear(ev.value, step)
        self.at = at_step

    def estimate(self) -> tuple[int, str] | None:
        """(tonic pitch class, mode) of the notes heard (model pitches), or None before enough."""
        if self.counts.sum() < KEY_MIN_NOTES or self.counts.std() == 0:
            return None
        c = self.counts - self.counts.mean()
        best = int(np.argmax(_PROFILES @ c))  # Pearson's r, up to the counts' own norm
        return best % 12, "major" if best < 12 else "minor"

    def allowed(self, key: str, transpose: int) -> np.ndarray | None:
        """Which sounding pitch classes are in the key (12 bools), or None for no key."""
        if key == "any":
            return None
        if key != "auto":
            named = parse_key(key)
            assert named is not None
            return _scale(*named)
        if self._dirty or self._scale is None or self._scale[0] != transpose:
            est = self.estimate()
            self._scale = (transpose, None if est is None else np.roll(_scale(*est), transpose))
            self._dirty = False
        return self._scale[1]


def _profiles() -> np.ndarray:
    """The 24 key profiles (major on C..B, then minor), centred and of unit norm."""
    rows = np.array([np.roll(p, t) for p in (KK_MAJOR, KK_MINOR) for t in range(12)])
    rows -= rows.mean(1, keepdims=True)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


_PROFILES = _profiles()


def _scale(tonic: int, mode: str) -> np.ndarray:
    """12 bools: the pitch classes of a key's scale (models.metrics.SCALE)."""
    out = np.zeros(12, dtype=bool)
    out[[(tonic + d) % 12 for d in SCALE[mode]]] = True
    return out


class VoiceLeading:
    """Which note-ons would move two voices in parallel fifths or octaves.

    As models.music_stats counts them: the notes sounding at each onset ranked bottom to top as
    voices; two voices a perfect fifth or octave apart at the last onset that both move, the same
    way, to the same interval again. A candidate note-on joins what sounds now at its rank (the
    model writes a step's note-ons from the bottom up, as its corpus was encoded), and its pairs
    with the voices sounding are checked against the chord at the last onset.
    """

    def __init__(self) -> None:
        self.last: np.ndarray = np.zeros(0, dtype=int)  # the chord at the last onset, sorted
        self._onset = False  # a note began at the current step
        self._cache: tuple[tuple[int, ...], np.ndarray | None] | None = None

    def onset(self) -> None:
        """A note began at the current step."""
        self._onset = True

    def time_moves(self, open_notes: dict[int, Any]) -> None:
        """Time moves on: if a note began at the step it leaves, what sounds there is a chord."""
        if self._onset:
            self.last = np.array(sorted(open_notes), dtype=int)
            self._onset, self._cache = False, None

    def parallels(self, sounding: list[int]) -> np.ndarray | None:
        """How many parallels each pitch 0-127 would make if it began now (None: none can)."""
        key = tuple(sounding)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        prev, n = self.last, len(self.last)
        count: np.ndarray | None = None
        if n >= 2 and sounding:
            cand = np.arange(128)
            rank = np.searchsorted(np.array(sounding), cand)  # the candidate's voice
            count = np.zeros(128, dtype=int)
            for k, q in enumerate(sounding):
                i = k + (q > cand)  # the sounding note's voice once the candidate joins
                ok = (rank < n) & (i < n)
                p_c, p_q = prev[np.minimum(rank, n - 1)], prev[np.minimum(i, n - 1)]
                before = np.where(cand > q, p_c - p_q, p_q - p_c) % 12
                after = np.abs(cand - q) % 12
                move_c, move_q = cand - p_c, q - p_q
                par = ok & ((before == 0) | (before == 7)) & (after == before) & (move_c != 0) & \
                    (move_q != 0) & (np.sign(move_c) == np.sign(move_q)) & (cand != q)
                count += par
            if not count.any():
                count = None
        self._cache = (key, count)
        return count


def melody(pitches: tuple[int, ...], beats_each: float, spb: int) -> list[Event]:
    """A prime phrase as events: each pitch held for beats_each."""
    step = max(1, round(beats_each * spb))
    out: list[Event] = []
    for p in pitches:
        out += [Event("note_on", p), Event("time_shift", step), Event("note_off", p)]
    return out


def phrase_events(phrase: list[tuple[float, int, int]], spb: int) -> list[Event]:
    """Input notes (beat, pitch, velocity) -> events on the step grid, each note to the next."""
    out: list[Event] = []
    for i, (beat, pitch, vel) in enumerate(phrase):
        nxt = phrase[i + 1][0] if i + 1 < len(phrase) else beat + 0.5
        steps = max(1, round((nxt - beat) * spb))
        out += [Event("velocity", vel), Event("note_on", pitch)]
        while steps > 0:
            out.append(Event("time_shift", min(steps, spb)))
            steps -= spb
        out.append(Event("note_off", pitch))
    return out


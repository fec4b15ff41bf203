"""The music voice's generator: deterministic notes on a step grid from a performance-event RNN.

The live voice, the replay and the benchmarks all generate through MusicGen, so that the same
model, seeds, restarts and settings (which the recorder writes) give the same notes.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import torch

from live.voices.kit import load_model, seed_for
from live.voices.music_feel import Feel, jitter_seed, perform
from models import music_rhythm
from models.music_data import COLLECTIONS
from models.music_rnn import Event, MusicConfig, MusicRNN, MusicSampler

MAX_EVENTS_PER_JOB = 4096
STALL_EVENTS = 64  # this many events without a time shift: push time on by one step


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
    key: str = "any"
    key_strength: float = 3.0
    transpose: int = 0
    chord: tuple[int, ...] = field(default_factory=tuple)  # pitch classes the band plays
    chord_strength: float = 2.5
    dynamics: float = 0.6
    swing: float = 0.0
    humanize: float = 0.3
    beats_per_bar: int = 4
    velocity_scale: float = 1.0
    groove: float = 0.5  # how hard time shifts are steered onto the style's onset positions

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Settings:
        """The settings a generation log recorded (older logs lack the newer fields)."""
        known: dict[str, Any] = {"dynamics": 0.0, "humanize": 0.0, "groove": 0.0}  # older logs
        known |= {k: rec[k] for k in cls.__dataclass_fields__ if k in rec}
        if "chord" in known:
            known["chord"] = tuple(known["chord"])
        return cls(**known)

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

    def restart(self, at_step: int, style: str, prime: list[Event] | None = None) -> dict[str, Any]:
        """A fresh sampler in a style (optionally primed); generation resumes at at_step."""
        self.restarts += 1
        self.sampler = MusicSampler(self.model, seed_for(self.seed, self.voice, self.restarts),
                                    style=style)
        self.sampler.max_note_beats = self.max_note_beats
        if prime:
            self.sampler.prime(prime)
        self.cursor, self.open, self._since_shift = at_step, {}, 0
        return {"op": "restart", "step": at_step, "style": style,
                "prime": [[e.kind, e.value] for e in prime or []]}

    def release(self, at_step: int) -> dict[str, Any]:
        """Forget the notes not yet ended (they were silenced) and resume at at_step."""
        if self.sampler is not None:
            for pitch in list(self.sampler.sounding):  # tell the model they ended
                self.sampler.feed(Event("note_off", pitch))
        self.cursor, self.open, self._since_shift = at_step, {}, 0
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
        ev = self.sampler.next_event(s.temperature, s.top_p, s.density, s.transpose,
                                     None if s.key == "any" else s.key, s.key_strength,
                                     s.chord, s.chord_strength,
                                     None if groove is None or not s.groove else s.groove * groove,
                                     self.cursor % self.spb)
        self._since_shift += 1
        if ev.kind == "time_shift":
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
            return done
        elif ev.kind == "note_off" and ev.value in self.open:
            return [self._note(ev.value)]
        return []

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


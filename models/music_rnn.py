"""Performance-event LSTM: the music voice. Network, streaming sampler, events -> notes.

Vocabulary (see models.music_data.EventVocab): NOTE_ON[128] NOTE_OFF[128]
TIME_SHIFT[max_shift] VELOCITY[n_velocity] STYLE[len(styles)]. Time is counted in
steps of 1/steps_per_beat of a beat, never in seconds, so a tempo change applies at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from models.music_data import TICKS_PER_BEAT, EventVocab
from models.rnn import LSTMLM, State, sample_logits

MAJOR = (0, 2, 4, 5, 7, 9, 11)  # pitch classes of a major scale above its tonic
NAMES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


@dataclass
class MusicConfig:
    """Architecture and vocabulary of a music LSTM; stored in the weights card."""

    styles: list[str] = field(default_factory=lambda: ["any"])
    steps_per_beat: int = 12
    max_shift: int = 12  # longest single time shift, in steps
    n_velocity: int = 16
    n_embd: int = 128
    hidden: int = 384
    layers: int = 2
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if not self.styles:
            raise ValueError("styles must name at least one style")
        if TICKS_PER_BEAT % self.steps_per_beat:
            raise ValueError(f"steps_per_beat must divide {TICKS_PER_BEAT}")

    @property
    def vocab(self) -> EventVocab:
        return EventVocab(len(self.styles), self.max_shift, self.n_velocity)

    def to_dict(self) -> dict:
        return asdict(self)


class MusicRNN(LSTMLM):
    """idx (B, T) of event tokens -> logits (B, T, V) and the LSTM state."""

    def __init__(self, cfg: MusicConfig) -> None:
        super().__init__(cfg.vocab.size, cfg.n_embd, cfg.hidden, cfg.layers, cfg.dropout)
        self.cfg = cfg


@dataclass(frozen=True)
class Event:
    """One performance event: kind is note_on, note_off, time_shift or velocity."""

    kind: str
    value: int  # MIDI pitch, steps of 1/steps_per_beat beat, or MIDI velocity


@dataclass(frozen=True)
class Note:
    """A completed note: MIDI pitch and velocity, start and length in beats."""

    pitch: int
    velocity: int
    start_beat: float
    duration_beats: float


class NoteTracker:
    """Turns an event stream into notes; a note is complete when its note_off arrives."""

    def __init__(self, steps_per_beat: int, start_beat: float = 0.0) -> None:
        self.steps_per_beat = steps_per_beat
        self.beat = start_beat  # time of the next event, in beats
        self.velocity = 80
        self.sounding: dict[int, tuple[float, int]] = {}  # pitch -> (start beat, velocity)

    def push(self, ev: Event) -> list[Note]:
        if ev.kind == "time_shift":
            self.beat += ev.value / self.steps_per_beat
        elif ev.kind == "velocity":
            self.velocity = ev.value
        elif ev.kind == "note_on":
            done = self._close(ev.value)  # a re-attack ends the sounding note
            self.sounding[ev.value] = (self.beat, self.velocity)
            return done
        elif ev.kind == "note_off":
            return self._close(ev.value)
        return []

    def flush(self) -> list[Note]:
        """End every sounding note now."""
        return [n for p in list(self.sounding) for n in self._close(p)]

    def _close(self, pitch: int) -> list[Note]:
        if pitch not in self.sounding:
            return []
        start, vel = self.sounding.pop(pitch)
        return [Note(pitch, vel, start, max(self.beat - start, 1.0 / self.steps_per_beat))]


def events_to_notes(events: Iterable[Event], steps_per_beat: int) -> list[Note]:
    """A finished event list -> notes sorted by start; notes left sounding end at the last time."""
    tr = NoteTracker(steps_per_beat)
    notes = [n for ev in events for n in tr.push(ev)] + tr.flush()
    return sorted(notes, key=lambda n: (n.start_beat, n.pitch))


def parse_key(key: int | str | None) -> int | None:
    """'C', 'F#', 'Bb', 'Am' (its relative major's scale) or a pitch class 0-11 -> tonic pc."""
    if key is None or isinstance(key, int):
        return None if key is None else key % 12
    k = key.strip()
    if not k or k[0].upper() not in NAMES:
        raise ValueError(f"key must be like C, F#, Bb or Am, got {key!r}")
    pc = NAMES[k[0].upper()] + k[1:].count("#") - k[1:].count("b")
    return (pc + 3) % 12 if k.endswith("m") else pc % 12


class MusicSampler:
    """Streams events one at a time from a MusicRNN, in a style, with density and key steering."""

    max_poly = 10  # never more notes sounding at once
    max_note_beats = 8.0  # a note held longer is released by force (no stuck notes on stage)
    max_rest_beats = 4.0  # silence longer than this: time shifts are barred until a note starts

    def __init__(self, model: MusicRNN, seed: int = 0, style: str | None = None) -> None:
        self.model = model.eval()
        self.cfg = model.cfg
        self.vocab = model.cfg.vocab
        self.rng = np.random.default_rng(seed)
        self.style = style or self.cfg.styles[0]
        self.set_style(self.style)

    @property
    def styles(self) -> list[str]:
        return list(self.cfg.styles)

    def set_style(self, name: str) -> None:
        """Start afresh in a style (the LSTM state is reset and the style token fed)."""
        if name not in self.cfg.styles:
            raise ValueError(f"unknown style {name!r}; choose from {', '.join(self.cfg.styles)}")
        self.style = name
        self.reset()

    def reset(self) -> None:
        self.state: State | None = None
        self.step = 0  # time in steps since the style token
        self.last_sound = 0  # step at which something last sounded
        self.sounding: dict[int, tuple[int, int]] = {}  # model pitch -> (emitted pitch, on step)
        self._feed(self.vocab.style0 + self.cfg.styles.index(self.style))

    def _feed(self, tok: int) -> None:
        logits, self.state = self.model.step(tok, self.state)
        self.logits = logits.cpu().numpy()  # no copy on CPU; a CUDA model works too

    def feed(self, ev: Event) -> None:
        """Feed an event as if the model had played it (untransposed pitches)."""
        v = self.vocab
        if ev.kind == "note_on" and 0 <= ev.value < 128:
            self.sounding[ev.value] = (ev.value, self.step)
            self._feed(v.on0 + ev.value)
        elif ev.kind == "note_off" and ev.value in self.sounding:
            del self.sounding[ev.value]
            self._feed(v.off0 + ev.value)
        elif ev.kind == "time_shift":
            left = int(ev.value)
            while left > 0:
                s = min(left, v.max_shift)
                self.step += s
                self._feed(v.shift0 + s - 1)
                left -= s
        elif ev.kind == "velocity":
            self._feed(v.vel0 + v.velocity_bin(ev.value))

    def prime(self, pitches: Iterable[int | Event], beats_each: float = 0.5) -> None:
        """Feed a melody (pitches, each beats_each long) or events, keeping the state."""
        for p in pitches:
            if isinstance(p, Event):
                self.feed(p)
                continue
            self.feed(Event("note_on", int(p)))
            self.feed(Event("time_shift", max(1, round(beats_each * self.cfg.steps_per_beat))))
            self.feed(Event("note_off", int(p)))

    def next_event(self, temperature: float = 1.0, top_p: float = 1.0, density: float = 0.0,
                   transpose: int = 0, key: int | str | None = None,
                   key_strength: float = 3.0, chord: Sequence[int] = (),
                   chord_strength: float = 2.5, groove: np.ndarray | None = None,
                   phase: int = 0) -> Event:
        """Sample, feed back and return the next event; pitches come out transposed.

        density > 0 favours note-ons over time shifts (log-odds added), < 0 the reverse.
        key (a tonic such as 'G' or 'Em') lowers note-ons outside its scale by key_strength;
        chord (pitch classes a band plays) lowers those outside it by chord_strength.
        groove (log-weights per step of the beat, models.music_rhythm) reweights the time
        shifts by where each lands, phase being the step of the beat now.
        """
        v = self.vocab
        for p, (out, on_step) in self.sounding.items():  # release a note held too long
            if self.step - on_step > self.max_note_beats * self.cfg.steps_per_beat:
                self.feed(Event("note_off", p))
                return Event("note_off", out)
        logits = self.logits.astype(np.float64)  # a copy; NumPy: cheap at batch 1
        neg = -np.inf
        logits[v.style0 :] = neg  # a style token is never played
        on = logits[v.on0 : v.on0 + 128]  # views: edits land in logits
        off = logits[v.off0 : v.off0 + 128]
        playing = np.zeros(128, dtype=bool)
        playing[list(self.sounding)] = True
        off[~playing] = neg  # only sounding notes can end
        on[playing] = neg
        out_pitch = np.arange(128) + transpose
        on[(out_pitch < 0) | (out_pitch > 127)] = neg
        if len(self.sounding) >= self.max_poly:
            on[:] = neg
        if self.sounding:
            self.last_sound = self.step
        elif self.step - self.last_sound >= self.max_rest_beats * self.cfg.steps_per_beat:
            logits[v.shift0 : v.style0] = neg  # a long silence: the next note starts now
        if density:
            on += density
            logits[v.shift0 : v.shift0 + v.max_shift] -= density
        tonic = parse_key(key)
        if tonic is not None:
            in_key = np.zeros(12, dtype=bool)
            in_key[[(tonic + d) % 12 for d in MAJOR]] = True
            on[~in_key[out_pitch % 12]] -= key_strength
        if len(chord):
            in_chord = np.zeros(12, dtype=bool)
            in_chord[list(chord)] = True
            on[~in_chord[out_pitch % 12]] -= chord_strength
        shifts = logits[v.shift0 : v.shift0 + v.max_shift]
        mass = np.logaddexp.reduce(shifts)
        if groove is not None and np.isfinite(mass):
            # Reweight among the time shifts only: how often time moves on stays the model's.
            shifts += groove[(phase + np.arange(1, v.max_shift + 1)) % len(groove)]
            shifts += mass - np.logaddexp.reduce(shifts)
        tok = sample_logits(logits, temperature, top_p, self.rng)
        kind, value = v.kind(tok)
        if kind == "note_on":
            self.sounding[value] = (value + transpose, self.step)
            self._feed(tok)
            return Event("note_on", value + transpose)
        if kind == "note_off":
            out, _ = self.sounding.pop(value)
            self._feed(tok)
            return Event("note_off", out)
        if kind == "time_shift":
            self.step += value
        self._feed(tok)
        return Event(kind, value)

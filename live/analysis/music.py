"""Features of what a music voice plays, per beat and per phrase: density, register, polyphony,
dynamics, the key (Krumhansl-Schmuckler) and how tense what sounds is."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

# Krumhansl-Kessler key profiles (probe-tone ratings), C major and C minor.
MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
KEYS = tuple(f"{n} major" for n in NAMES) + tuple(f"{n} minor" for n in NAMES)
# Roughness of each interval class (0..6 semitones), after the usual consonance rankings:
# unison/octave and fifth smooth, seconds and the tritone rough.
ROUGHNESS = np.array([0.0, 1.0, 0.8, 0.35, 0.25, 0.1, 0.9])
PHRASE_BEATS = 8
RANGES: dict[str, tuple[float, float]] = {
    "density": (0, 16), "pitch_centroid": (0, 127), "pitch_range": (0, 127), "polyphony": (0, 16),
    "velocity": (0, 127), "key_confidence": (-1, 1), "tension": (0, 1), "key_index": (0, 23),
}


def estimate_key(weights: np.ndarray) -> tuple[int, float]:
    """(index into KEYS, Pearson correlation) of the best-matching key for 12 pitch-class weights."""
    if weights.sum() <= 0:
        return 0, 0.0
    profiles = [np.roll(MAJOR, k) for k in range(12)] + [np.roll(MINOR, k) for k in range(12)]
    scores = [float(np.corrcoef(weights, p)[0, 1]) if weights.std() > 0 else 0.0 for p in profiles]
    best = int(np.argmax(scores))
    return best, scores[best]


def tension(pitches: list[int]) -> float:
    """Mean roughness of the intervals between the pitches sounding together (0 for < 2)."""
    if len(pitches) < 2:
        return 0.0
    pcs = [p % 12 for p in pitches]
    rough = [ROUGHNESS[min((a - b) % 12, (b - a) % 12)] for i, a in enumerate(pcs) for b in pcs[i + 1:]]
    return float(np.mean(rough))


@dataclass
class Heard:
    """A note as it sounded: start and end beats, pitch, velocity."""

    start: float
    end: float
    pitch: int
    velocity: int


@dataclass
class MusicAnalyser:
    """Keeps the notes of the last phrase; measures a window of beats ending now."""

    notes: deque[Heard] = field(default_factory=lambda: deque(maxlen=2048))

    def note(self, start: float, end: float, pitch: int, velocity: int) -> None:
        self.notes.append(Heard(start, end, pitch, velocity))

    def measure(self, beat: float, beats: float = 1.0) -> dict[str, object]:
        """Features of the notes sounding in (beat - beats, beat]; the key over the phrase."""
        while self.notes and self.notes[0].end < beat - PHRASE_BEATS:
            self.notes.popleft()
        notes = list(self.notes)  # a copy: the note sender's thread appends while this runs
        window = [n for n in notes if n.start < beat and n.end > beat - beats]
        started = [n for n in window if n.start >= beat - beats]
        pitches = [n.pitch for n in window]
        sounding_now = [n.pitch for n in window if n.start <= beat - 1e-6 < n.end] or pitches[-4:]
        # Polyphony: sounding notes, sampled at 12 points in the window.
        samples = [beat - beats + (i + 0.5) * beats / 12 for i in range(12)]
        poly = float(np.mean([sum(1 for n in window if n.start <= t < n.end) for t in samples]))
        weights = np.zeros(12)
        for n in notes:
            if n.start < beat:
                weights[n.pitch % 12] += min(n.end, beat) - n.start
        key, confidence = estimate_key(weights)
        return {
            "density": len(started) / beats,
            "pitch_centroid": float(np.mean(pitches)) if pitches else 0.0,
            "pitch_range": float(max(pitches) - min(pitches)) if pitches else 0.0,
            "polyphony": poly,
            "velocity": float(np.mean([n.velocity for n in window])) if window else 0.0,
            "key": KEYS[key], "key_index": key, "key_confidence": confidence,
            "tension": tension(sounding_now),
        }

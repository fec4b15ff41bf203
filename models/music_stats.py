"""What a stretch of music is like, to set generated music beside its corpus: texture, rhythm,
key, voice leading and dynamics. Notes are rows of (pitch, start beat, end beat, velocity)."""

from __future__ import annotations

import math

import numpy as np

from models.metrics import SCALE, estimate_key

GRID = 12  # texture is sampled every 1/12 beat
DURATION_BINS = np.array([0, 1 / 6, 1 / 4, 1 / 3, 1 / 2, 2 / 3, 1, 3 / 2, 2, 3, 4, 8, math.inf])
ONSET_BINS = 12  # onset position within the beat, in twelfths


def notes_array(rows: list[tuple[int, float, float, int]]) -> np.ndarray:
    """(N, 4) float array of pitch, start, end, velocity, in start order."""
    a = np.array(rows, dtype=float).reshape(-1, 4)
    return a[np.argsort(a[:, 1], kind="stable")]


def sounding(notes: np.ndarray) -> np.ndarray:
    """How many notes sound at each 1/GRID beat from the first onset to the last end."""
    if not len(notes):
        return np.zeros(0, dtype=int)
    t0 = notes[:, 1].min()
    steps = np.ceil((notes[:, 2].max() - t0) * GRID).astype(int) + 1
    count = np.zeros(steps + 1, dtype=int)
    starts = np.round((notes[:, 1] - t0) * GRID).astype(int)
    ends = np.maximum(np.round((notes[:, 2] - t0) * GRID).astype(int), starts + 1)
    np.add.at(count, starts, 1)
    np.add.at(count, ends, -1)
    return np.cumsum(count)[:-1]


def texture(notes: np.ndarray) -> dict[str, float]:
    """Mean polyphony while anything sounds, and the voice count (the 95th percentile of it)."""
    n = sounding(notes)
    n = n[n > 0]
    if not len(n):
        return {"polyphony": 0.0, "voices": 0.0}
    return {"polyphony": float(n.mean()), "voices": float(np.percentile(n, 95))}


def histogram(values: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Normalised counts of values in bins (left-closed)."""
    h = np.histogram(values, bins=bins)[0].astype(float)
    return h / max(h.sum(), 1.0)


def duration_hist(notes: np.ndarray) -> np.ndarray:
    """Distribution of note lengths in beats (DURATION_BINS)."""
    return histogram(notes[:, 2] - notes[:, 1], DURATION_BINS)


def onset_hist(notes: np.ndarray) -> np.ndarray:
    """Distribution of onset positions within the beat (twelfths)."""
    pos = np.round((notes[:, 1] % 1) * ONSET_BINS) % ONSET_BINS
    return histogram(pos, np.arange(ONSET_BINS + 1) - 0.5)


def kl(p: np.ndarray, q: np.ndarray, eps: float = 1e-3) -> float:
    """KL(p || q) in nats, both smoothed by eps so an empty bin is not infinite."""
    p, q = p + eps, q + eps
    p, q = p / p.sum(), q / q.sum()
    return float((p * np.log(p / q)).sum())


def in_key(notes: np.ndarray) -> float:
    """Fraction of notes in the Krumhansl-Schmuckler key of the stretch."""
    if len(notes) < 8:
        return math.nan
    pitches = notes[:, 0].astype(int)
    tonic, mode = estimate_key(pitches)
    return float(np.isin((pitches - tonic) % 12, SCALE[mode]).mean())


def parallels_per_100_beats(notes: np.ndarray) -> float:
    """Consecutive fifths and octaves between the outer and inner voices, per 100 beats.

    At each onset the sounding notes are ranked bottom to top as voices; two voices a perfect
    fifth or octave (or unison) apart that both move, in the same direction, to the same
    interval class again count once. A chorale-writing rule, measured the same way on both sides.
    """
    if len(notes) < 2:
        return 0.0
    onsets = np.unique(notes[:, 1])
    chords = []
    for t in onsets:
        on = notes[(notes[:, 1] <= t) & (notes[:, 2] > t)]
        chords.append(np.sort(on[:, 0]))
    count = 0
    for a, b in zip(chords, chords[1:], strict=False):
        if len(a) != len(b) or len(a) < 2:
            continue
        for i in range(len(a)):
            for j in range(i + 1, len(a)):
                before, after = (a[j] - a[i]) % 12, (b[j] - b[i]) % 12
                moved_i, moved_j = b[i] - a[i], b[j] - a[j]
                if before in (0, 7) and after == before and moved_i and moved_j and \
                        np.sign(moved_i) == np.sign(moved_j):
                    count += 1
    beats = max(notes[:, 2].max() - notes[:, 1].min(), 1.0)
    return 100.0 * count / beats


def velocity_spread(notes: np.ndarray) -> dict[str, float]:
    """Velocity range and standard deviation."""
    v = notes[:, 3]
    return {"velocity_min": float(v.min()), "velocity_max": float(v.max()),
            "velocity_std": float(v.std())}


def describe(notes: np.ndarray) -> dict[str, float]:
    """Texture, key and voice-leading figures of one stretch."""
    return texture(notes) | {"in_key": in_key(notes),
                             "parallels_per_100_beats": parallels_per_100_beats(notes),
                             "max_note_beats": float((notes[:, 2] - notes[:, 1]).max())
                             if len(notes) else 0.0}

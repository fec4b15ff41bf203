"""The performance layer: velocity by metric accent and phrase arc, swing and humanised timing.

The model writes notes on a step grid; this shapes how each is played. Deterministic: a note's
jitter comes from the voice's seed and the note's id, so a replay performs it the same way.
Times come out on a grid of 1/TICKS beat, as a MIDI file keeps them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from fractions import Fraction

TICKS = 960  # performed times are whole ticks of a beat
PHRASE_BARS = 4  # the dynamic arc rises and falls over this many bars
ACCENT_VELOCITY = 16  # a downbeat at dynamics 1 is this much louder than a plain beat
ARC_VELOCITY = 14  # the arc's swing either side of the middle, at dynamics 1
HUMAN_BEATS = 0.04  # timing jitter at humanize 1, either way (20 ms at 120 bpm)
HUMAN_VELOCITY = 8  # velocity jitter at humanize 1, either way
MAX_SWING = Fraction(1, 6)  # swing 1 moves the off-beat eighth to the triplet's last third


@dataclass(frozen=True)
class Feel:
    """How the notes are played: each amount 0 (as written) to 1."""

    dynamics: float = 0.0
    swing: float = 0.0
    humanize: float = 0.0
    beats_per_bar: int = 4
    velocity_scale: float = 1.0  # after the shaping, as a fader on the whole voice


@dataclass(frozen=True)
class Performed:
    """A note as it is played: beats and velocity."""

    start: Fraction
    end: Fraction
    velocity: int


def accent(beat: Fraction, beats_per_bar: int) -> float:
    """Metric weight of an onset, -0.6 (an off sixteenth) to 1 (the downbeat)."""
    in_bar = beat % beats_per_bar
    if in_bar == 0:
        return 1.0
    if in_bar.denominator == 1:  # a beat: the middle of an even bar is the secondary stress
        return 0.5 if beats_per_bar % 2 == 0 and beats_per_bar >= 4 and \
            in_bar == beats_per_bar // 2 else 0.2
    return -0.3 if in_bar.denominator == 2 else -0.6


def arc(beat: Fraction, beats_per_bar: int) -> float:
    """The phrase's rise and fall, -1 at its ends to 1 in its middle."""
    phase = float(beat % (PHRASE_BARS * beats_per_bar)) / (PHRASE_BARS * beats_per_bar)
    return 2 * math.sin(math.pi * phase) - 1


def swung(beat: Fraction, swing: float) -> Fraction:
    """Warp time within each beat so the off-beat eighth lands later; beats stay put."""
    delay = Fraction(round(swing * TICKS)) / TICKS * MAX_SWING
    whole = math.floor(beat)
    f = beat - whole
    half = Fraction(1, 2)
    warped = f * (half + delay) / half if f < half else \
        half + delay + (f - half) * (half - delay) / half
    return whole + warped


def on_ticks(beat: Fraction | float) -> Fraction:
    """A time rounded to whole ticks."""
    return Fraction(round(beat * TICKS), TICKS)


def perform(start: Fraction, end: Fraction, velocity: int, feel: Feel, jitter_seed: int) -> Performed:
    """Play one written note (start and end in beats) with the feel; end stays after start."""
    rng = random.Random(jitter_seed)
    drift = feel.humanize * HUMAN_BEATS * (2 * rng.random() - 1)
    vel = velocity + feel.dynamics * (ACCENT_VELOCITY * accent(start, feel.beats_per_bar)
                                      + ARC_VELOCITY * arc(start, feel.beats_per_bar))
    vel += feel.humanize * HUMAN_VELOCITY * (2 * rng.random() - 1)
    vel *= feel.velocity_scale
    t0 = on_ticks(swung(start, feel.swing) + Fraction(drift))
    t1 = on_ticks(swung(end, feel.swing) + Fraction(drift))
    return Performed(t0, max(t1, t0 + Fraction(1, TICKS)), max(1, min(127, round(vel))))


def jitter_seed(seed: int, voice_hash: int, note_id: int) -> int:
    """The seed of one note's jitter: the same note of the same voice in a replay."""
    return (seed * 1_000_003 + voice_hash) * 2_000_003 + note_id

"""The clock: tempo, beat and bar phase, and the exact beat-to-time map every note is timed by.

Time is kept in NTP units (2**-32 s) counted from the clock's origin, and a tempo map is a list
of segments (start beat, start time, bpm). Beats are Fractions, so the time of any grid point is
one exact rounding away from the map: an OSC timetag is on the grid, not near it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from live.params import FloatParam, IntParam, Registry

log = logging.getLogger("livegen.clock")

NTP_UNIT = 2**32  # NTP fractional units per second
NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix)
BPM_RESOLUTION = 1000  # a tempo is kept as a multiple of 1/1000 bpm, so the maths stays small


@dataclass(frozen=True)
class Segment:
    """From `beat` on (until the next segment), the tempo is `bpm`; `ticks` is its start time."""

    beat: Fraction
    ticks: int  # NTP units since the clock's origin
    bpm: Fraction

    def ticks_at(self, beat: Fraction) -> int:
        return self.ticks + round((beat - self.beat) * 60 * NTP_UNIT / self.bpm)

    def beat_at(self, ticks: float) -> float:
        return float(self.beat) + (ticks - self.ticks) / NTP_UNIT * float(self.bpm) / 60.0


TempoListener = Callable[[Segment], None]


def as_bpm(value: float) -> Fraction:
    """A finite tempo in bpm as an exact Fraction, rounded to 1/1000 bpm."""
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"tempo {value!r} refused, expected a finite number of bpm above 0")
    return Fraction(round(value * BPM_RESOLUTION), BPM_RESOLUTION)


class Clock:
    """Tempo map from beat 0 (the origin) on; safe to read from any thread, changed by one."""

    def __init__(self, bpm: float = 120.0, beats_per_bar: int = 4, subdivision: int = 4,
                 horizon_s: float = 0.0) -> None:
        self.beats_per_bar = beats_per_bar
        self.subdivision = subdivision  # a tempo change waits for the next 1/subdivision beat
        # A change never moves a time already promised to a receiver (timetags sent ahead).
        self.horizon_s = horizon_s
        self.origin_mono = time.monotonic()
        self.origin_unix = time.time()
        self._segments: tuple[Segment, ...] = (Segment(Fraction(0), 0, as_bpm(bpm)),)
        self._lock = threading.Lock()
        self._listeners: list[TempoListener] = []
        self.started = False
        self.version = 0  # bumped by every tempo change: durations computed before are stale

    # -- set-up -----------------------------------------------------------------
    def add_params(self, registry: Registry) -> None:
        self.bpm_param = registry.add(FloatParam(
            "/clock/bpm", float(self.bpm), "tempo in beats per minute; applies at the next "
            "subdivision", lo=20, hi=300))
        self.bar_param = registry.add(IntParam(
            "/clock/beats_per_bar", self.beats_per_bar, "beats in a bar", lo=1, hi=32))
        self.sub_param = registry.add(IntParam(
            "/clock/subdivision", self.subdivision, "a tempo change waits for the next "
            "1/subdivision of a beat", lo=1, hi=48))
        registry.watch("/clock/bpm", lambda c: self.set_bpm(c.value))
        registry.watch("/clock/beats_per_bar", lambda c: setattr(self, "beats_per_bar", c.value))
        registry.watch("/clock/subdivision", lambda c: setattr(self, "subdivision", c.value))

    def load(self, origin_mono: float, origin_unix: float, segments: tuple[Segment, ...]) -> None:
        """Take another clock's origin and tempo map (the OSC sender process follows the server's)."""
        with self._lock:
            self.origin_mono, self.origin_unix = origin_mono, origin_unix
            self._segments = segments
            self.started = True
            self.version += 1

    def on_tempo(self, listener: TempoListener) -> None:
        """Call listener with every segment added to the tempo map."""
        self._listeners.append(listener)

    def start(self) -> None:
        """Beat 0 is now; the tempo set so far is the first segment's."""
        with self._lock:
            self.origin_mono = time.monotonic()
            self.origin_unix = time.time()
            self._segments = (Segment(Fraction(0), 0, self._segments[-1].bpm),)
            self.started = True
            self.version += 1
        for listener in self._listeners:
            listener(self._segments[0])

    # -- tempo ------------------------------------------------------------------
    @property
    def bpm(self) -> float:
        """The tempo now (a change waiting for its subdivision is not yet in force)."""
        return float(self.segment_at_ticks(self.now_ticks()).bpm)

    @property
    def segments(self) -> tuple[Segment, ...]:
        return self._segments

    def set_bpm(self, bpm: float) -> Segment:
        """Change tempo at the next subdivision after the horizon; phase stays continuous."""
        new_bpm = as_bpm(bpm)
        with self._lock:
            if not self.started:
                self._segments = (Segment(Fraction(0), 0, new_bpm),)
                return self._segments[0]
            ticks = self.now_ticks() + round(self.horizon_s * NTP_UNIT)
            beat_now = self._segment_at_ticks(ticks).beat_at(ticks)
            sub = self.subdivision
            at = Fraction(math.floor(beat_now * sub) + 1, sub)
            # A change still waiting for its boundary is replaced, not stacked.
            kept = tuple(s for s in self._segments if s.beat < at)
            seg = Segment(at, self._segment_at_beat(kept, at).ticks_at(at), new_bpm)
            self._segments = (*kept, seg)
            self.version += 1
        for listener in self._listeners:
            listener(seg)
        return seg

    # -- conversions ------------------------------------------------------------
    def now_ticks(self, mono: float | None = None) -> int:
        mono = time.monotonic() if mono is None else mono
        return round((mono - self.origin_mono) * NTP_UNIT)

    def _segment_at_ticks(self, ticks: float) -> Segment:
        segs = self._segments
        for seg in reversed(segs):
            if seg.ticks <= ticks:
                return seg
        return segs[0]

    segment_at_ticks = _segment_at_ticks

    @staticmethod
    def _segment_at_beat(segs: tuple[Segment, ...], beat: Fraction) -> Segment:
        for seg in reversed(segs):
            if seg.beat <= beat:
                return seg
        return segs[0]

    def ticks_at(self, beat: Fraction) -> int:
        """Time of a beat, in NTP units since the origin: exact for grid points."""
        return self._segment_at_beat(self._segments, beat).ticks_at(beat)

    def mono_at(self, beat: Fraction) -> float:
        """time.monotonic() value at which a beat falls."""
        return self.origin_mono + self.ticks_at(beat) / NTP_UNIT

    def seconds_at(self, beat: Fraction) -> float:
        """Seconds from the origin to a beat."""
        return self.ticks_at(beat) / NTP_UNIT

    def ntp_at(self, beat: Fraction) -> int:
        """64-bit NTP timestamp (an OSC timetag) of a beat."""
        return self.origin_ntp + self.ticks_at(beat)

    @property
    def origin_ntp(self) -> int:
        return round((self.origin_unix + NTP_EPOCH_OFFSET) * NTP_UNIT)

    def beat_at(self, mono: float | None = None) -> float:
        """The (fractional) beat at a time.monotonic() value, now by default."""
        ticks = self.now_ticks(mono)
        return self._segment_at_ticks(ticks).beat_at(ticks)

    def status(self) -> dict[str, Any]:
        beat = self.beat_at()
        bar, in_bar = divmod(beat, self.beats_per_bar)
        return {
            "bpm": self.bpm, "beat": round(beat, 4), "bar": int(bar),
            "bar_phase": round(in_bar / self.beats_per_bar, 4), "beat_phase": round(beat % 1, 4),
            "beats_per_bar": self.beats_per_bar, "origin_ntp": self.origin_ntp,
            "segments": [[str(s.beat), s.ticks, str(s.bpm)] for s in self._segments[-8:]],
        }


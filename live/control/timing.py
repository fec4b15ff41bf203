"""Quantise: run something now, on the next beat or on the next bar of the clock."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from fractions import Fraction

from live.clock import Clock

QUANTISE = ("none", "beat", "bar")


class ControlError(ValueError):
    """A control setting (mapping, preset, modulator, learn) was refused; the message says why."""


def check_quantise(value: object, where: str) -> str:
    """The quantise unit, or ControlError naming where it came from."""
    if value not in QUANTISE:
        raise ControlError(f"{where}: quantise {value!r} refused, expected one of {', '.join(QUANTISE)}")
    return str(value)


def next_boundary(clock: Clock, unit: str, mono: float | None = None) -> Fraction | None:
    """The next beat or bar (strictly after now) as an exact beat; None for 'none'."""
    if unit == "none":
        return None
    beat = clock.beat_at(mono)
    step = 1 if unit == "beat" else max(1, clock.beats_per_bar)
    return Fraction((math.floor(beat / step + 1e-9) + 1) * step)


def at_boundary(loop: asyncio.AbstractEventLoop, clock: Clock, unit: str,
                fn: Callable[[], object]) -> asyncio.TimerHandle | None:
    """Call fn on the event loop at the next boundary of unit (now, for 'none'); the timer handle."""
    beat = next_boundary(clock, unit)
    if beat is None:
        fn()
        return None
    delay = max(0.0, clock.mono_at(beat) - time.monotonic())
    return loop.call_later(delay, fn)

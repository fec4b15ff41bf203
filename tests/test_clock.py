"""The clock's tempo map, in process (no server)."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from live.clock import NTP_UNIT, as_bpm
from live.params import ParamError, Registry
from tests.livetools import started_clock as started


def test_grid_times_are_exact() -> None:
    clock = started(120.0)
    # At 120 bpm a beat is half a second: beat 7/12 falls at 7/24 s, one rounding from exact.
    assert clock.ticks_at(Fraction(7, 12)) == round(Fraction(7, 24) * NTP_UNIT)
    assert clock.ticks_at(Fraction(1000)) == 500 * NTP_UNIT
    assert clock.ntp_at(Fraction(2)) - clock.ntp_at(Fraction(0)) == NTP_UNIT


def test_tempo_change_waits_for_next_subdivision_without_a_phase_jump() -> None:
    clock = started(120.0, subdivision=4)
    before = clock.beat_at()
    seg = clock.set_bpm(90.0)
    assert seg.beat > Fraction(before) and seg.beat * 4 == math.floor(seg.beat * 4)
    assert seg.beat - Fraction(before) <= Fraction(1, 4)
    # Continuous at the boundary: the old and the new segment agree on its time.
    old = clock.segments[0]
    assert seg.ticks == old.ticks_at(seg.beat)
    eps = 1e-6
    t = clock.origin_mono + seg.ticks / NTP_UNIT
    assert abs(clock.beat_at(t - eps) - float(seg.beat)) < 1e-4
    assert abs(clock.beat_at(t + eps) - float(seg.beat)) < 1e-4
    # After it, a beat lasts 60/90 s.
    b = seg.beat + 3
    assert clock.ticks_at(b + 1) - clock.ticks_at(b) == round(Fraction(2, 3) * NTP_UNIT)


def test_a_second_change_before_the_boundary_replaces_the_first() -> None:
    clock = started(120.0, subdivision=1)
    first = clock.set_bpm(100.0)
    second = clock.set_bpm(140.0)
    assert first.beat == second.beat
    assert [s.bpm for s in clock.segments] == [as_bpm(120), as_bpm(140)]


def test_horizon_keeps_promised_times() -> None:
    clock = started(120.0, subdivision=48, horizon_s=0.2)
    promised = clock.beat_at() + 0.2 * 2  # 0.2 s ahead, in beats at 120 bpm
    seg = clock.set_bpm(60.0)
    assert float(seg.beat) >= promised - 1e-3


@pytest.mark.parametrize("value", [0, -5, float("nan"), float("inf"), 301, 19.9, "fast", None])
def test_bad_tempo_is_refused_and_the_tempo_stays(value) -> None:
    reg = Registry()
    clock = started(120.0)
    clock.add_params(reg)
    with pytest.raises(ParamError) as e:
        reg.set("/clock/bpm", value)
    assert "/clock/bpm" in str(e.value)
    assert clock.bpm == 120.0 and reg.get("/clock/bpm") == 120.0
    with pytest.raises(ValueError):
        as_bpm(float("nan"))


def test_bpm_param_drives_the_clock() -> None:
    reg = Registry()
    clock = started(120.0)
    clock.add_params(reg)
    reg.set("/clock/bpm", 150)
    assert clock.segments[-1].bpm == 150

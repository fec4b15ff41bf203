"""The clock's tempo map and the note scheduler, in process (no server)."""

from __future__ import annotations

import math
import struct
import threading
import time
from fractions import Fraction

import pytest
from pythonosc.osc_bundle import OscBundle

from live.clock import NTP_UNIT, Clock, as_bpm
from live.io.osc import bundle
from live.params import ParamError, Registry
from live.scheduler import Scheduler


def started(bpm: float = 120.0, **kw) -> Clock:
    clock = Clock(bpm=bpm, **kw)
    clock.start()
    return clock


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


def test_bundle_timetag_is_the_exact_ntp_value() -> None:
    ntp = (3_900_000_000 << 32) + 123_456_789
    data = bundle(ntp, [("/music/noteon", [60, 100]), ("/music/note", [60, 100, 0.5])])
    assert struct.unpack(">Q", data[8:16])[0] == ntp
    parsed = OscBundle(data)
    assert [m.address for m in parsed] == ["/music/noteon", "/music/note"]


def test_scheduler_delivers_in_order_follows_tempo_and_cancels() -> None:
    clock = started(600.0)  # 0.1 s a beat: the test takes about a second
    sched = Scheduler(clock, realtime=False)
    got: list[tuple[str, float]] = []
    done = threading.Event()

    def mark(tag: str):
        return lambda due: got.append((tag, due))

    base = math.ceil(clock.beat_at()) + 2
    sched.at_beat(Fraction(base + 3), "a", mark("b3"))
    sched.at_beat(Fraction(base + 1), "a", mark("on1"), prio=1)
    sched.at_beat(Fraction(base + 1), "a", mark("off1"), prio=0)
    sched.at_beat(Fraction(base + 2), "gone", mark("cancelled"))
    sched.at_time(time.monotonic() + 0.05, "t", mark("time"))
    sched.at_beat(Fraction(base + 4), "a", lambda due: done.set())
    assert sched.cancel("gone") == 1
    sched.start()
    try:
        clock.set_bpm(300.0)  # beats after the change now last 0.2 s
        assert done.wait(10)
    finally:
        sched.stop()
    assert [t for t, _ in got] == ["time", "off1", "on1", "b3"]
    # The due time of a queued beat follows the tempo change made after it was queued.
    assert got[-1][1] == pytest.approx(clock.mono_at(Fraction(base + 3)), abs=1e-9)
    assert sched.stats()["measured"] == 0 and sched.delivered == 5


class FakeLink:
    """Stands in for aalink.Link: a session whose beat runs ahead of ours by `ahead` beats."""

    def __init__(self, clock: Clock, ahead: float) -> None:
        self.clock, self.ahead = clock, ahead
        self.tempo, self.quantum, self.enabled, self.num_peers = 0.0, 0, False, 1

    @property
    def beat(self) -> float:
        return self.clock.beat_at() + self.ahead


def test_link_shares_tempo_and_pulls_phase_without_a_jump() -> None:
    from live.io.link import LinkSync

    reg = Registry()
    clock = started(120.0)
    clock.add_params(reg)
    sync = LinkSync(clock, reg)
    sync.add_params()
    link = FakeLink(clock, ahead=0.05)
    sync.attach(link)
    assert link.enabled and link.quantum == 4 and link.tempo == 120.0
    reg.set("/clock/bpm", 126.0)  # ours goes to the session
    assert link.tempo == 126.0
    link.tempo = 128.0  # a peer's change comes to us, marked as from Link
    seen = []
    reg.listen(lambda c: seen.append((c.path, c.value, c.source)))
    sync.step()
    assert ("/clock/bpm", 128.0, "link") in seen
    # We are 0.05 beats behind: the tempo is nudged up for a beat, continuously.
    nudge = clock.segments[-1]
    assert nudge.bpm > 128 and nudge.ticks == clock.segments[-2].ticks_at(nudge.beat)
    assert reg.get("/clock/bpm") == 128.0  # the nominal tempo is untouched
    link.ahead = 0.0  # caught up: back to the nominal tempo
    sync.step()
    assert clock.segments[-1].bpm == 128

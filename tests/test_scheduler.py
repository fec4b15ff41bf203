"""The note scheduler, in process: order, priorities, tempo changes after queueing, cancels."""

from __future__ import annotations

import math
import threading
import time
from fractions import Fraction

import pytest

from live.scheduler import Scheduler
from tests.livetools import started_clock


def test_scheduler_delivers_in_order_follows_tempo_and_cancels() -> None:
    clock = started_clock(600.0)  # 0.1 s a beat: the test takes about a second
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

"""The note scheduler: one thread with its own clock delivers every timed message when it is due.

It sleeps on a condition until shortly before the next item is due, then spins for the last
stretch, so delivery does not depend on how busy the event loop is. An item is due at a beat
(its time follows tempo changes made after it was queued) or at a time.monotonic() value.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from live.clock import Clock

log = logging.getLogger("livegen.scheduler")

SPIN_S = 0.002  # the last stretch before an item is due is spun, not slept
MAX_SLEEP_S = 0.05  # re-read the queue at least this often (tempo changes move due times)
# Other threads (torch, the event loop, encoders) hold the GIL for up to this long before a
# waiting thread gets it; the default 5 ms would be the scheduler's jitter.
SWITCH_INTERVAL_S = 0.0002

Action = Callable[[float], None]  # called with the item's due time (time.monotonic() value)


@dataclass(order=True)
class Item:
    """One delivery; sorted by due key then by arrival order."""

    key: Any  # Fraction beat or float monotonic time
    prio: int  # at the same due time, lower goes first: network sends before bookkeeping
    seq: int
    owner: str = field(compare=False)
    action: Action = field(compare=False)
    lead_s: float = field(compare=False, default=0.0)  # deliver this long before the due time
    measure: bool = field(compare=False, default=False)  # count its lateness in the statistics
    cached: tuple[int, float] = field(compare=False, default=(-1, 0.0))  # (tempo version, due)


class Scheduler:
    """Delivers items at their due time from its own thread; add and cancel from any thread."""

    def __init__(self, clock: Clock, spin_s: float = SPIN_S, realtime: bool = True,
                 switch_interval_s: float = SWITCH_INTERVAL_S) -> None:
        self.clock = clock
        self.spin_s = spin_s
        self.switch_interval_s = switch_interval_s
        self.realtime = realtime
        self._beats: list[Item] = []
        self._times: list[Item] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="note-scheduler", daemon=True)
        self.lateness: deque[float] = deque(maxlen=20000)  # send - due, seconds, measured items
        self.delivered = 0
        self.errors = 0
        self.priority = "normal"

    def start(self) -> None:
        if sys.getswitchinterval() > self.switch_interval_s:
            sys.setswitchinterval(self.switch_interval_s)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- queueing -----------------------------------------------------------------
    def at_beat(self, beat: Fraction, owner: str, action: Action, lead_s: float = 0.0,
                measure: bool = False, prio: int = 0) -> None:
        self._push(self._beats, Item(beat, prio, next(self._seq), owner, action, lead_s, measure))

    def at_time(self, mono: float, owner: str, action: Action, measure: bool = False,
                prio: int = 0) -> None:
        self._push(self._times, Item(mono, prio, next(self._seq), owner, action, 0.0, measure))

    def _push(self, heap: list[Item], item: Item) -> None:
        with self._cond:
            heapq.heappush(heap, item)
            self._cond.notify()

    def cancel(self, owner: str) -> int:
        """Drop every queued item of an owner; return how many."""
        with self._cond:
            n = len(self._beats) + len(self._times)
            self._beats = [i for i in self._beats if i.owner != owner]
            self._times = [i for i in self._times if i.owner != owner]
            heapq.heapify(self._beats)
            heapq.heapify(self._times)
            return n - len(self._beats) - len(self._times)

    def pending(self, owner: str | None = None) -> int:
        with self._cond:
            items = self._beats + self._times
            return sum(1 for i in items if owner is None or i.owner == owner)

    # -- the thread -----------------------------------------------------------------
    def _due(self, item: Item, from_beats: bool) -> float:
        if not from_beats:
            return item.key - item.lead_s
        version = self.clock.version
        if item.cached[0] != version:  # Fraction maths is slow: once per tempo map, not per look
            item.cached = (version, self.clock.mono_at(item.key) - item.lead_s)
        return item.cached[1]

    def _next(self) -> tuple[list[Item], float] | None:
        """Pop the items due next once they are within the spin window; None after stop."""
        with self._cond:
            while not self._stopping:
                heads = []
                if self._beats:
                    heads.append((self._due(self._beats[0], True), 0))
                if self._times:
                    heads.append((self._due(self._times[0], False), 1))
                if not heads:
                    self._cond.wait(MAX_SLEEP_S)
                    continue
                due, which = min(heads)
                wait = due - time.monotonic()
                if wait > self.spin_s:
                    self._cond.wait(min(wait - self.spin_s, MAX_SLEEP_S))
                    continue
                # A lead (timetag bundles) is per item, so a later beat can be due first:
                # pick the smallest due among the heads only, which is exact when leads agree.
                heap = self._beats if which == 0 else self._times
                first = heapq.heappop(heap)
                batch = [first]  # everything due at the same instant goes out in one go
                while heap and heap[0].key == first.key and heap[0].lead_s == first.lead_s:
                    batch.append(heapq.heappop(heap))
                return batch, due
            return None

    def _raise_priority(self) -> None:
        """Ask the OS for real-time scheduling of this thread where allowed; fine if refused."""
        if not self.realtime or not hasattr(os, "sched_setscheduler"):
            return
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))  # 0: this thread
            self.priority = "SCHED_FIFO 10"
        except (OSError, AttributeError) as e:
            log.debug("note scheduler keeps normal priority: %s", e)

    def _run(self) -> None:
        self._raise_priority()
        while True:
            nxt = self._next()
            if nxt is None:
                return
            batch, due = nxt
            while time.monotonic() < due:  # the spin: at most spin_s
                pass
            for item in batch:
                if item.measure:
                    self.lateness.append(time.monotonic() - due)
                try:
                    item.action(due)
                except Exception:
                    self.errors += 1
                    log.exception("delivery for %s failed", item.owner)
                self.delivered += 1

    # -- figures -------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        late = sorted(abs(x) for x in list(self.lateness))
        if not late:
            return {"delivered": self.delivered, "measured": 0, "priority": self.priority}

        def pct(q: float) -> float:
            return round(late[min(len(late) - 1, int(q * len(late)))] * 1000, 4)

        return {"delivered": self.delivered, "measured": len(late), "errors": self.errors,
                "abs_late_ms": {"p50": pct(0.5), "p99": pct(0.99), "max": round(late[-1] * 1000, 4)},
                "priority": self.priority, "switch_interval_s": sys.getswitchinterval()}

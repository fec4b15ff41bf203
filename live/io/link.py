"""Ableton Link through aalink (optional, GPL-3.0: `pip install livegen[link]`).

With `/clock/link` on, the clock shares tempo with the Link session (a peer's change sets
`/clock/bpm` with source "link"; ours goes to the peers) and follows the session's beat
phase. Phase is pulled in by nudging the tempo for a beat, never by a jump, so notes already
promised keep their times.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from live.clock import Clock
from live.params import BoolParam, Change, Registry

log = logging.getLogger("livegen.link")

MAX_NUDGE = 0.1  # at most 10% faster or slower while catching up the phase
TOLERANCE_S = 0.001  # a phase error smaller than this is left alone


class LinkSync:
    """Follows an aalink.Link (or any object with tempo, beat, quantum, num_peers, enabled)."""

    def __init__(self, clock: Clock, registry: Registry) -> None:
        self.clock = clock
        self.registry = registry
        self.link: Any = None
        self.nominal = clock.bpm
        self.nudged = False
        self.problem: str | None = None
        self._task: asyncio.Task | None = None

    def add_params(self) -> None:
        self.param = self.registry.add(BoolParam(
            "/clock/link", False, "share tempo and phase over Ableton Link (needs aalink)"))
        self.registry.watch("/clock/link", lambda c: self.enable(c.value))
        self.registry.watch("/clock/bpm", self._on_bpm)

    def enable(self, on: bool) -> None:
        if not on:
            if self._task is not None:
                self._task.cancel()
            if self.link is not None:
                self.link.enabled = False
            return
        if self.link is None:
            try:
                from aalink import Link  # GPL-3.0, an optional extra
            except ImportError:
                self.problem = "Ableton Link needs the aalink package: pip install livegen[link]"
                log.warning("%s; the clock runs alone", self.problem)
                return
            self.link = Link(self.clock.bpm, asyncio.get_running_loop())
        self.attach(self.link)
        self._task = asyncio.get_running_loop().create_task(self._follow())

    def attach(self, link: Any) -> None:
        self.link = link
        link.quantum = self.clock.beats_per_bar
        link.tempo = self.nominal
        link.enabled = True
        self.problem = None

    def _on_bpm(self, change: Change) -> None:
        self.nominal = change.value
        self.nudged = False
        if self.link is not None and change.source != "link":
            self.link.tempo = change.value

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(60.0 / self.nominal)  # once a beat
            self.step()

    def step(self) -> None:
        """Take the session's tempo; nudge our tempo for a beat towards its phase."""
        link = self.link
        if link is None:
            return
        if link.num_peers and abs(link.tempo - self.nominal) > 1e-3:
            self.registry.set("/clock/bpm", round(link.tempo, 3), source="link")
        if not link.num_peers:  # alone in the session: our clock leads
            if self.nudged:
                self.clock.set_bpm(self.nominal)
                self.nudged = False
            return
        q = float(link.quantum or self.clock.beats_per_bar)
        err = (link.beat - self.clock.beat_at() + q / 2) % q - q / 2  # beats we are behind
        if abs(err) * 60.0 / self.nominal < TOLERANCE_S:
            if self.nudged:
                self.clock.set_bpm(self.nominal)
                self.nudged = False
            return
        # Play 1 + err beats in the time of one: caught up in about a beat.
        self.clock.set_bpm(self.nominal * (1.0 + max(-MAX_NUDGE, min(MAX_NUDGE, err))))
        self.nudged = True

    def status(self) -> dict[str, Any] | str:
        if self.link is None or not self.param.value:
            return self.problem or "off"
        return {"peers": self.link.num_peers, "tempo": self.link.tempo, "beat": self.link.beat,
                "nudged": self.nudged}

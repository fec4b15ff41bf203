"""Ableton Link sync against a stand-in session: tempo both ways, phase pulled without a jump."""

from __future__ import annotations

from live.clock import Clock
from live.io.link import LinkSync
from live.params import Registry
from tests.livetools import started_clock


class FakeLink:
    """Stands in for aalink.Link: a session whose beat runs ahead of ours by `ahead` beats."""

    def __init__(self, clock: Clock, ahead: float) -> None:
        self.clock, self.ahead = clock, ahead
        self.tempo, self.quantum, self.enabled, self.num_peers = 0.0, 0, False, 1

    @property
    def beat(self) -> float:
        return self.clock.beat_at() + self.ahead


def test_link_shares_tempo_and_pulls_phase_without_a_jump() -> None:
    reg = Registry()
    clock = started_clock(120.0)
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

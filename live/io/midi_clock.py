"""MIDI clock: a tempo source (24-ppqn clock in, with start/stop/continue/songpos) and clock out.

In: every `clock` message is timed on arrival; `TempoEstimator` fits a line through the last
ticks (least squares, outliers rejected, dropped ticks counted in), so jitter of a few ms moves
the tempo by a fraction of a bpm, and a tempo change is taken within half a beat or so.
`Transport` keeps the song position (start: 0; songpos: 16ths; the first clock after start or
continue falls on the position). With `/clock/source` = midi, `MidiClock` sets `/clock/bpm`
(source "midi") and pulls the clock's bar phase into the sender's by nudging the tempo for a
beat, as Ableton Link does (live/io/link.py): never a jump, so promised notes keep their times.

Out: `MidiClockOut` sends `start` on a bar line, then one `clock` per 1/24 beat, each queued at
its beat on the in-process scheduler, so the ticks follow every tempo change of the tempo map.
A port that cannot open is a warning at start-up (the server runs on, /status says why) and a
refused value when set live.
"""

from __future__ import annotations

import asyncio
import logging
import math
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import mido

from live.clock import Clock
from live.io.midi import MidiError, MidiOut, open_input, open_output
from live.params import BoolParam, Change, ChoiceParam, ParamError, Registry, StringParam
from live.scheduler import Scheduler

log = logging.getLogger("livegen.midi_clock")

PPQN = 24  # MIDI clock ticks per quarter note (a beat)
SOURCES = ("internal", "link", "midi")
MAX_NUDGE = 0.1  # at most 10% faster or slower while catching up the phase
TOLERANCE_S = 0.002  # a phase error smaller than this is left alone
BIG_CHANGE = 0.01  # a tempo change of more than 1% is taken within 1/4 beat, a smaller one a beat
DEADBAND_BPM = 0.05  # a smaller tempo difference is left to the phase nudge
MAX_GAP_S = 0.5  # ticks further apart than this (under 5 bpm) start a new estimate
OWNER = "midi-clock-out"


def _fit(points: list[tuple[int, float]]) -> tuple[float, float, float]:
    """Least-squares line t = a + b * index: (a, b, standard deviation of the residuals)."""
    n = len(points)
    mx = sum(i for i, _ in points) / n
    my = sum(t for _, t in points) / n
    sxx = sum((i - mx) ** 2 for i, _ in points)
    b = sum((i - mx) * (t - my) for i, t in points) / sxx
    a = my - b * mx
    res = [t - a - b * i for i, t in points]
    sd = math.sqrt(sum(r * r for r in res) / max(1, n - 2))
    return a, b, sd


class TempoEstimator:
    """Tempo from tick arrival times: a robust line fit over the last `window` ticks.

    Each tick gets an index; a gap of about n periods counts n (ticks dropped on the way), and
    a tick that comes on time after a gap taken for a drop takes that index back. The fit drops
    points far off the line (a tick held up by a busy sender), and when the last `recent` ticks
    disagree with the window about the period, the window restarts from them: a tempo change.
    """

    def __init__(self, window: int = 48, recent: int = 8, ppqn: int = PPQN) -> None:
        self.window, self.recent, self.ppqn = window, recent, ppqn
        self.points: deque[list[Any]] = deque(maxlen=window)  # [index, time, counted n]
        self.raw: deque[float] = deque(maxlen=9)  # the last intervals as they came
        self.period: float | None = None  # seconds per tick, from the fit
        self.intercept = 0.0
        self.ticks = self.dropped = self.rejected = self.changes = self.resets = 0
        self._off = 0  # ticks running that the recent ones disagree with the window

    def reset(self) -> None:
        self.points.clear()
        self.raw.clear()
        self.period = None

    @property
    def bpm(self) -> float | None:
        return None if self.period is None else 60.0 / (self.ppqn * self.period)

    def tick_time(self) -> float | None:
        """The fitted time of the last tick (its jitter smoothed away)."""
        if not self.points:
            return None
        if self.period is None:
            return float(self.points[-1][1])
        return self.intercept + self.period * self.points[-1][0]

    def tick(self, t: float) -> int:
        """Take one tick at time t (seconds); return how many ticks it counts for (0: none)."""
        self.ticks += 1
        if not self.points:
            self.points.append([0, t, 1])
            return 1
        last = self.points[-1]
        dt = t - last[1]
        if dt <= 0:  # the same instant twice, or time going back: not a tick we can place
            self.rejected += 1
            return 0
        if dt > MAX_GAP_S:  # the sender paused: start over
            self.resets += 1
            self.reset()
            self.points.append([0, t, 1])
            return 1
        self.raw.append(dt)
        n = self._count(dt, last)
        if n == 0:  # the last tick's index was taken back; this one takes it
            self.points.append([last[0] + 1, t, 1])
            self._estimate()
            return 0
        self.points.append([last[0] + n, t, n])
        self._estimate()
        return n

    def _count(self, dt: float, last: list[Any]) -> int:
        """How many periods since the last tick: 1, more over a drop, 0 if that drop was not one."""
        # The median of the last intervals as they came: sparse drops and late ticks do not
        # move it, a tempo change does within half of them.
        p = statistics.median(self.raw) if len(self.raw) >= 3 else (self.period or dt)
        n = max(1, round(dt / p))
        if n >= 2 and self.period is not None:
            # A drop only if the fitted grid agrees: a late tick in heavy jitter is no drop.
            n = max(1, min(n, round((last[1] + dt - self.intercept) / self.period) - int(last[0])))
        if n >= 2:
            self.dropped += n - 1
        elif last[2] >= 2 and dt < 0.5 * p:
            # Early by as much as the last tick was late: it was held up, nothing was dropped.
            self.dropped -= 1
            last[0] -= 1
            last[2] -= 1
            return 0
        return n

    def _estimate(self) -> None:
        pts = [(int(i), float(t)) for i, t, _ in self.points]
        if len(pts) < 3:
            return
        a, b, sd = _fit(pts)
        # Outliers: a point further off the line than 3 robust deviations (and 0.5 ms) is left out.
        res = [abs(t - a - b * i) for i, t in pts]
        mad = statistics.median(res) * 1.4826
        keep = [p for p, r in zip(pts, res, strict=True) if r <= max(3 * mad, 0.0005)]
        if 3 <= len(keep) < len(pts):
            self.rejected += len(pts) - len(keep)
            a, b, sd = _fit(keep)
        if b <= 0:
            return
        if len(pts) >= self.recent * 2:
            recent = pts[-self.recent:]
            _, br, sdr = _fit(recent)
            span = recent[-1][0] - recent[0][0]
            sxx = sum((i - sum(j for j, _ in recent) / len(recent)) ** 2 for i, _ in recent)
            # The window's scatter (more points than the recent ones: a steadier figure).
            stderr = max(sd, sdr / 2) / math.sqrt(sxx) if sxx > 0 else br
            threshold = max(0.05 * b, 5 * stderr)
            self._off = self._off + 1 if span > 0 and abs(br - b) > threshold else 0
            if self._off >= 2:  # two ticks running: not one unlucky tick
                self._off = 0
                # A tempo change: keep only the newest points, which are in the new tempo.
                self.changes += 1
                newest = list(self.points)[-(self.recent // 2):]
                self.points.clear()
                self.points.extend(newest)
                pts = [(int(i), float(t)) for i, t, _ in newest]
                a, b, sd = _fit(pts)
                if b <= 0:
                    return
        self.period, self.intercept = b, a


class Transport:
    """Song position in ticks and whether the sender is playing (MIDI beat clock semantics)."""

    def __init__(self, ppqn: int = PPQN) -> None:
        self.ppqn = ppqn
        self.running = False
        self.position = 0  # the position of the next tick, in ticks since the song's start

    def start(self) -> None:
        self.position, self.running = 0, True

    def stop(self) -> None:
        self.running = False

    def resume(self) -> None:
        self.running = True

    def songpos(self, sixteenths: int) -> None:
        self.position = sixteenths * self.ppqn // 4

    def advance(self, n: int) -> int | None:
        """n ticks arrived; return the position of the last one (None while stopped)."""
        if not self.running or n <= 0:
            return None
        at = self.position + n - 1
        self.position += n
        return at

    @property
    def beat(self) -> float:
        """Beat of the next tick since the song's start."""
        return self.position / self.ppqn


class MidiClockIn:
    """What a MIDI input says: estimated tempo, song position, transport events."""

    def __init__(self, ppqn: int = PPQN) -> None:
        self.ppqn = ppqn
        self.estimator = TempoEstimator(ppqn=ppqn)
        self.transport = Transport(ppqn)
        self.messages = 0

    def message(self, msg: mido.Message, t: float) -> tuple[str, Any] | None:
        """Take one message received at t; return what it means for the clock, if anything.

        ("tick", (position or None, fitted time)) for a tick; ("start" | "stop" | "continue",
        None) for transport; ("songpos", beat) for a song position.
        """
        self.messages += 1
        kind = msg.type
        if kind == "clock":
            n = self.estimator.tick(t)
            if n == 0:
                return None
            return "tick", (self.transport.advance(n), self.estimator.tick_time())
        if kind == "start":
            self.transport.start()
            return "start", None
        if kind == "stop":
            self.transport.stop()
            return "stop", None
        if kind == "continue":
            self.transport.resume()
            return "continue", None
        if kind == "songpos":
            self.transport.songpos(msg.pos)
            return "songpos", self.transport.beat
        return None

    def status(self) -> dict[str, Any]:
        est = self.estimator
        return {"bpm": None if est.bpm is None else round(est.bpm, 3),
                "running": self.transport.running, "beat": self.transport.beat,
                "ticks": est.ticks, "dropped": est.dropped, "rejected": est.rejected,
                "tempo_changes": est.changes}


class MidiClockOut:
    """24-ppqn clock out from the livegen clock: each tick queued at its beat on the scheduler."""

    def __init__(self, clock: Clock, scheduler: Scheduler, ppqn: int = PPQN, ahead: int = PPQN) -> None:
        self.clock, self.scheduler, self.ppqn, self.ahead = clock, scheduler, ppqn, ahead
        self.midi = MidiOut()
        self.running = False  # start is queued or sent
        self.playing = False  # start went out: a stop is owed
        self.started_at: Fraction | None = None  # beat of the start message
        self.ticks = 0
        self._gen = 0  # a stop makes queued ticks of an earlier run no-ops
        self._lock = threading.Lock()

    def open(self, spec: str | None) -> None:
        """Open a port (None or '' closes), stopping the old one; MidiError and nothing changes
        if it cannot open. begin() starts the new one."""
        port = open_output(spec) if spec else None  # MidiError before anything changes
        self.stop()
        self.midi.close()
        with self.midi._lock:
            self.midi.port, self.midi.spec, self.midi.problem = port, spec or None, None

    def next_bar(self) -> Fraction:
        """The first bar line at least 10 ms from now."""
        bpb = self.clock.beats_per_bar
        beat = self.clock.beat_at(time.monotonic() + 0.01)
        return Fraction(math.ceil(beat / bpb) * bpb)

    def begin(self, at: Fraction | None = None) -> None:
        """Send start at beat `at` (the next bar line by default), then a clock every 1/24 beat."""
        if self.midi.port is None:
            return
        at = self.next_bar() if at is None else at
        with self._lock:
            self._gen += 1
            gen = self._gen
            self.running, self.started_at = True, at
        self.scheduler.at_beat(at, OWNER, lambda due: self._send_start(gen), prio=-1)
        first = at * self.ppqn
        assert first.denominator == 1
        for k in range(int(first), int(first) + self.ahead):
            self._queue(k, gen)

    def _queue(self, k: int, gen: int) -> None:
        self.scheduler.at_beat(Fraction(k, self.ppqn), OWNER, lambda due: self._tick(k, gen))

    def _send_start(self, gen: int) -> None:
        if gen == self._gen:
            self.midi.send(mido.Message("start"))
            self.playing = True

    def _tick(self, k: int, gen: int) -> None:
        if gen != self._gen:
            return
        self.midi.send(mido.Message("clock"))
        self.ticks += 1
        self._queue(k + self.ahead, gen)  # keep a beat of ticks queued

    def stop(self) -> None:
        """Drop the queued ticks; send stop if start went out."""
        with self._lock:
            was, self.running, self.playing = self.playing, False, False
            self._gen += 1
        self.scheduler.cancel(OWNER)
        if was:
            self.midi.send(mido.Message("stop"))

    def close(self) -> None:
        self.stop()
        self.midi.close()

    def status(self) -> dict[str, Any] | str:
        if self.midi.port is None:
            return self.midi.problem or "off"
        return {"port": self.midi.spec, "running": self.running, "ticks": self.ticks,
                "started_at": None if self.started_at is None else str(self.started_at),
                "failed": self.midi.failed}


class PortParam(StringParam):
    """A MIDI port spec; `opener(path, spec)` opens it as part of validation (or refuses it)."""

    def __init__(self, path: str, default: str, doc: str,
                 opener: Callable[[str, str], None]) -> None:
        self.opener: Callable[[str, str], None] | None = None  # not while the default is set
        super().__init__(path, default, doc, max_len=200)
        self.opener = opener

    def validate(self, value: Any) -> str:
        spec = super().validate(value)
        if self.opener is not None:
            self.opener(self.path, spec)
        return spec


class MidiClock:
    """The /clock/source, /clock/midi_clock_in, /clock/midi_clock_out, /clock/midi_transport params.

    Messages come on mido's thread; what they mean for the clock is applied on the event loop
    (`loop`; None applies at once, for tests). `play_paths` names the parameters that MIDI
    start and stop switch when midi_transport is on (every music voice's /NAME/play).
    """

    def __init__(self, clock: Clock, registry: Registry, scheduler: Scheduler,
                 loop: asyncio.AbstractEventLoop | None = None,
                 play_paths: Callable[[], list[str]] = list) -> None:
        self.clock, self.registry, self.loop = clock, registry, loop
        self.play_paths = play_paths
        self.input = MidiClockIn()
        self.output = MidiClockOut(clock, scheduler)
        self.in_port: Any = None
        self.in_spec: str | None = None
        self.in_problem: str | None = None
        self.live = False  # after start-up a port that fails is refused, before it is a warning
        self.nominal = clock.bpm
        self.nudged = False
        self._lock = threading.Lock()

    # -- parameters -------------------------------------------------------------------
    def add_params(self) -> None:
        add, reg = self.registry.add, self.registry
        self.source = add(ChoiceParam(
            "/clock/source", "internal", "tempo source: internal, link (Ableton Link) or midi "
            "(MIDI clock from /clock/midi_clock_in)", choices=SOURCES))
        self.in_param = add(PortParam(
            "/clock/midi_clock_in", "", "MIDI port to take clock, start/stop/continue and song "
            "position from ('virtual', 'virtual:NAME', a port name, '' for none)",
            opener=self._checked(self._open_in)))
        self.out_param = add(PortParam(
            "/clock/midi_clock_out", "", "MIDI port to send 24-ppqn clock and start/stop to "
            "('virtual', 'virtual:NAME', a port name, '' for none)",
            opener=self._checked(self._open_out)))
        self.transport_param = add(BoolParam(
            "/clock/midi_transport", False, "MIDI start/continue and stop start and stop the "
            "music voices (/NAME/play)"))
        reg.watch("/clock/source", self._on_source)
        reg.watch("/clock/bpm", self._on_bpm)
        if "/clock/link" in reg:
            reg.watch("/clock/link", self._on_link)

    def _checked(self, opener: Callable[[str], None]) -> Callable[[str, str], None]:
        """Once the server runs a port that fails is refused; at start-up it is a warning."""
        def check(path: str, spec: str) -> None:
            try:
                opener(spec)
            except MidiError as e:
                if self.live:
                    raise ParamError(f"{path}: {e}") from None
                log.warning("%s: the server runs on without it: %s", path, e)
        return check

    def _open_in(self, spec: str) -> None:
        try:
            port = open_input(spec, self._on_midi_thread) if spec else None
        except MidiError as e:
            if not self.live:
                self.in_problem = str(e)
            raise
        with self._lock:
            old, self.in_port, self.in_spec, self.in_problem = self.in_port, port, spec or None, None
        if old is not None:
            old.close()
        self.input = MidiClockIn()

    def _open_out(self, spec: str) -> None:
        try:
            self.output.open(spec or None)
        except MidiError as e:
            if not self.live:
                self.output.midi.fail(str(e))
            raise
        if self.live and spec:
            self.output.begin()

    def _on_source(self, change: Change) -> None:
        if "/clock/link" not in self.registry:
            return
        link_on = self.registry.get("/clock/link")
        if change.value == "link" and not link_on:
            self.registry.set("/clock/link", True, source=change.source)
        elif change.value != "link" and link_on:
            self.registry.set("/clock/link", False, source=change.source)
        if change.value != "midi" and self.nudged:
            self.clock.set_bpm(self.nominal)
            self.nudged = False

    def _on_link(self, change: Change) -> None:
        if change.value and self.source.value != "link":
            self.registry.set("/clock/source", "link", source=change.source)
        elif not change.value and self.source.value == "link":
            self.registry.set("/clock/source", "internal", source=change.source)

    def _on_bpm(self, change: Change) -> None:
        self.nominal = change.value
        self.nudged = False

    # -- life cycle -------------------------------------------------------------------
    def start(self, at: Fraction | None = Fraction(0)) -> None:
        """The clock has started: clock out begins (at beat 0 by default); live sets are checked."""
        self.live = True
        if self.output.midi.port is not None:
            self.output.begin(at)

    def close(self) -> None:
        self.output.close()
        with self._lock:
            port, self.in_port = self.in_port, None
        if port is not None:
            port.close()

    # -- MIDI in --------------------------------------------------------------------------
    def _on_midi_thread(self, msg: mido.Message) -> None:
        self.receive(msg, time.monotonic())

    def receive(self, msg: mido.Message, t: float) -> None:
        """One message arrived at t (time.monotonic()); apply what it means on the loop."""
        event = self.input.message(msg, t)
        if event is None:
            return
        if self.loop is None:
            self.apply(*event)
        else:
            self.loop.call_soon_threadsafe(self.apply, *event)

    def apply(self, kind: str, value: Any) -> None:
        """Follow a tick (tempo every 1/4 beat, phase every beat) or a transport message."""
        if kind == "tick":
            position, fitted = value
            self._follow(position, fitted)
        elif kind in ("start", "continue", "stop") and self.transport_param.value:
            for path in self.play_paths():
                try:
                    self.registry.set(path, kind != "stop", source="midi")
                except ParamError as e:
                    log.warning("MIDI %s: %s", kind, e)

    def _follow(self, position: int | None, fitted: float | None) -> None:
        if self.source.value != "midi":
            return
        est = self.input.estimator
        if est.bpm is None:
            return
        bpm = min(300.0, max(20.0, est.bpm))
        # On the sender's beats while it plays; every 24 ticks while it only sends clock.
        beat = (position if position is not None else est.ticks) % PPQN == 0
        # A change of tempo is taken every 1/4 beat; a small drift once a beat, with the phase
        # (taken more often it would undo the phase nudge).
        big = abs(bpm - self.nominal) > BIG_CHANGE * self.nominal
        if (big and est.ticks % (PPQN // 4) == 0) or (beat and abs(bpm - self.nominal) > DEADBAND_BPM):
            self.registry.set("/clock/bpm", round(bpm, 2), source="midi")
        if beat and position is not None and fitted is not None and self.clock.started:
            self.nudge(position / PPQN, fitted)

    def nudge(self, midi_beat: float, at: float) -> float:
        """The sender is at midi_beat at time at: nudge our tempo for a beat towards its bar phase.

        Returns the phase error in beats (positive: we are behind).
        """
        q = float(self.clock.beats_per_bar)
        err = (midi_beat - self.clock.beat_at(at) + q / 2) % q - q / 2
        if abs(err) * 60.0 / self.nominal < TOLERANCE_S:
            if self.nudged:
                self.clock.set_bpm(self.nominal)
                self.nudged = False
            return err
        # Play 1 + err beats in the time of one: caught up in about a beat.
        self.clock.set_bpm(self.nominal * (1.0 + max(-MAX_NUDGE, min(MAX_NUDGE, err))))
        self.nudged = True
        return err

    def status(self) -> dict[str, Any]:
        inp: dict[str, Any] | str
        if self.in_port is not None:
            inp = {"port": self.in_spec} | self.input.status()
        else:
            inp = self.in_problem or "off"
        return {"source": self.source.value, "in": inp, "out": self.output.status(),
                "transport": self.transport_param.value, "nudged": self.nudged}

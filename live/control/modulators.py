"""Modulators: LFOs and envelopes in beats, summed onto numeric parameters without fighting the
performer. A parameter's base is what was set; its value is base + the sum of its modulators,
clamped to its range (Registry.modulate). They tick on the event loop against the clock's beat.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from live.clock import Clock
from live.control.mappings import Source, parse_source
from live.control.timing import ControlError
from live.params import FloatParam, IntParam, ParamError, Registry

SHAPES = ("sine", "triangle", "saw", "square", "random")
KINDS = (*SHAPES, "envelope")
LFO_KEYS = {"target", "shape", "beats", "phase", "depth", "offset", "seed"}
ENV_KEYS = {"target", "shape", "attack", "decay", "sustain", "release", "depth", "offset", "trigger"}


def wave(shape: str, p: float, seed: int = 0) -> float:
    """One cycle of a shape at phase p (in cycles; any real number), in [-1, 1].

    Sine, triangle and square start at 0 or 1 going up like a sine; saw rises from -1 to 1;
    random is a smoothed random walk: a new seeded value each cycle, eased into.
    """
    if shape == "random":
        k = math.floor(p)
        a, b = _random_point(seed, k), _random_point(seed, k + 1)
        t = p - k
        return a + (b - a) * t * t * (3 - 2 * t)
    p %= 1.0
    if shape == "sine":
        return math.sin(2 * math.pi * p)
    if shape == "triangle":
        return 4 * p if p < 0.25 else 2 - 4 * p if p < 0.75 else 4 * p - 4
    if shape == "saw":
        return 2 * p - 1
    return 1.0 if p < 0.5 else -1.0  # square


def _random_point(seed: int, k: int) -> float:
    rng = np.random.default_rng([seed & 0xFFFFFFFF, k & 0xFFFFFFFF, 0x6C66])
    return float(rng.uniform(-1.0, 1.0))


@dataclass
class Lfo:
    """offset + depth * wave(beat / beats + phase), in the target's units."""

    target: str
    shape: str = "sine"
    beats: float = 4.0  # cycle length in beats
    phase: float = 0.0  # in cycles
    depth: float = 0.0
    offset: float = 0.0
    seed: int = 0

    def at(self, beat: float) -> float:
        """The offset it adds at a beat."""
        return self.offset + self.depth * wave(self.shape, beat / self.beats + self.phase, self.seed)


@dataclass
class Envelope:
    """Attack, decay, sustain, release in beats, from a note, an OSC gate or an OSC pulse."""

    target: str
    attack: float = 0.0
    decay: float = 0.5
    sustain: float = 0.0  # the level held, 0 to 1
    release: float = 0.5
    depth: float = 0.0
    offset: float = 0.0
    trigger: Source | None = None
    on_beat: float | None = None
    off_beat: float | None = None
    off_level: float = 0.0

    def gate(self, on: bool, beat: float) -> None:
        """Start (on) or release the envelope at a beat."""
        if on:
            self.on_beat, self.off_beat = beat, None
        elif self.on_beat is not None and (self.off_beat is None or self.off_beat > beat):
            self.off_level, self.off_beat = self.level(beat), beat  # a pulse's release comes early

    def pulse(self, beat: float) -> None:
        """A trigger with no release: attack, decay, then release from there."""
        self.gate(True, beat)
        self.off_beat = beat + self.attack + self.decay
        self.off_level = self.sustain

    def level(self, beat: float) -> float:
        """The envelope's level (0 to 1) at a beat."""
        if self.on_beat is None or beat < self.on_beat:
            return 0.0
        if self.off_beat is not None and beat >= self.off_beat:
            if self.release <= 0:
                return 0.0
            return max(0.0, self.off_level * (1 - (beat - self.off_beat) / self.release))
        d = beat - self.on_beat
        if d < self.attack:
            return d / self.attack
        d -= self.attack
        if d < self.decay:
            return 1 - (1 - self.sustain) * d / self.decay
        return self.sustain

    def at(self, beat: float) -> float:
        """The offset it adds at a beat."""
        return self.offset + self.depth * self.level(beat)


Modulator = Lfo | Envelope


def _num(table: dict[str, Any], key: str, default: float, lo: float = -math.inf) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < lo:
        raise ControlError(f"key {key!r}: {value!r} refused, expected a number" +
                           (f" of at least {lo:g}" if lo > -math.inf else ""))
    return float(value)


def parse_modulator(table: Any, registry: Registry, seed: int = 0) -> Modulator:
    """One [[modulators]] table checked against the registry; ControlError says what is wrong."""
    if not isinstance(table, dict):
        raise ControlError("expected a table")
    shape = table.get("shape", "sine")
    if shape not in KINDS:
        raise ControlError(f"key 'shape': {shape!r} refused, expected one of {', '.join(KINDS)}")
    keys = ENV_KEYS if shape == "envelope" else LFO_KEYS
    unknown = sorted(set(table) - keys)
    if unknown:
        raise ControlError(f"unknown key(s) {unknown}; a {shape} takes {', '.join(sorted(keys))}")
    target = table.get("target")
    if not isinstance(target, str) or target not in registry:
        raise ControlError(f"key 'target': unknown parameter {target!r}; GET /schema lists them")
    if not isinstance(registry[target], (FloatParam, IntParam)):
        raise ControlError(f"key 'target': {target} is a {registry[target].type}; modulators "
                           "drive float and int parameters")
    depth, offset = _num(table, "depth", 0.0), _num(table, "offset", 0.0)
    if shape == "envelope":
        return _envelope(table, target, depth, offset)
    beats = _num(table, "beats", 4.0)
    if beats <= 0:
        raise ControlError(f"key 'beats': {beats:g} refused, expected a number above 0")
    lfo_seed = table.get("seed", seed)
    if isinstance(lfo_seed, bool) or not isinstance(lfo_seed, int):
        raise ControlError(f"key 'seed': {lfo_seed!r} refused, expected an integer")
    return Lfo(target, shape, beats, _num(table, "phase", 0.0), depth, offset, lfo_seed)


def _envelope(table: dict[str, Any], target: str, depth: float, offset: float) -> Envelope:
    env = Envelope(target, _num(table, "attack", 0.0, 0), _num(table, "decay", 0.5, 0),
                   _num(table, "sustain", 0.0, 0), _num(table, "release", 0.5, 0), depth, offset)
    if env.sustain > 1:
        raise ControlError(f"key 'sustain': {env.sustain:g} refused, expected a level in [0, 1]")
    trig = table.get("trigger")
    if isinstance(trig, str):
        trig = {"osc": trig}
    if not isinstance(trig, dict):
        raise ControlError("key 'trigger': expected an OSC address (\"/pad/1\") or a table "
                           "({ note = 36, channel = 10 })")
    env.trigger = parse_source(trig)
    if env.trigger.kind not in ("osc", "note"):
        raise ControlError(f"key 'trigger': {env.trigger.kind} refused, expected osc or note")
    return env


def parse_modulators(items: Any, registry: Registry, where: str, seed: int = 0) -> list[Modulator]:
    """Every [[modulators]] table; ControlError names the file, the index and the key."""
    out = []
    for i, table in enumerate(items or []):
        try:
            out.append(parse_modulator(table, registry, seed + i))
        except ControlError as e:
            target = table.get("target") if isinstance(table, dict) else None
            raise ControlError(f"{where}: modulators[{i}]" + (f" ({target})" if target else "") +
                               f": {e}") from None
    return out


class Modulators:
    """Ticks every modulator against the clock and sets each target's sum with Registry.modulate."""

    def __init__(self, modulators: list[Modulator], registry: Registry, clock: Clock,
                 tick_hz: float = 30.0) -> None:
        self.modulators = modulators
        self.registry = registry
        self.clock = clock
        self.tick_s = 1.0 / tick_hz
        self.ticks = 0
        self._task: asyncio.Task | None = None

    @property
    def targets(self) -> list[str]:
        """The paths that have modulators, in order."""
        return list(dict.fromkeys(m.target for m in self.modulators))

    def sums(self, beat: float) -> dict[str, float]:
        """Each target's summed offset at a beat."""
        out: dict[str, float] = dict.fromkeys(self.targets, 0.0)
        for m in self.modulators:
            out[m.target] += m.at(beat)
        return out

    def tick(self) -> None:
        """Apply the sums now."""
        self.ticks += 1
        for path, mod in self.sums(self.clock.beat_at()).items():
            try:
                self.registry.modulate(path, mod)
            except ParamError:  # not possible for float/int targets; never stop the ticker
                pass

    def start(self) -> None:
        """Start ticking on the running event loop (nothing to do without modulators)."""
        if self.modulators:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            self.tick()
            next_at = max(next_at + self.tick_s, loop.time())
            await asyncio.sleep(next_at - loop.time())

    def midi(self, msg: Any) -> bool:
        """Gate the envelopes a note triggers; True if one did."""
        hit = False
        for env in self.envelopes():
            src = env.trigger
            assert src is not None
            if src.kind != "note" or msg.type not in ("note_on", "note_off"):
                continue
            if src.number not in (-1, msg.note) or (src.channel and msg.channel + 1 != src.channel):
                continue
            env.gate(msg.type == "note_on" and msg.velocity > 0, self.clock.beat_at())
            hit = True
        return hit

    def osc(self, address: str, args: list[Any]) -> bool:
        """Gate (an argument: non-zero on, 0 off) or pulse (no argument) envelopes; True if one did."""
        hit = False
        for env in self.envelopes():
            if env.trigger is None or env.trigger.address != address:
                continue
            beat = self.clock.beat_at()
            if not args:
                env.pulse(beat)
            else:
                env.gate(args[0] not in (0, 0.0, False), beat)
            hit = True
        return hit

    def envelopes(self) -> list[Envelope]:
        """The envelopes among the modulators."""
        return [m for m in self.modulators if isinstance(m, Envelope)]

    def stop(self) -> None:
        """Stop ticking."""
        if self._task is not None:
            self._task.cancel()

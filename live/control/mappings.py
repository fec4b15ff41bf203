"""Mappings as data: an OSC address or a MIDI CC, note or pitch bend drives a parameter path.

A mapping is a TOML table (`[[mappings]]` in a patch), never code: no expression is evaluated.
An incoming value goes through: input range -> 0..1 -> invert -> curve -> the target (an output
range for numbers, the choices of a choice, off/on for a bool, one element of a vector). CC
modes turn relative encoders into steps; notes can toggle or trigger. Every value is applied
with Registry.set(path, value, source="map"), on the event loop, optionally smoothed and
optionally quantised to the next beat or bar.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from live.clock import Clock
from live.control.timing import ControlError, at_boundary, check_quantise
from live.params import BoolParam, ChoiceParam, FloatParam, IntParam, Param, ParamError, Registry, VectorParam

log = logging.getLogger("livegen.control")

CURVES = ("linear", "exp", "log")
CC_MODES = ("absolute", "relative", "offset", "centred")
ACTIONS = ("value", "toggle", "trigger")
SOURCE_KEYS = ("osc", "cc", "note", "pitchbend")
DEFAULT_IN = {"osc": (0.0, 1.0), "cc": (0.0, 127.0), "note": (0.0, 127.0),
              "pitchbend": (-8192.0, 8191.0)}
KEYS = {*SOURCE_KEYS, "channel", "arg", "target", "in", "out", "curve", "shape", "table", "invert",
        "smooth", "mode", "step", "action", "value", "element", "quantise"}
MAX_TABLE = 64
SMOOTH_TICK_S = 1 / 60


@dataclass(frozen=True)
class Source:
    """Where a mapping's values come from: an OSC address, or a MIDI cc/note/pitchbend."""

    kind: str  # osc, cc, note, pitchbend
    address: str = ""  # osc only
    number: int = -1  # the CC or note number (-1: any note)
    channel: int = 0  # 1 to 16; 0: any channel

    def describe(self) -> str:
        """A short name for messages: '/1/fader1', 'cc 7 ch 1', 'note 36'."""
        if self.kind == "osc":
            return self.address
        text = self.kind if self.number < 0 else f"{self.kind} {self.number}"
        return text + (f" ch {self.channel}" if self.channel else "")


@dataclass
class Mapping:
    """One source -> one target path, with its ranges, curve, mode and timing."""

    source: Source
    target: str
    in_range: tuple[float, float]
    out_range: tuple[float, float] | None = None  # numeric targets; the param's range if None
    curve: str = "linear"  # linear, exp, log, table
    shape: float = 4.0  # how strongly exp/log bend
    table: tuple[tuple[float, float], ...] = ()
    invert: bool = False
    smooth: float = 0.0  # seconds
    mode: str = "absolute"  # CC mode
    step: float = 1 / 127  # relative modes: fraction of the input range per encoder tick
    action: str = "value"  # value, toggle, trigger
    value: Any = True  # what a trigger sets
    element: int | None = None  # vector targets: which element
    arg: int = 0  # OSC: which argument carries the value
    quantise: str = "none"
    position: float | None = field(default=None, compare=False)  # relative modes: where we are

    # -- the pure maths -----------------------------------------------------------------
    def normalise(self, raw: float) -> float:
        """raw in the input range -> 0..1 (clamped), inverted if asked, through the curve."""
        lo, hi = self.in_range
        x = min(1.0, max(0.0, (raw - lo) / (hi - lo)))
        return self.bend(1.0 - x if self.invert else x)

    def bend(self, x: float) -> float:
        """The curve: 0..1 -> 0..1, monotonic, 0 -> 0 and 1 -> 1 for the built-in curves."""
        if self.curve == "exp":
            return math.expm1(self.shape * x) / math.expm1(self.shape)
        if self.curve == "log":
            return math.log1p(x * math.expm1(self.shape)) / self.shape
        if self.curve == "table":
            return table_lookup(self.table, x)
        return x


def table_lookup(table: tuple[tuple[float, float], ...], x: float) -> float:
    """Piecewise-linear through the (x, y) points; flat beyond the ends."""
    if x <= table[0][0]:
        return table[0][1]
    for (x0, y0), (x1, y1) in zip(table, table[1:], strict=False):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return table[-1][1]


def cc_delta(mode: str, raw: int) -> int:
    """Encoder ticks of a relative CC value: two's complement ('relative') or binary offset."""
    if mode == "relative":
        return raw - 128 if raw >= 64 else raw
    return raw - 64  # offset


def centred(raw: float) -> float:
    """A centred CC (64 is the middle) as 0..1: 0 -> 0, 64 -> 0.5 exactly, 127 -> 1."""
    return raw / 128 if raw <= 64 else 0.5 + (raw - 64) / 126


def target_value(mapping: Mapping, param: Param, y: float) -> Any:
    """0..1 after the curve -> a value of the target parameter."""
    if isinstance(param, ChoiceParam):
        n = len(param.choices)
        return param.choices[min(n - 1, int(y * n))]
    if isinstance(param, BoolParam):
        return y >= 0.5
    lo, hi = mapping.out_range or param_range(param)
    out = lo + y * (hi - lo)
    if isinstance(param, IntParam):
        return int(round(out))
    if isinstance(param, VectorParam):
        base = list(param.base)
        base[mapping.element or 0] = out
        return base
    return out


def is_numeric(param: Param) -> bool:
    """Whether a parameter takes numbers in a range (float, int, vector, or a voice's own kind)."""
    return isinstance(param, (FloatParam, IntParam, VectorParam)) or (
        param.type in ("float", "int") and hasattr(param, "lo") and hasattr(param, "hi"))


def param_range(param: Param) -> tuple[float, float]:
    """A numeric parameter's range as floats."""
    return float(getattr(param, "lo", -math.inf)), float(getattr(param, "hi", math.inf))


def inverse(mapping: Mapping, param: Param) -> float:
    """Where on 0..1 input the target's base is now (relative encoders start from it)."""
    if isinstance(param, ChoiceParam):
        return (list(param.choices).index(param.base) + 0.5) / len(param.choices)
    if isinstance(param, BoolParam):
        return 1.0 if param.base else 0.0
    lo, hi = mapping.out_range or param_range(param)
    base = param.base[mapping.element or 0] if isinstance(param, VectorParam) else param.base
    if isinstance(base, tuple):  # a voice's list-valued float (text temperature cycles)
        base = base[0]
    want = 0.0 if hi == lo else (float(base) - lo) / (hi - lo)
    forward = lambda x: mapping.bend(1.0 - x if mapping.invert else x)  # noqa: E731
    a, b = 0.0, 1.0
    rising = forward(1.0) >= forward(0.0)
    for _ in range(40):  # bisection: every curve is monotonic
        mid = (a + b) / 2
        if (forward(mid) < want) == rising:
            a = mid
        else:
            b = mid
    return (a + b) / 2


# -- parsing and validation ------------------------------------------------------------------
def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ControlError(f"key {what!r}: {value!r} refused, expected a number")
    return float(value)


def _pair(value: Any, what: str) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise ControlError(f"key {what!r}: {value!r} refused, expected [low, high]")
    lo, hi = _number(value[0], what), _number(value[1], what)
    if lo == hi:
        raise ControlError(f"key {what!r}: {value!r} refused, expected two different numbers")
    return lo, hi


def _int(value: Any, what: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ControlError(f"key {what!r}: {value!r} refused, expected an integer in [{lo}, {hi}]")
    return value


def _choice(value: Any, what: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ControlError(f"key {what!r}: {value!r} refused, expected one of {', '.join(choices)}")
    return str(value)


def parse_table(value: Any) -> tuple[tuple[float, float], ...]:
    """A curve table: 2 to 64 [x, y] points on 0..1, x increasing, y monotonic."""
    if not isinstance(value, list) or not 2 <= len(value) <= MAX_TABLE:
        raise ControlError(f"key 'table': expected a list of 2 to {MAX_TABLE} [x, y] points")
    points = tuple(_pair_any(p) for p in value)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    if any(not 0 <= v <= 1 for v in xs + ys):
        raise ControlError("key 'table': every x and y must be in [0, 1]")
    if any(b <= a for a, b in zip(xs, xs[1:], strict=False)):
        raise ControlError(f"key 'table': x values {xs} are not strictly increasing")
    steps = [b - a for a, b in zip(ys, ys[1:], strict=False)]
    if any(s < 0 for s in steps) and any(s > 0 for s in steps):
        raise ControlError(f"key 'table': y values {ys} are not monotonic (they go up and down)")
    return points


def _pair_any(point: Any) -> tuple[float, float]:
    if not isinstance(point, list) or len(point) != 2:
        raise ControlError(f"key 'table': point {point!r} refused, expected [x, y]")
    return _number(point[0], "table"), _number(point[1], "table")


def parse_source(table: dict[str, Any]) -> Source:
    """The one source key of a mapping table (osc, cc, note or pitchbend) and its channel."""
    given = [k for k in SOURCE_KEYS if k in table]
    if len(given) != 1:
        raise ControlError(f"expected exactly one source key of {', '.join(SOURCE_KEYS)}, got "
                           f"{given or 'none'}")
    kind = given[0]
    channel = _int(table.get("channel", 0), "channel", 0, 16)
    if kind == "osc":
        address = table["osc"]
        if not isinstance(address, str) or not address.startswith("/") or " " in address:
            raise ControlError(f"key 'osc': {address!r} refused, expected an OSC address like /1/fader1")
        return Source("osc", address=address)
    if kind == "pitchbend":
        if table["pitchbend"] is not True:
            raise ControlError("key 'pitchbend': expected true")
        return Source("pitchbend", channel=channel)
    return Source(kind, number=_int(table[kind], kind, -1 if kind == "note" else 0, 127),
                  channel=channel)


def parse_mapping(table: Any, registry: Registry) -> Mapping:
    """One [[mappings]] table, checked against the registry; ControlError says what is wrong."""
    if not isinstance(table, dict):
        raise ControlError("expected a table")
    unknown = sorted(set(table) - KEYS)
    if unknown:
        raise ControlError(f"unknown key(s) {unknown}; expected some of {', '.join(sorted(KEYS))}")
    source = parse_source(table)
    target = table.get("target")
    if not isinstance(target, str) or target not in registry:
        raise ControlError(f"key 'target': unknown parameter {target!r}; GET /schema lists them")
    if registry[target].readonly:
        raise ControlError(f"key 'target': {target} is read-only (a measurement); map it as a source")
    # A parameter as the source (a measurement, /analysis/..., or the room's /audio/... that
    # the page sets): the mapping follows its changes; it may not drive itself.
    if source.kind == "osc" and source.address == target:
        raise ControlError(f"key 'osc': {source.address} would map to itself")
    m = Mapping(source, target, _pair(table["in"], "in") if "in" in table else DEFAULT_IN[source.kind])
    _parse_shape(m, table)
    m.invert = _flag(table.get("invert", False), "invert")
    m.smooth = _number(table.get("smooth", 0.0), "smooth")
    m.mode = _choice(table.get("mode", "absolute"), "mode", CC_MODES)
    if m.mode != "absolute" and source.kind != "cc":
        raise ControlError(f"key 'mode': {m.mode!r} is a CC mode; this source is {source.kind}")
    m.step = _number(table.get("step", 1 / 127), "step")
    m.action = _choice(table.get("action", "value"), "action", ACTIONS)
    m.arg = _int(table.get("arg", 0), "arg", 0, 63)
    m.quantise = check_quantise(table.get("quantise", "none"), "key 'quantise'")
    _check_target(m, table, registry[target])
    return m


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ControlError(f"key {what!r}: {value!r} refused, expected true or false")
    return value


def _parse_shape(m: Mapping, table: dict[str, Any]) -> None:
    if "table" in table:
        if table.get("curve", "table") != "table":
            raise ControlError("keys 'curve' and 'table': give one of them (a table is a curve)")
        m.curve, m.table = "table", parse_table(table["table"])
    else:
        m.curve = _choice(table.get("curve", "linear"), "curve", CURVES)
    m.shape = _number(table.get("shape", 4.0), "shape")
    if m.shape <= 0:
        raise ControlError(f"key 'shape': {m.shape:g} refused, expected a number above 0")


def _check_target(m: Mapping, table: dict[str, Any], param: Param) -> None:
    numeric = is_numeric(param)
    if "out" in table:
        if not numeric:
            raise ControlError(f"key 'out': {param.path} is a {param.type}, not a number")
        m.out_range = _pair(table["out"], "out")
        for v in m.out_range:
            param.validate([v] * param.size if isinstance(param, VectorParam) else v)
    if numeric and m.out_range is None and m.action == "value" and not all(
            map(math.isfinite, param_range(param))):
        raise ControlError(f"key 'out': {param.path} has no finite range; give out = [low, high]")
    if isinstance(param, VectorParam):
        m.element = _int(table.get("element", 0), "element", 0, max(0, param.size - 1))
    elif "element" in table:
        raise ControlError(f"key 'element': {param.path} is a {param.type}, not a vector")
    if m.action == "toggle" and not isinstance(param, BoolParam):
        raise ControlError(f"key 'action': toggle needs a bool target; {param.path} is a {param.type}")
    if m.action == "trigger":
        m.value = table.get("value", True)
        param.validate(m.value)
    elif "value" in table:
        raise ControlError("key 'value': only a trigger sets a fixed value")


def parse_mappings(items: Any, registry: Registry, where: str) -> list[Mapping]:
    """Every [[mappings]] table of a patch; ControlError names the file, the index and the key."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise ControlError(f"{where}: mappings must be an array of tables ([[mappings]])")
    out = []
    for i, table in enumerate(items):
        try:
            out.append(parse_mapping(table, registry))
        except (ControlError, ParamError) as e:
            src = table.get("osc") or table.get("cc") or table.get("note") if isinstance(table, dict) \
                else None
            label = f" ({src})" if src is not None else ""
            raise ControlError(f"{where}: mappings[{i}]{label}: {e}") from None
    return out


# -- applying ---------------------------------------------------------------------------------
class Applier:
    """Applies mapped values on the event loop: quantised (newest wins per target) and smoothed."""

    def __init__(self, registry: Registry, clock: Clock, loop: asyncio.AbstractEventLoop,
                 source: str = "map") -> None:
        self.registry = registry
        self.clock = clock
        self.loop = loop
        self.source = source
        self._pending: dict[str, Any] = {}  # target -> value waiting for its beat or bar
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._glides: dict[tuple[str, int], tuple[float, float]] = {}  # (path, element) -> (to, s)
        self._current: dict[tuple[str, int], float] = {}
        self._task: asyncio.Task | None = None
        self.applied = 0
        self.on_error: Callable[[str], None] = lambda text: log.warning("mapping: %s", text)

    def apply(self, m: Mapping, value: Any) -> None:
        """Apply a target value now, or at the mapping's next beat or bar."""
        if m.quantise == "none":
            self._apply(m, value)
            return
        key = m.target if m.element is None else f"{m.target}#{m.element}"
        self._pending[key] = (m, value)
        if key not in self._timers:
            self._timers[key] = at_boundary(self.loop, self.clock, m.quantise,  # type: ignore[assignment]
                                            lambda: self._fire(key))

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        m, value = self._pending.pop(key)
        self._apply(m, value)

    def _apply(self, m: Mapping, value: Any) -> None:
        param = self.registry[m.target]
        if m.smooth > 0 and isinstance(param, (FloatParam, IntParam, VectorParam)):
            self._glide(m, param, value)
            return
        self._set(m.target, value)

    def _set(self, path: str, value: Any) -> None:
        try:
            self.registry.set(path, value, source=self.source)
            self.applied += 1
        except ParamError as e:
            self.on_error(str(e))

    def _glide(self, m: Mapping, param: Param, value: Any) -> None:
        element = m.element or 0
        key = (m.target, element)
        to = float(value[element] if isinstance(param, VectorParam) else value)
        if key not in self._current:
            base = param.base[element] if isinstance(param, VectorParam) else param.base
            self._current[key] = float(base)
        self._glides[key] = (to, m.smooth)
        if self._task is None or self._task.done():
            self._task = self.loop.create_task(self._glide_loop())

    async def _glide_loop(self) -> None:
        while self._glides:
            await asyncio.sleep(SMOOTH_TICK_S)
            for key, (to, seconds) in list(self._glides.items()):
                self._step(key, to, seconds)

    def _step(self, key: tuple[str, int], to: float, seconds: float) -> None:
        path, element = key
        param = self.registry[path]
        cur = self._current[key]
        cur += (to - cur) * (1.0 - math.exp(-SMOOTH_TICK_S / seconds))
        lo, hi = param_range(param)
        done = abs(to - cur) <= 1e-4 * (hi - lo if math.isfinite(hi - lo) else 1.0)
        if done:
            cur = to
            del self._glides[key]
            del self._current[key]
        else:
            self._current[key] = cur
        value: Any = cur
        if isinstance(param, IntParam):
            value = int(round(cur))
            if value == param.base and not done:
                return
        elif isinstance(param, VectorParam):
            value = list(param.base)
            value[element] = cur
        self._set(path, value)

    def stop(self) -> None:
        """Cancel every timer and glide."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._glides.clear()
        if self._task is not None:
            self._task.cancel()


class Mapper:
    """Every mapping of a patch, indexed by source; turns incoming OSC and MIDI into target values."""

    def __init__(self, mappings: list[Mapping], registry: Registry, applier: Applier) -> None:
        self.registry = registry
        self.applier = applier
        self.mappings: list[Mapping] = []
        self._osc: dict[str, list[Mapping]] = {}
        self._midi: list[Mapping] = []
        for m in mappings:
            self.add(m)

    def add(self, m: Mapping) -> None:
        """Start using one more mapping."""
        self.mappings.append(m)
        if m.source.kind == "osc":
            self._osc.setdefault(m.source.address, []).append(m)
        else:
            self._midi.append(m)

    def handles(self, address: str) -> bool:
        """Whether some mapping listens to this OSC address."""
        return address in self._osc

    def osc(self, address: str, args: list[Any]) -> bool:
        """Apply an OSC message to its mappings; False when none listens to the address."""
        found = self._osc.get(address)
        if not found:
            return False
        for m in found:
            self._osc_one(m, args)
        return True

    def _osc_one(self, m: Mapping, args: list[Any]) -> None:
        arg = args[m.arg] if len(args) > m.arg else None
        if m.action != "value":
            # Buttons: a press is a message with no argument or a non-zero one; 0 is the release.
            if arg is None or (isinstance(arg, (int, float)) and arg != 0) or arg is True:
                self._press(m)
            return
        if isinstance(arg, bool) or not isinstance(arg, (int, float)):
            raise ControlError(f"{m.source.address}: argument {m.arg} {arg!r} refused, expected a "
                               f"number (mapped to {m.target})")
        self._value(m, float(arg))

    def midi(self, msg: Any) -> bool:
        """Apply a mido message (event loop) to its mappings; False when none listens."""
        hit = False
        for m in self._midi:
            if _midi_matches(m.source, msg):
                hit = True
                self._midi_one(m, msg)
        return hit

    def _midi_one(self, m: Mapping, msg: Any) -> None:
        if msg.type == "pitchwheel":
            self._value(m, float(msg.pitch))
        elif msg.type == "control_change":
            self._cc(m, int(msg.value))
        elif msg.type == "note_on" and msg.velocity > 0:
            if m.action == "value":
                self._value(m, float(msg.velocity))
            else:
                self._press(m)

    def _cc(self, m: Mapping, raw: int) -> None:
        if m.action != "value":
            if raw >= 64:
                self._press(m)
            return
        if m.mode == "absolute":
            self._value(m, float(raw))
        elif m.mode == "centred":
            self._apply_y(m, m.bend(1.0 - centred(raw) if m.invert else centred(raw)))
        else:
            param = self.registry[m.target]
            if m.position is None:
                m.position = inverse(m, param)
            m.position = min(1.0, max(0.0, m.position + cc_delta(m.mode, raw) * m.step))
            x = m.position
            self._apply_y(m, m.bend(1.0 - x if m.invert else x))

    def _value(self, m: Mapping, raw: float) -> None:
        self._apply_y(m, m.normalise(raw))

    def _apply_y(self, m: Mapping, y: float) -> None:
        self.applier.apply(m, target_value(m, self.registry[m.target], y))

    def _press(self, m: Mapping) -> None:
        if m.action == "toggle":
            self.applier.apply(m, not self.registry[m.target].base)
        else:
            self.applier.apply(m, m.value)


def _midi_matches(src: Source, msg: Any) -> bool:
    channel = getattr(msg, "channel", None)
    if src.channel and channel is not None and channel + 1 != src.channel:
        return False
    if src.kind == "cc":
        return msg.type == "control_change" and msg.control == src.number
    if src.kind == "note":
        return msg.type in ("note_on", "note_off") and src.number in (-1, msg.note)
    return src.kind == "pitchbend" and msg.type == "pitchwheel"


# -- writing a mapping back as TOML (MIDI learn saves these) ----------------------------------
def to_table(m: Mapping) -> dict[str, Any]:
    """The [[mappings]] table that parses back to this mapping (defaults left out)."""
    src = m.source
    out: dict[str, Any] = {}
    if src.kind == "osc":
        out["osc"] = src.address
    elif src.kind == "pitchbend":
        out["pitchbend"] = True
    else:
        out[src.kind] = src.number
    if src.channel:
        out["channel"] = src.channel
    out["target"] = m.target
    if m.in_range != DEFAULT_IN[src.kind]:
        out["in"] = list(m.in_range)
    optional: list[tuple[str, Any, Any]] = [
        ("out", list(m.out_range) if m.out_range else None, None),
        ("curve", m.curve, "linear"), ("shape", m.shape, 4.0), ("invert", m.invert, False),
        ("smooth", m.smooth, 0.0), ("mode", m.mode, "absolute"), ("step", m.step, 1 / 127),
        ("action", m.action, "value"), ("arg", m.arg, 0), ("quantise", m.quantise, "none")]
    for key, value, default in optional:
        if value != default:
            out[key] = value
    if m.curve == "table":
        del out["curve"]
        out["table"] = [list(p) for p in m.table]
    if m.action == "trigger":
        out["value"] = m.value
    if m.element:
        out["element"] = m.element
    return out


def toml_value(value: Any) -> str:
    """A TOML literal for the values a mapping holds: strings, bools, numbers, lists of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def to_toml(m: Mapping, comment: str = "") -> str:
    """A `[[mappings]]` block of TOML text for this mapping."""
    lines = [f"# {comment}"] if comment else []
    lines.append("[[mappings]]")
    lines += [f"{key} = {toml_value(value)}" for key, value in to_table(m).items()]
    return "\n".join(lines) + "\n"

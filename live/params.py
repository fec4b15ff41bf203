"""The parameter registry: one typed, ranged, stamped namespace for every control."""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np


class ParamError(ValueError):
    """A control change was refused; the message names the path, the value and what was expected."""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass
class Param:
    """One parameter: path, type, default, current value, and the stamp of its last change.

    `base` is the value a performer (or the patch, a preset, a mapping) set; `value` is what is in
    force now: the base plus the sum of its modulators (`mod`), clamped to the range. Without
    modulators the two are the same.
    """

    path: str
    default: Any
    doc: str = ""
    type: str = "any"
    value: Any = None
    stamp: int = 0
    changed_at: float = 0.0
    base: Any = None
    mod: float = 0.0  # the modulators' sum, added to base (numeric parameters only)
    readonly: bool = False  # a measurement (analysis): shown, never set from outside

    def __post_init__(self) -> None:
        self.default = self.validate(self.default)
        self.value = self.base = self.default

    def modulated(self, base: Any, mod: float) -> Any:
        """The value in force for a base and a modulation offset; non-numeric types ignore it."""
        return base

    def validate(self, value: Any) -> Any:
        """Return the value coerced to this type, or raise ParamError."""
        return value

    def refuse(self, value: Any, expected: str) -> ParamError:
        return ParamError(f"{self.path}: {_show(value)} refused, expected {expected}")

    def schema(self) -> dict[str, Any]:
        out = {"path": self.path, "type": self.type, "default": self.default,
               "value": self.value, "base": self.base, "doc": self.doc}
        if self.readonly:
            out["readonly"] = True
        return out


def _one(value: Any) -> Any:
    """Unwrap a one-element list, as OSC and some JSON clients send single values."""
    if isinstance(value, (list, tuple)) and len(value) == 1:
        return value[0]
    return value


def _number(value: Any) -> float | None:
    value = _one(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


@dataclass
class FloatParam(Param):
    """A float in [lo, hi]; `slew` is how many seconds a Smoother takes to follow a jump."""

    lo: float = -math.inf
    hi: float = math.inf
    slew: float = 0.0  # seconds; a hint to consumers that step a Smoother
    type: str = "float"

    def validate(self, value: Any) -> float:
        x = _number(value)
        if x is None or not math.isfinite(x):
            raise self.refuse(value, f"a finite number in [{self.lo:g}, {self.hi:g}]")
        if not self.lo <= x <= self.hi:
            raise self.refuse(value, f"a number in [{self.lo:g}, {self.hi:g}]")
        return x

    def modulated(self, base: Any, mod: float) -> float:
        """base + mod, clamped to [lo, hi]."""
        return min(self.hi, max(self.lo, float(base) + mod)) if mod else float(base)

    def schema(self) -> dict[str, Any]:
        return super().schema() | {"range": [self.lo, self.hi], "slew": self.slew}


@dataclass
class IntParam(Param):
    """An integer in [lo, hi]."""

    lo: int = -(2**31)
    hi: int = 2**31 - 1
    type: str = "int"

    def validate(self, value: Any) -> int:
        x = _number(value)
        if x is None or not x.is_integer():
            raise self.refuse(value, f"an integer in [{self.lo}, {self.hi}]")
        if not self.lo <= x <= self.hi:
            raise self.refuse(value, f"an integer in [{self.lo}, {self.hi}]")
        return int(x)

    def modulated(self, base: Any, mod: float) -> int:
        """base + mod rounded, clamped to [lo, hi]."""
        return min(self.hi, max(self.lo, int(round(int(base) + mod)))) if mod else int(base)

    def schema(self) -> dict[str, Any]:
        return super().schema() | {"range": [self.lo, self.hi]}


_TRUE = {"1", "true", "on", "yes"}
_FALSE = {"0", "false", "off", "no"}


@dataclass
class BoolParam(Param):
    """A boolean; accepts true/false, 1/0 and 'on'/'off', as OSC toggles send them."""

    type: str = "bool"

    def validate(self, value: Any) -> bool:
        value = _one(value)
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise self.refuse(value, "a boolean (true/false, 1/0)")


@dataclass
class StringParam(Param):
    """A string of at most max_len characters."""

    max_len: int = 1024
    type: str = "string"

    def validate(self, value: Any) -> str:
        value = _one(value)
        if not isinstance(value, str):
            raise self.refuse(value, f"a string of at most {self.max_len} characters")
        if len(value) > self.max_len:
            raise ParamError(
                f"{self.path}: string of {len(value)} characters refused, "
                f"expected at most {self.max_len}"
            )
        return value


@dataclass
class ChoiceParam(Param):
    """One string out of a fixed list."""

    choices: Sequence[str] = ()
    type: str = "choice"

    def validate(self, value: Any) -> str:
        value = _one(value)
        if value not in self.choices:
            raise self.refuse(value, "one of " + ", ".join(self.choices))
        return value

    def schema(self) -> dict[str, Any]:
        return super().schema() | {"choices": list(self.choices)}


@dataclass
class VectorParam(Param):
    """A fixed-length (or bounded-length, when size is 0) list of floats in [lo, hi]."""

    size: int = 0
    max_size: int = 4096
    lo: float = -math.inf
    hi: float = math.inf
    slew: float = 0.0
    type: str = "vector"

    def validate(self, value: Any) -> tuple[float, ...]:
        n = f"{self.size} numbers" if self.size else f"up to {self.max_size} numbers"
        expected = f"a list of {n} in [{self.lo:g}, {self.hi:g}]"
        if not isinstance(value, (list, tuple)):
            raise self.refuse(value, expected)
        if (self.size and len(value) != self.size) or len(value) > self.max_size:
            raise ParamError(f"{self.path}: list of {len(value)} values refused, expected {n}")
        out = []
        for x in value:
            f = _number(x)
            if f is None or not math.isfinite(f) or not self.lo <= f <= self.hi:
                raise self.refuse(value, expected)
            out.append(f)
        return tuple(out)

    def schema(self) -> dict[str, Any]:
        return super().schema() | {"range": [self.lo, self.hi], "size": self.size}


@dataclass
class Change:
    """An applied control change, as listeners and the recorder see it."""

    path: str
    value: Any
    stamp: int
    source: str
    time: float


P = TypeVar("P", bound="Param")
Listener = Callable[[Change], object]  # what it returns is ignored


@dataclass
class Registry:
    """All parameters by path; every applied change takes the next global stamp."""

    params: dict[str, Param] = field(default_factory=dict)
    stamp: int = 0
    _listeners: list[Listener] = field(default_factory=list)
    _watchers: dict[str, list[Listener]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, param: P) -> P:
        if param.path in self.params:
            raise ValueError(f"parameter {param.path} defined twice")
        self.params[param.path] = param
        return param

    def remove_under(self, prefix: str) -> list[str]:
        """Drop every parameter whose path starts with prefix, and their watchers; the paths."""
        with self._lock:
            gone = [path for path in self.params if path.startswith(prefix)]
            for path in gone:
                del self.params[path]
                self._watchers.pop(path, None)
        return gone

    def trial(self) -> Registry:
        """A copy of every parameter, values included, with no listeners: a patch can be tried
        on it and nothing here changes. (Setting a MIDI port on it would open the port; patches
        name ports as structural keys, which never reach the registry.)"""
        with self._lock:
            return Registry({p: copy.copy(param) for p, param in self.params.items()}, self.stamp)

    def __getitem__(self, path: str) -> Param:
        return self.params[path]

    def __contains__(self, path: str) -> bool:
        return path in self.params

    def lookup(self, path: Any) -> Param:
        """The parameter at path, or ParamError naming the path."""
        if not isinstance(path, str) or path not in self.params:
            raise ParamError(f"unknown parameter {_show(path)}; GET /schema lists them")
        return self.params[path]

    def get(self, path: Any) -> Any:
        return self.lookup(path).value

    def set(self, path: Any, value: Any, source: str = "api") -> int:
        """Validate and apply a change; return its stamp. Raises ParamError and changes nothing."""
        param = self.lookup(path)
        if param.readonly:
            raise ParamError(f"{param.path} is read-only: a measurement the server makes")
        checked = param.validate(value)
        now = time.monotonic()
        with self._lock:  # transports and voices set from several threads
            param.base = checked
            param.value = current = param.modulated(checked, param.mod)
            param.changed_at = now
            self.stamp += 1
            param.stamp = stamp = self.stamp
        self._notify(Change(param.path, current, stamp, source, time.time()))
        return stamp

    def show(self, path: str, value: Any) -> None:
        """Put a measurement into a read-only parameter: no stamp, no listeners (it changes
        every frame; GET /analysis and the analysis topic carry it)."""
        param = self.params.get(path)
        if param is not None:
            param.value = param.base = value

    def modulate(self, path: Any, mod: float, source: str = "mod") -> int | None:
        """Set a numeric parameter's modulation offset; the value becomes base + mod, clamped.

        The base (what the performer set) stays. Returns the stamp, or None when the value in
        force did not change (no stamp is taken then).
        """
        param = self.lookup(path)
        with self._lock:
            param.mod = mod
            current = param.modulated(param.base, mod)
            if current == param.value:
                return None
            param.value = current
            param.changed_at = time.monotonic()
            self.stamp += 1
            param.stamp = stamp = self.stamp
        self._notify(Change(param.path, current, stamp, source, time.time()))
        return stamp

    def _notify(self, change: Change) -> None:
        for listener in self._watchers.get(change.path, ()):
            listener(change)
        for listener in self._listeners:
            listener(change)

    def watch(self, path: str, listener: Listener) -> None:
        """Call listener after each applied change of one path."""
        self._watchers.setdefault(path, []).append(listener)

    def unwatch(self, path: str, listener: Listener) -> None:
        """Stop calling a listener watch() registered."""
        listeners = self._watchers.get(path, [])
        if listener in listeners:
            listeners.remove(listener)

    def listen(self, listener: Listener) -> None:
        """Call listener after every applied change."""
        self._listeners.append(listener)

    def schema(self) -> list[dict[str, Any]]:
        return [p.schema() for p in self.params.values()]


class Smoother:
    """Follows a float or vector parameter with its slew, stepped in nominal time so replays match."""

    def __init__(self, param: FloatParam | VectorParam) -> None:
        self.param = param
        self.value = np.asarray(param.value, dtype=np.float64)

    def step(self, dt: float) -> np.ndarray:
        target = np.asarray(self.param.value, dtype=np.float64)
        if self.param.slew <= 0 or target.shape != self.value.shape:
            self.value = target
        else:
            self.value = self.value + (target - self.value) * (1.0 - math.exp(-dt / self.param.slew))
        return self.value

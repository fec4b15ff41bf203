"""Presets: named snapshots of the parameters, recalled or morphed, optionally on the beat or bar.

Presets come from the patch (`[presets.NAME]`) and from `/preset/store`; stored ones persist in
SQLite (`presets.sqlite` in the state directory), values as JSON, never pickle. A stored preset
with a patch preset's name replaces it. Latent bookmarks (`/<visual>/bookmark/store i`) keep a
visual voice's current latent in the same database.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from live.control.timing import ControlError
from live.params import BoolParam, ChoiceParam, FloatParam, IntParam, Param, ParamError, Registry, VectorParam
from live.voices.latent import slerp

log = logging.getLogger("livegen.presets")

# Parameters that act rather than hold a state (a prime or theme restarts the text), or that
# configure the rig: never in a snapshot.
SKIP_NAMES = {"panic", "reset", "prime", "theme", "midi_port", "delivery", "link"}
Values = dict[str, Any]
LatentReader = Callable[[], "np.ndarray | None"]


def is_latent(path: str) -> bool:
    """Whether a path is a visual voice's latent (morphed by slerp, applied last)."""
    return path.endswith("/latent")


def snapshot_paths(registry: Registry) -> list[str]:
    """The paths a full snapshot holds."""
    return [p for p in registry.params
            if p.rsplit("/", 1)[-1] not in SKIP_NAMES and not p.startswith("/preset/")]


def flatten(table: dict[str, Any], prefix: str = "") -> Values:
    """A preset table as {path: value}: quoted paths ("/visual/speed" = 2) or nested voice tables."""
    out: Values = {}
    for key, value in table.items():
        path = key if key.startswith("/") else f"{prefix}/{key}"
        if isinstance(value, dict):
            out |= flatten(value, path)
        else:
            out[path] = value
    return out


def check_values(registry: Registry, values: Values, where: str) -> Values:
    """Every path known and every value valid, or ControlError naming where and the path."""
    out: Values = {}
    for path, value in values.items():
        if path not in registry or path.startswith("/preset/"):
            raise ControlError(f"{where}: unknown parameter {path!r}; GET /schema lists them")
        try:
            out[path] = registry[path].validate(value)
        except ParamError as e:
            raise ControlError(f"{where}: {e}") from None
    return out


def jsonable(value: Any) -> Any:
    """Tuples (vectors) as lists, for JSON."""
    return list(value) if isinstance(value, tuple) else value


def blend(param: Param, a: Any, b: Any, f: float) -> Any:
    """The value a fraction f of the way from a to b: numbers linear, latents by slerp, the rest
    (choices, strings, bools) switch at the midpoint."""
    if isinstance(param, FloatParam):
        return param.validate(min(param.hi, max(param.lo, a + (b - a) * f)))
    if isinstance(param, IntParam):
        return int(round(a + (b - a) * f))
    if isinstance(param, VectorParam) and len(a) == len(b):
        va, vb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        v = slerp(va, vb, f) if is_latent(param.path) else va + (vb - va) * f
        return tuple(float(x) for x in np.clip(v, param.lo, param.hi))
    return a if f < 0.5 else b


class PresetStore:
    """Stored presets and latent bookmarks in one SQLite file; values as JSON text."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "presets.sqlite"
        self._db: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        """The database, created (with its folder) on first use."""
        if self._db is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path)
            self._create(self._db)
        return self._db

    @staticmethod
    def _create(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE IF NOT EXISTS presets (name TEXT PRIMARY KEY, "
                   "values_json TEXT NOT NULL, stored REAL NOT NULL)")
        db.execute("CREATE TABLE IF NOT EXISTS bookmarks (voice TEXT NOT NULL, slot INTEGER "
                   "NOT NULL, values_json TEXT NOT NULL, stored REAL NOT NULL, "
                   "PRIMARY KEY (voice, slot))")
        db.commit()

    def presets(self) -> dict[str, Values]:
        """Every stored preset ({} before anything was stored: no file is made by reading)."""
        if self._db is None and not self.path.exists():
            return {}
        rows = self.db.execute("SELECT name, values_json FROM presets ORDER BY name")
        return {name: json.loads(text) for name, text in rows}

    def put(self, name: str, values: Values) -> None:
        """Store (or replace) a preset."""
        text = json.dumps({k: jsonable(v) for k, v in values.items()})
        self.db.execute("INSERT OR REPLACE INTO presets VALUES (?, ?, ?)", (name, text, time.time()))
        self.db.commit()

    def bookmark(self, voice: str, slot: int) -> Values | None:
        """A stored bookmark, or None."""
        if self._db is None and not self.path.exists():
            return None
        row = self.db.execute("SELECT values_json FROM bookmarks WHERE voice = ? AND slot = ?",
                              (voice, slot)).fetchone()
        return json.loads(row[0]) if row else None

    def put_bookmark(self, voice: str, slot: int, values: Values) -> None:
        """Store (or replace) a bookmark."""
        self.db.execute("INSERT OR REPLACE INTO bookmarks VALUES (?, ?, ?, ?)",
                        (voice, slot, json.dumps({k: jsonable(v) for k, v in values.items()}),
                         time.time()))
        self.db.commit()

    def close(self) -> None:
        """Close the database."""
        if self._db is not None:
            self._db.close()
            self._db = None


class Presets:
    """Snapshots, recall and morph over the registry; sets go through Registry.set(source=...)."""

    def __init__(self, registry: Registry, store: PresetStore, patch_presets: dict[str, Values],
                 latents: dict[str, LatentReader]) -> None:
        self.registry = registry
        self.store = store
        self.latents = latents  # voice name -> its current latent (None until it runs)
        self.named: dict[str, Values] = dict(patch_presets)
        for name, values in store.presets().items():
            try:
                self.named[name] = check_values(registry, values, f"stored preset {name!r}")
            except ControlError:  # a stored preset of an older patch: keep what still exists
                self.named[name] = {p: v for p, v in values.items() if p in registry}

    def snapshot(self, paths: Iterable[str] | None = None) -> Values:
        """The base values now (what performers set, not modulation); latents as the voice shows them."""
        chosen = list(paths) if paths is not None else snapshot_paths(self.registry)
        out: Values = {}
        for path in chosen:
            param = self.registry.lookup(path)
            if is_latent(path):
                latent = self.current_latent(path)
                if latent is None:
                    continue
                out[path] = latent
            else:
                out[path] = param.base
        return out

    def current_latent(self, path: str) -> tuple[float, ...] | None:
        """A visual voice's latent as it is drawn now (clipped to the param's range), if known."""
        voice = path.strip("/").split("/")[0]
        reader = self.latents.get(voice)
        z = reader() if reader is not None else None
        if z is None:
            param = self.registry[path]
            return param.base if param.stamp else None  # never set and not readable: leave it out
        param = self.registry[path]
        assert isinstance(param, VectorParam)
        return tuple(float(x) for x in np.clip(np.asarray(z, dtype=np.float64), param.lo, param.hi))

    def store_preset(self, name: str, paths: Iterable[str] | None = None) -> Values:
        """Snapshot and persist under name."""
        if not isinstance(name, str) or not name or len(name) > 200:
            raise ControlError(f"preset name {name!r} refused, expected a non-empty string")
        values = self.snapshot(paths)
        self.named[name] = values
        self.store.put(name, values)
        return values

    def get(self, name: Any) -> Values:
        """A preset's values, or ControlError listing the names there are."""
        if name not in self.named:
            raise ControlError(f"unknown preset {name!r}; presets: {', '.join(sorted(self.named)) or 'none'}")
        return self.named[name]

    def recall_values(self, name: Any) -> Values:
        """What recalling a preset sets."""
        return dict(self.get(name))

    def morph_values(self, a: Any, b: Any, f: Any) -> Values:
        """What a morph a fraction f of the way from preset a to preset b sets (paths in both)."""
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not math.isfinite(f) \
                or not 0 <= f <= 1:
            raise ControlError(f"/preset/morph: fraction {f!r} refused, expected a number in [0, 1]")
        va, vb = self.get(a), self.get(b)
        return {p: blend(self.registry[p], va[p], vb[p], float(f)) for p in va if p in vb}

    def apply(self, values: Values, source: str = "preset") -> int:
        """Set every value that differs from the base now; latents last. Returns how many changed.

        A stored value that its parameter no longer takes (a preset saved before a range changed,
        or a voice that is gone) is skipped with a log line; the rest still land."""
        changed = 0
        for path in sorted(values, key=is_latent):
            if path not in self.registry:
                log.warning("preset value for %s skipped: no such parameter now", path)
                continue
            param = self.registry[path]
            value = values[path]
            if not is_latent(path) and _same(param, value):
                continue
            try:
                self.registry.set(path, list(value) if isinstance(value, tuple) else value,
                                  source=source)
            except ParamError as e:
                log.warning("preset value skipped, the parameter no longer takes it: %s", e)
                continue
            changed += 1
        return changed


def _same(param: Param, value: Any) -> bool:
    base = param.base
    if isinstance(param, (BoolParam, ChoiceParam)):
        return bool(base == value)
    if isinstance(base, tuple):
        return list(base) == list(value)
    return bool(base == value)

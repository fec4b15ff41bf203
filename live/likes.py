"""Likes: an audience or performer marks the current moment; kept in SQLite in the state folder.

A like holds what the client saw (voice, frame sequence and stamp, an optional note) and what the
server had in force then (every parameter's value and each visual voice's current latent), so the
recommendation work can learn from it later. It is also written to the recording, if any.
"""

from __future__ import annotations

import functools
import json
import math
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from live.control.service import latent_reader
from live.params import ParamError, Registry

Voices = Callable[[], Mapping[str, Any]]  # the running voices by name (they change on reload)
Writer = Callable[[dict[str, Any]], None]  # the recorder's write, when recording
MAX_NOTE = 200  # characters of free text a like may carry
FIELDS = ("voice", "seq", "stamp", "note")


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [float(x) for x in value.ravel()]
    if isinstance(value, (tuple, list)):
        return [_jsonable(x) for x in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def check_like(msg: dict[str, Any], voices: list[str]) -> dict[str, Any]:
    """The client's fields of a like message, checked; ParamError says what was wrong."""
    unknown = sorted(set(msg) - {"op", "id", *FIELDS})
    if unknown:
        raise ParamError(f"like: unknown field(s) {unknown}; expected some of {', '.join(FIELDS)}")
    out: dict[str, Any] = {}
    voice = msg.get("voice")
    if voice is None:  # absent or null: the first visual voice (there may be none)
        voice = voices[0] if voices else None
    if voice is not None and voice not in voices:
        raise ParamError(f"like: voice {voice!r} refused, expected one of {', '.join(voices) or 'none'}")
    out["voice"] = voice
    for key in ("seq", "stamp"):
        value = msg.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
            raise ParamError(f"like: {key} {value!r} refused, expected an integer in [0, 2^32)")
        out[key] = value
    note = msg.get("note")
    if note is not None:
        if not isinstance(note, str) or len(note) > MAX_NOTE:
            raise ParamError(f"like: note refused, expected a string of at most {MAX_NOTE} characters")
        out["note"] = note
    return out


SCHEMA_VERSION = 2  # PRAGMA user_version of likes.sqlite


def migrate(db: sqlite3.Connection) -> None:
    """Bring likes.sqlite to SCHEMA_VERSION: 0 is a new file, 1 had no model or features."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(f"made by a newer livegen (schema {version}, this one reads "
                                    f"{SCHEMA_VERSION})")
    with db:
        if version < 1:
            db.execute("CREATE TABLE IF NOT EXISTS likes (id INTEGER PRIMARY KEY, t REAL NOT NULL, "
                       "voice TEXT, seq INTEGER, stamp INTEGER, note TEXT, "
                       "params_json TEXT NOT NULL, latents_json TEXT NOT NULL)")
        if version < 2:
            columns = {row[1] for row in db.execute("PRAGMA table_info(likes)")}
            if "model" not in columns:
                db.execute("ALTER TABLE likes ADD COLUMN model TEXT")
            if "features_json" not in columns:
                db.execute("ALTER TABLE likes ADD COLUMN features_json TEXT NOT NULL DEFAULT '{}'")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


class LikeStore:
    """Appends likes to likes.sqlite in the state folder, created on the first like."""

    def __init__(self, folder: Path, registry: Registry, voices: Voices,
                 record: Writer | None = None,
                 measured: Callable[[str], dict[str, Any]] = lambda voice: {}) -> None:
        self.folder = folder
        self.path = folder / "likes.sqlite"
        self.registry = registry
        self.voices = voices
        self.record = record
        self.measured = measured  # a voice's latest analysis features
        self.count = 0  # likes taken by this process

    @functools.cached_property
    def db(self) -> sqlite3.Connection:
        """The database, created (with its folder) on first use."""
        self.folder.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path)
        migrate(db)
        return db

    def _exists(self) -> bool:
        """Whether there is a database to read (reading makes no file)."""
        return "db" in self.__dict__ or self.path.exists()

    def add(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Check and store one like message; the stored like (with its id), or ParamError."""
        visual = {n: v for n, v in self.voices().items() if getattr(v, "kind", None) == "visual"}
        fields = check_like(msg, list(visual))
        params = {p.path: _jsonable(p.value) for p in self.registry.params.values()}
        latents = {n: _jsonable(z) for n, v in visual.items() if (z := latent_reader(v)()) is not None}
        voice = fields["voice"]
        model = getattr(self.voices().get(voice), "model", None) if voice is not None else None
        features = {k: _jsonable(v) for k, v in self.measured(voice).items()} if voice else {}
        t = time.time()
        try:
            cur = self.db.execute(
                "INSERT INTO likes (t, voice, seq, stamp, note, params_json, latents_json, model, "
                "features_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (t, voice, fields.get("seq"), fields.get("stamp"), fields.get("note"),
                 json.dumps(params), json.dumps(latents), model, json.dumps(features)))
            self.db.commit()
        except sqlite3.Error as e:  # a full disk, a read-only folder: the like is refused, said so
            raise ParamError(f"like: not stored in {self.path}: {e}") from None
        like = {"like": cur.lastrowid, "t": t, **fields, "params": params, "latents": latents,
                "model": model, "features": features}
        self.count += 1
        if self.record is not None:
            self.record({"type": "like", **like})
        return like

    def recent(self, n: int = 20) -> list[dict[str, Any]]:
        """The last n likes, newest first, without their parameter snapshots (GET /likes)."""
        if not self._exists():
            return []
        rows = self.db.execute("SELECT id, t, voice, seq, stamp, note FROM likes "
                               "ORDER BY id DESC LIMIT ?", (n,))
        return [dict(zip(("like", "t", "voice", "seq", "stamp", "note"), row, strict=True))
                for row in rows]

    def total(self) -> int:
        """Likes in the database, from every run."""
        if not self._exists():
            return 0
        return int(self.db.execute("SELECT COUNT(*) FROM likes").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        if "db" in self.__dict__:
            self.__dict__.pop("db").close()

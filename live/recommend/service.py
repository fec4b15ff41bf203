"""The recommender: likes and skips of each visual voice's moments, a preference per voice, kept
in SQLite beside the patch, and the next keyframe of a `recommend` walk chosen by it.

A like is the moment on screen now (its analysis features and latent). Every SKIP_EVERY_S
without a like, the moment shown is a skip, weighted down. In `recommend` mode a visual voice
renders CANDIDATES keyframes ahead of time, one per frame on the engine thread, and walks to
the one that a Thompson draw of the preference likes best, blended with the plain walk's key by
/recommend/strength. With no likes at all it walks the plain keys.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from live.params import FloatParam, ParamError, Registry
from live.recommend.preference import Preference, moment_vector

log = logging.getLogger("livegen.recommend")

CANDIDATES = 16  # most keyframes rendered and scored for each one the walk takes (three frames each)
LIKED_KEPT = 64  # liked latents kept per voice, for candidates near them
EXPLORE = 0.25  # /recommend/explore's default: at 1 (plain Thompson sampling) the draw's noise
# over some 45 features drowned a taste for motion (bench/recommend.py: 1.0x the walk's like rate
# against 1.2x at 0.25)
SKIP_EVERY_S = 3.0
SKIP_WEIGHT = 0.3
SCHEMA_VERSION = 3  # PRAGMA user_version of recommend.sqlite; migrate() upgrades older files


@dataclass
class Moment:
    """What one visual voice showed last: its features, its latent, when."""

    features: dict[str, Any]
    latent: np.ndarray | None
    t: float


@dataclass
class VoiceTaste:
    """One visual voice's preference and the moment it shows now."""

    pref: Preference = field(default_factory=Preference)
    now: Moment | None = None
    last_like: float = 0.0
    last_skip: float = 0.0
    liked: list[np.ndarray] = field(default_factory=list)  # latents of the last LIKED_KEPT likes
    lock: threading.Lock = field(default_factory=threading.Lock)  # the engine thread samples it


def migrate(db: sqlite3.Connection) -> None:
    """Bring a database file to SCHEMA_VERSION: version 0 is a new file, 1 had no sessions, 2
    kept no latents."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(f"made by a newer livegen (schema {version}, this one "
                                    f"reads {SCHEMA_VERSION})")
    with db:
        if version < 1:
            db.execute("CREATE TABLE IF NOT EXISTS moments (id INTEGER PRIMARY KEY, t REAL NOT NULL, "
                       "voice TEXT NOT NULL, liked INTEGER NOT NULL, weight REAL NOT NULL, "
                       "vector_json TEXT NOT NULL, features_json TEXT NOT NULL, "
                       "params_json TEXT NOT NULL)")
        if version < 2:
            db.execute("CREATE TABLE IF NOT EXISTS sessions (id INTEGER PRIMARY KEY, started REAL "
                       "NOT NULL, ended REAL, patch TEXT NOT NULL)")
        if version < 3:
            db.execute("ALTER TABLE moments ADD COLUMN latent_json TEXT")  # NULL: not kept, or music
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


class Recommender:
    """Likes, skips and preferences of the visual voices; the keyframes of recommend walks."""

    def __init__(self, folder: Path, registry: Registry, seed: int = 0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = folder / "recommend.sqlite"
        self.clock = clock  # a simulation (bench/recommend.py) runs on its own
        self.registry = registry
        self.seed = seed
        self.tastes: dict[str, VoiceTaste] = {}
        self.music_likes: dict[str, list[dict[str, Any]]] = {}
        self.fit_ms = 0.0  # the last update's time
        self.strength = registry.add(FloatParam(
            "/recommend/strength", 1.0, "recommend mode: 0 walks the plain keys, 1 the "
            "recommended ones", lo=0, hi=1))
        self.explore = registry.add(FloatParam(
            "/recommend/explore", EXPLORE, "recommend mode's surprise: how far a Thompson draw "
            "strays from what the likes taught (0: always the likeliest, 1: plain Thompson "
            "sampling)", lo=0, hi=1))
        self.problem: str | None = None
        self._db: sqlite3.Connection | None = None
        self.session: int | None = None  # this run's row in the sessions table
        self.patch = ""
        self._rng = np.random.default_rng(seed)

    # -- storage ------------------------------------------------------------------------------
    def open(self, patch: str = "") -> None:
        """Learn from the moments of earlier shows, if a database is there (it is made on the
        first like); a file that cannot be used is named and the recommender runs in memory."""
        self.patch = patch
        if not self.path.exists():
            return
        db = self._connect()
        if db is None:
            return
        rows = db.execute("SELECT voice, liked, weight, vector_json, features_json, latent_json "
                          "FROM moments ORDER BY id").fetchall()
        for voice, liked, weight, vector, features, latent in rows:
            if vector == "[]":  # a music voice's like: its settings, no picture
                self.music_likes.setdefault(voice, []).append(json.loads(features))
                continue
            if liked and latent is not None:
                self._keep_liked(self.taste(voice), np.asarray(json.loads(latent), dtype=np.float64))
            self.taste(voice).pref.xs.append(np.append(np.asarray(json.loads(vector)), 1.0))
            self.taste(voice).pref.ys.append(float(liked))
            self.taste(voice).pref.weights.append(float(weight))
        for taste in self.tastes.values():
            taste.pref.likes = int(sum(taste.pref.ys))
            taste.pref.skips = len(taste.pref.ys) - taste.pref.likes
            taste.pref.fit(steps=30)  # from 0: more steps than an update needs
        if rows:
            log.info("recommend: learned from %d moments of earlier shows", len(rows))

    def _connect(self) -> sqlite3.Connection | None:
        """Open (or make) the database, migrated, with this run's session row; None (and the
        problem named) if it cannot be used."""
        if self._db is not None or self.problem is not None:
            return self._db
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=5.0)
            db.execute("PRAGMA journal_mode=WAL")  # a killed server loses no committed like
            migrate(db)
            with db:
                self.session = db.execute("INSERT INTO sessions (started, patch) VALUES (?, ?)",
                                          (time.time(), self.patch)).lastrowid
        except (sqlite3.Error, OSError) as e:
            self.problem = f"recommend: {self.path} cannot be used ({e}); likes are kept in memory only"
            log.warning("%s", self.problem)
            return None
        self._db = db
        return db

    def close(self) -> None:
        """End this session's row and close the database."""
        if self._db is not None:
            try:
                with self._db:
                    self._db.execute("UPDATE sessions SET ended = ? WHERE id = ?",
                                     (time.time(), self.session))
            except sqlite3.Error as e:
                log.warning("recommend: the session's end was not stored: %s", e)
            self._db.close()
            self._db = None

    def _store(self, voice: str, liked: bool, weight: float, vector: np.ndarray,
               features: dict[str, Any], latent: np.ndarray | None = None) -> None:
        if not liked and self._db is None:
            return  # skips alone make no file: the database starts with the first like
        db = self._connect()
        if db is None:
            return
        params = {p.path: p.value for p in self.registry.params.values()
                  if p.path.startswith(f"/{voice}/") and isinstance(p.value, (int, float, str))}
        try:
            with db:
                db.execute(
                    "INSERT INTO moments (t, voice, liked, weight, vector_json, features_json, "
                    "params_json, latent_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (time.time(), voice, int(liked), weight, json.dumps(vector.round(5).tolist()),
                     json.dumps(features), json.dumps(params),
                     None if latent is None or not liked else json.dumps(latent.round(4).tolist())))
        except sqlite3.Error as e:
            log.warning("recommend: a moment was not stored in %s: %s", self.path, e)

    # -- what was seen, liked, skipped --------------------------------------------------------
    def taste(self, voice: str) -> VoiceTaste:
        return self.tastes.setdefault(voice, VoiceTaste())

    def seen(self, voice: str, features: dict[str, Any], latent: np.ndarray | None) -> None:
        """The newest measured frame of a visual voice (event loop); a skip when one is due."""
        taste = self.taste(voice)
        now = self.clock()
        if taste.now is None:  # the first frame: the first skip is due a while from now
            taste.last_skip = taste.last_like = now
        taste.now = Moment(features, None if latent is None else np.array(latent), now)
        if now - taste.last_skip >= SKIP_EVERY_S:
            taste.last_skip = now
            if now - taste.last_like >= SKIP_EVERY_S:
                self._observe(voice, taste, liked=False, weight=SKIP_WEIGHT)

    def like(self, voice: str) -> dict[str, Any]:
        """A like of what the voice shows now; what was learned from it."""
        if voice not in self.tastes or self.tastes[voice].now is None:
            raise ParamError(f"like: voice {voice!r} has shown nothing to like yet; voices: "
                             f"{', '.join(sorted(self.tastes)) or 'none'}")
        taste = self.tastes[voice]
        taste.last_like = self.clock()
        if taste.now is not None and taste.now.latent is not None:
            self._keep_liked(taste, taste.now.latent)
        vector = self._observe(voice, taste, liked=True, weight=1.0)
        return {"voice": voice, "likes": taste.pref.likes,
                "why": taste.pref.explain(vector)}

    def _observe(self, voice: str, taste: VoiceTaste, liked: bool, weight: float) -> np.ndarray:
        assert taste.now is not None
        vector = moment_vector(taste.now.features, taste.now.latent, self.seed)
        t0 = time.perf_counter()
        with taste.lock:
            taste.pref.observe(vector, liked, weight)
        self.fit_ms = 1000 * (time.perf_counter() - t0)
        self._store(voice, liked, weight, vector, taste.now.features, taste.now.latent)
        return vector

    @staticmethod
    def _keep_liked(taste: VoiceTaste, latent: np.ndarray) -> None:
        with taste.lock:
            taste.liked = [*taste.liked[-(LIKED_KEPT - 1):], latent]

    def liked_latents(self, voice: str, nz: int) -> list[np.ndarray]:
        """The latents of a voice's last likes that fit a generator of latent size nz."""
        taste = self.tastes.get(voice)
        if taste is None:
            return []
        with taste.lock:
            return [z for z in taste.liked if z.shape == (nz,)]

    # -- the recommend walk (engine thread) --------------------------------------------------
    def choose(self, voice: str, candidates: list[tuple[np.ndarray, dict[str, Any]]]) -> int | None:
        """The index of the candidate (latent, features) a Thompson draw prefers; None before
        the first like (the plain walk then)."""
        taste = self.tastes.get(voice)
        if taste is None or taste.pref.likes == 0:
            return None
        xs = np.stack([moment_vector(f, z, self.seed) for z, f in candidates])
        with taste.lock:
            scores = taste.pref.thompson(xs, self._rng, float(self.explore.value))
        return int(np.argmax(scores))

    def cares_about(self, voice: str, name: str) -> bool:
        """Whether this voice's likes say that a feature matters (its weight a posterior deviation
        or more from 0); False before the first like."""
        taste = self.tastes.get(voice)
        if taste is None or taste.pref.likes == 0:
            return False
        with taste.lock:
            return taste.pref.confident(name)

    # -- music: liked settings --------------------------------------------------------------
    def music_like(self, voice: str) -> dict[str, Any]:
        """A like of what a music voice plays now: its style, temperature and density."""
        values = {k: self.registry.get(f"/{voice}/{k}") for k in ("style", "temperature", "density")}
        self.music_likes.setdefault(voice, []).append(values)
        self._store(voice, True, 1.0, np.zeros(0), values)
        return {"voice": voice, "likes": len(self.music_likes[voice]), "liked": values}

    def music_target(self, voice: str) -> dict[str, Any] | None:
        """Where /NAME/recommend steers a music voice: the liked mean temperature and density,
        the most liked style; None before its first like."""
        liked = self.music_likes.get(voice)
        if not liked:
            return None
        styles = [v["style"] for v in liked]
        return {"style": max(set(styles), key=styles.count),
                "temperature": float(np.mean([v["temperature"] for v in liked])),
                "density": float(np.mean([v["density"] for v in liked]))}

    # -- suggestions ----------------------------------------------------------------------------
    def answer(self) -> dict[str, Any]:
        """GET /recommend: per voice, the likes and skips learned from and the moments liked
        most likely to please again, with the features that make them so."""
        return {"voices": {v: {"likes": t.pref.likes, "skips": t.pref.skips}
                           for v, t in self.tastes.items()},
                "top": self.top(5), "database": str(self.path), "problem": self.problem,
                "sessions": self.sessions()}

    def sessions(self) -> int:
        """Runs of the server this database has seen (this one included)."""
        if self._db is None:
            return 0
        return int(self._db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])

    def top(self, n: int) -> list[dict[str, Any]]:
        """The n liked moments the current preferences rank highest (from the database)."""
        if self._db is None:
            return []
        rows = self._db.execute("SELECT id, voice, vector_json, params_json FROM moments "
                                "WHERE liked = 1 ORDER BY id DESC LIMIT 500").fetchall()
        scored = []
        for row_id, voice, vector_json, params_json in rows:
            taste = self.tastes.get(voice)
            if taste is None:
                continue
            x = np.asarray(json.loads(vector_json))
            scored.append({"moment": row_id, "voice": voice, "score": round(taste.pref.predict(x), 4),
                           "why": taste.pref.explain(x), "params": json.loads(params_json)})
        return sorted(scored, key=lambda m: -m["score"])[:n]

    def presets(self) -> dict[str, Any]:
        """GET /recommend/presets: the top moments' parameters, ready for /preset/store."""
        return {"presets": [{"name": f"suggested-{i + 1}", "voice": m["voice"], "score": m["score"],
                             "why": m["why"], "values": m["params"]}
                            for i, m in enumerate(self.top(3))]}


"""Recommendation: the preference learns a taste, the database migrates, survives SIGKILL and
refuses a file it cannot use, the picker takes the preferred keyframe, and a live server learns
from likes over OSC and the WebSocket and walks in recommend mode."""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from websockets.asyncio.client import connect

from live.analysis.frame import FrameAnalyser
from live.params import ParamError, Registry
from live.recommend.picker import PACES, RATES, KeyPicker
from live.recommend.preference import NAMES, PRIOR_VAR, Preference, moment_vector
from live.recommend.service import CANDIDATES, SCHEMA_VERSION, Recommender, migrate
from live.voices.latent import LatentPath
from tests.conftest import Server, poll_until, start_server
from tests.livetools import recv_json, send, write_patch


def test_the_preference_learns_which_feature_is_liked() -> None:
    rng = np.random.default_rng(0)
    pref = Preference()
    for _ in range(200):
        x = rng.random(len(NAMES))
        pref.observe(x, liked=bool(x[0] > 0.7), weight=1.0 if x[0] > 0.7 else 0.3)
    high, low = np.full(len(NAMES), 0.5), np.full(len(NAMES), 0.5)
    high[0], low[0] = 0.95, 0.05
    assert pref.predict(high) > 0.8 > 0.2 > pref.predict(low)
    assert pref.explain(high)[0][0] == NAMES[0] == "brightness"
    scores = pref.thompson(np.stack([low, high]), np.random.default_rng(1))
    assert scores[1] > scores[0]
    xs = np.random.default_rng(2).random((5, len(NAMES)))
    at_mean = np.c_[xs, np.ones(5)] @ pref.mean  # spread 0: no exploration, the posterior mean
    assert np.allclose(pref.thompson(xs, np.random.default_rng(3), spread=0.0), at_mean)
    near = [pref.thompson(xs, np.random.default_rng(k), spread=0.1) for k in range(20)]
    far = [pref.thompson(xs, np.random.default_rng(k), spread=1.0) for k in range(20)]
    assert np.abs(np.array(near) - at_mean).mean() < np.abs(np.array(far) - at_mean).mean()


def test_the_fit_stays_at_the_optimum_when_a_few_likes_separate_perfectly() -> None:
    # Eight likes and many skips in 46 dimensions: a weight vector separates them all, and an
    # undamped Newton step overshot further every update (weights in the tens, the wrong sign).
    rng = np.random.default_rng(4)
    pref = Preference()
    for i in range(60):
        x = rng.random(len(NAMES))
        liked = i % 8 == 0
        x[NAMES.index("motion")] = 0.5 + 0.3 * liked + 0.1 * rng.random()
        pref.observe(x, liked=liked, weight=1.0 if liked else 0.3)
        X, y, c = np.asarray(pref.xs), np.asarray(pref.ys), np.asarray(pref.weights)
        p = 1 / (1 + np.exp(-(X @ pref.mean)))
        grad = X.T @ (c * (p - y)) + pref.mean / PRIOR_VAR  # of the log posterior
        assert np.abs(grad).max() < 1e-3, f"not at the optimum after {i + 1} moments"
    assert np.abs(pref.mean).max() < 10
    assert pref.mean[NAMES.index("motion")] > 0


def test_moment_vectors_are_bounded() -> None:
    f = {"brightness": 2.0, "palette": [[1, 0, 0]] * 5, "hue": [1.0] + [0.0] * 11}
    v = moment_vector(f, np.ones(16) * 4, seed=0)
    assert v.shape == (len(NAMES),) and np.isfinite(v).all() and v.min() >= 0
    assert moment_vector({}, None).shape == (len(NAMES),)


def test_migration_and_refusals(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "old.sqlite")
    migrate(db)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    migrate(db)  # again: nothing to do
    db.execute("PRAGMA user_version = 99")
    with pytest.raises(sqlite3.DatabaseError, match="newer livegen"):
        migrate(db)
    db.close()
    folder = tmp_path / "state"
    folder.mkdir()
    (folder / "recommend.sqlite").write_bytes(b"this is not a database" * 100)
    rec = Recommender(folder, Registry())
    rec.open()  # named, and in memory from now on
    assert rec.problem is not None and "recommend.sqlite" in rec.problem
    rec.seen("v", {"brightness": 0.5}, None)
    assert rec.like("v")["likes"] == 1
    with pytest.raises(ParamError, match="nosuch"):
        rec.like("nosuch")


def test_a_version_2_file_gains_the_latents_and_a_new_show_starts_near_the_liked_ones(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "recommend.sqlite")
    db.execute("CREATE TABLE moments (id INTEGER PRIMARY KEY, t REAL NOT NULL, voice TEXT NOT NULL, "
               "liked INTEGER NOT NULL, weight REAL NOT NULL, vector_json TEXT NOT NULL, "
               "features_json TEXT NOT NULL, params_json TEXT NOT NULL)")
    db.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY, started REAL NOT NULL, ended REAL, "
               "patch TEXT NOT NULL)")
    old = moment_vector({"brightness": 0.9}, None)
    db.execute("INSERT INTO moments (t, voice, liked, weight, vector_json, features_json, params_json) "
               "VALUES (0, 'v', 1, 1.0, ?, '{}', '{}')", (json.dumps(old.tolist()),))
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()
    rec = Recommender(tmp_path, Registry())
    rec.open()
    assert rec.tastes["v"].pref.likes == 1 and rec.liked_latents("v", 16) == []  # none kept then
    z = LatentPath(16, seed=5).step(0.1, 1.0)
    rec.seen("v", {"brightness": 0.8}, z)
    rec.like("v")
    rec.close()
    again = Recommender(tmp_path, Registry())
    again.open()
    assert again.tastes["v"].pref.likes == 2
    (kept,) = again.liked_latents("v", 16)
    assert np.allclose(kept, z, atol=1e-3) and again.liked_latents("v", 8) == []  # another generator
    again.close()
    path = LatentPath(16, seed=1)
    path.mode = "recommend"
    picker = KeyPicker(again, "v", 16, lambda z: np.full((16, 16, 3), 100, np.uint8))
    for _ in range(3 * CANDIDATES):
        picker.step(path, 1.0, 0.01)
    assert len(picker.found) == CANDIDATES
    cos = [float(c @ z) / (np.linalg.norm(c) * np.linalg.norm(z)) for c, _ in picker.found]
    # half near the liked latent (moved toward or away from the key before by up to one), half fresh
    assert min(cos[1::2]) > 0.4 > max(cos[0::2]) and np.mean(cos[1::2]) > 0.7 > 0.1 > np.mean(cos[0::2])
    before = path.key(2)  # the fresh ones lie nearer the key before or farther, by their pace
    to_before = [float(c @ before) / (np.linalg.norm(c) * np.linalg.norm(before))
                 for c, _ in picker.found[0::2]]
    paces = [PACES[i % len(PACES)] for i in range(len(to_before))]
    far = [c for p, c in zip(paces, to_before, strict=True) if p <= -1]
    near_before = [c for p, c in zip(paces, to_before, strict=True) if p >= 1]
    assert far and near_before and max(far) < -0.3 < 0.3 < min(near_before)


def test_the_picker_takes_the_preferred_keyframe(tmp_path: Path) -> None:
    rec = Recommender(tmp_path, Registry(), clock=lambda: 0.0)
    rec.open()

    def render(z: np.ndarray) -> np.ndarray:  # bright when the first latent element is high
        return np.full((16, 16, 3), int(np.clip(128 + 40 * z[0], 0, 255)), np.uint8)

    rng = np.random.default_rng(0)
    for value in rng.integers(0, 256, 80):  # likes bright frames; the dark ones are skipped
        rec.seen("v", FrameAnalyser()(np.full((16, 16, 3), value, np.uint8)), None)
        if value > 160:
            rec.like("v")
        else:
            rec._observe("v", rec.tastes["v"], liked=False, weight=1.0)
    path = LatentPath(16, seed=1)
    path.mode = "recommend"
    picker = KeyPicker(rec, "v", 16, render)
    for _ in range(9):  # twelve frames a key: three candidates, three frames each
        picker.step(path, 1.0, 1 / 12)
    assert picker.decided == 3 and picker.chosen == 1 and len(picker.found) == 3
    chosen = path.key(3)
    zs = [z for z, _ in picker.found]
    assert chosen[0] >= np.median([z[0] for z in zs])  # one of the brighter candidates


@pytest.mark.parametrize(("taste", "strength"),
                         [("motion", 1.0), ("motion", 0.5), ("calm", 1.0), ("bright", 1.0)])
def test_the_picker_paces_the_walk_to_the_taste_for_motion(
        tmp_path: Path, taste: str, strength: float) -> None:
    registry = Registry()
    rec = Recommender(tmp_path, registry, clock=lambda: 0.0)
    rec.open()
    registry.set("/recommend/explore", 0.0)  # the likeliest, so the test is not a draw
    registry.set("/recommend/strength", strength)
    for i, motion in enumerate(np.linspace(0.0, 0.4, 40)):
        bright = i % 2 == 1  # as many bright frames as dark among the calm and the moving
        rec.seen("v", {"brightness": 0.8 if bright else 0.2, "motion": float(motion)}, None)
        liked = {"motion": motion > 0.2, "calm": motion <= 0.2, "bright": bright}[taste]
        if liked:
            rec.like("v")
        else:
            rec._observe("v", rec.tastes["v"], liked=False, weight=1.0)

    def render(z: np.ndarray) -> np.ndarray:  # any change of the latent changes the frame
        return np.full((16, 16, 3), int(np.clip(128 + 60 * z[0], 0, 255)), np.uint8)

    path = LatentPath(16, seed=1)
    path.mode = "recommend"
    picker = KeyPicker(rec, "v", 16, render)
    for _ in range(9):
        picker.step(path, 1.0, 1 / 12)
    assert picker.chosen == 1
    # a room with no view on motion keeps the plain pace (and the candidates it leaves time for)
    wanted = {"motion": max(RATES), "calm": min(RATES), "bright": 1.0}[taste]
    assert path.rate(3) == pytest.approx(1 + strength * (wanted - 1))
    assert path.rate(2) == 1.0  # the keys before keep the plain pace
    rec.close()


PATCH = """\
[voices.visual]
kind = "visual"
model = "random"
resolution = 32
fps = 15
speed = 4.0

[voices.music]
kind = "music"
model = "random"
"""


async def test_likes_over_osc_and_the_websocket_are_learned_and_survive_sigkill(tmp_path: Path) -> None:
    patch = write_patch(tmp_path, PATCH)
    server: Server = start_server(patch=patch)
    try:
        poll_until(lambda: "visual" in server.get_json("/recommend")["voices"], 20.0)
        for _ in range(3):
            assert send(server, "/visual/like", reply=True) is None
        async with connect(server.ws, compression=None) as ws:
            await ws.send(json.dumps({"op": "like", "voice": "visual", "id": 5}))
            await recv_json(ws, "ack")
        poll_until(lambda: server.get_json("/recommend")["voices"]["visual"]["likes"] == 4, 10.0)
        error = send(server, "/nosuch/like", reply=True)
        assert error is not None
        # Recommend mode: keyframes chosen by the preference.
        send(server, "/visual/mode", "recommend")
        poll_until(lambda: server.get_json("/status")["voices"]["visual"]["recommended"] >= 1, 30.0)
        send(server, "/music/like")
        assert server.get_json("/recommend/presets")["presets"][0]["values"]["/visual/speed"] == 4.0
    finally:
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
    again = start_server(patch=patch)
    try:
        answer = again.get_json("/recommend")
        assert answer["voices"]["visual"]["likes"] == 4  # every acknowledged like was kept
        assert answer["sessions"] == 2
    finally:
        again.stop()

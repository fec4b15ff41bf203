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
from live.recommend.picker import KeyPicker
from live.recommend.preference import NAMES, Preference, moment_vector
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
    for _ in range(CANDIDATES):
        picker.step(path, 1.0, 0.1)
    assert picker.decided == 3 and picker.chosen == 1
    chosen = path.key(3)
    zs = [z for z, _ in picker.found]
    assert chosen[0] >= np.median([z[0] for z in zs])  # one of the brighter candidates


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

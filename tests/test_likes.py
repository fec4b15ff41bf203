"""Likes and the page's other WebSocket ops (prompt, call): stored, recorded, refused clearly."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import connect

from live.likes import LikeStore
from live.params import FloatParam, ParamError, Registry
from tests.conftest import PATCHES, Server
from tests.livetools import recv_json
from tests.webtools import patch_in, serving


def store(tmp_path: Path) -> LikeStore:
    registry = Registry()
    registry.add(FloatParam("/visual/speed", 1.0, lo=0, hi=8))
    voice = SimpleNamespace(kind="visual", path=SimpleNamespace(z=np.array([0.5, -0.25])))
    music = SimpleNamespace(kind="music")
    return LikeStore(tmp_path / "state", registry, lambda: {"visual": voice, "music": music})


def test_a_like_keeps_the_moment_and_makes_its_file_on_first_use(tmp_path: Path) -> None:
    likes = store(tmp_path)
    assert likes.recent() == [] and likes.total() == 0
    assert not (tmp_path / "state").exists()  # reading makes no file
    like = likes.add({"op": "like", "id": 3, "seq": 41, "stamp": 7, "note": "this one"})
    assert like["like"] == 1 and like["voice"] == "visual"
    assert like["params"] == {"/visual/speed": 1.0} and like["latents"] == {"visual": [0.5, -0.25]}
    assert likes.recent() == [{"like": 1, "t": like["t"], "voice": "visual", "seq": 41, "stamp": 7,
                               "note": "this one"}]
    likes.close()
    assert store(tmp_path).total() == 1  # it persists


@pytest.mark.parametrize(("msg", "expected"), [
    ({"seq": -1}, "like: seq -1 refused, expected an integer in [0, 2^32)"),
    ({"seq": True}, "like: seq True refused"),
    ({"stamp": "7"}, "like: stamp '7' refused"),
    ({"voice": "music"}, "like: voice 'music' refused, expected one of visual"),
    ({"note": "x" * 201}, "like: note refused, expected a string of at most 200 characters"),
    ({"latent": [1, 2]}, "like: unknown field(s) ['latent']"),
])
def test_a_bad_like_is_refused_and_stores_nothing(tmp_path: Path, msg: dict[str, Any],
                                                  expected: str) -> None:
    likes = store(tmp_path)
    with pytest.raises(ParamError) as e:
        likes.add(msg)
    assert str(e.value).startswith(expected)
    assert likes.total() == 0


@pytest.fixture
def stage(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    for srv in serving("--record", str(tmp_path / "rec"), patch=patch_in(tmp_path, PATCHES / "stage.toml")):
        yield srv, tmp_path


async def ask(ws: Any, msg: dict[str, Any]) -> dict[str, Any]:
    """Send one message with an id; the ack or error that answers it."""
    await ws.send(json.dumps(msg | {"id": "q"}))
    async with asyncio.timeout(10):
        while True:
            reply = json.loads(m) if isinstance(m := await ws.recv(), str) else {}
            if reply.get("id") == "q":
                return reply


async def test_likes_over_the_websocket_are_stored_and_recorded(stage: tuple[Server, Path]) -> None:
    server, folder = stage
    async with connect(server.ws, compression=None) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topics": ["param"]}))
        reply = await ask(ws, {"op": "like", "voice": "visual", "seq": 5, "stamp": 2})
        assert reply["op"] == "ack" and isinstance(reply["like"], int)
        bad = await ask(ws, {"op": "like", "seq": "five"})
        assert bad == {"op": "error", "id": "q",
                       "message": "like: seq 'five' refused, expected an integer in [0, 2^32)"}
    likes = server.get_json("/likes")
    assert likes["total"] == 1 and likes["recent"][0]["seq"] == 5
    assert server.stop() == 0
    events = [json.loads(line) for line in (folder / "rec" / "events.jsonl").read_text().splitlines()]
    recorded = [e for e in events if e["type"] == "like"]
    assert len(recorded) == 1 and recorded[0]["seq"] == 5 and "/visual/speed" in recorded[0]["params"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from serving(patch=patch_in(tmp_path_factory.mktemp("ops"), PATCHES / "stage.toml"))


async def test_an_audience_prompt_is_rate_limited_per_connection(server: Server) -> None:
    async with connect(server.ws, compression=None) as ws, connect(server.ws, compression=None) as other:
        await ws.send(json.dumps({"op": "subscribe", "topics": ["param"]}))
        assert (await ask(ws, {"op": "prompt", "text": "  the sea\tat night "}))["op"] == "ack"
        change = await recv_json(ws, "param")
        assert change["path"] == "/text/prime" and change["value"] == "the sea at night\n"
        assert change["source"] == "audience"
        again = await ask(ws, {"op": "prompt", "text": "more"})
        assert again["op"] == "error" and again["message"].startswith(
            "prompt refused: one prompt every 15 s; try again in")
        assert server.param("/text/prime") == "the sea at night\n"
        # Another connection has its own allowance.
        assert (await ask(other, {"op": "prompt", "text": "a fox"}))["op"] == "ack"
        for msg, expected in (
                ({"text": ""}, "prompt: expected text of 1 to 280 characters"),
                ({"text": "x" * 281}, "prompt: expected text of 1 to 280 characters"),
                ({"text": "hi", "path": "/visual/speed"}, "prompt: /visual/speed refused"),
                ({"text": "hi", "path": "/nope/prime"}, "unknown parameter '/nope/prime'")):
            reply = await ask(other, {"op": "prompt", **msg})
            assert reply["op"] == "error" and reply["message"].startswith(expected), reply
        assert server.param("/text/prime") == "a fox\n"


async def test_call_reaches_presets_and_bookmarks_only(server: Server) -> None:
    async with connect(server.ws, compression=None) as ws:
        schema = server.get_json("/schema")
        assert "/preset/recall" in schema["commands"] and "/visual/bookmark/store" in schema["commands"]
        assert "/patch/load" not in schema["commands"] and "/music/in/note" not in schema["commands"]
        for address, args in (("/preset/store", ["here"]), ("/visual/bookmark/store", [3])):
            assert (await ask(ws, {"op": "call", "address": address, "args": args}))["op"] == "ack"
        assert "here" in server.get_json("/status")["control"]["presets"]
        for msg, expected in (
                ({"address": "/patch/load", "args": ["/etc/passwd"]}, "call: '/patch/load' refused"),
                ({"address": "/preset/recall", "args": ["nope"]}, "unknown preset"),
                ({"address": "/preset/recall", "args": "calm"}, "call /preset/recall: args must be a list"),
                ({"address": "/visual/bookmark/recall", "args": [9]}, "no bookmark 9"),
                ({"address": "/preset/morph", "args": ["calm", "wild", "half"]}, "/preset/morph"),
                ({"address": "/preset/morph", "args": [1, 2, 3]}, "/preset/morph"),
                ({"address": 5}, "call: '5' refused")):
            reply = await ask(ws, {"op": "call", **msg})
            assert reply["op"] == "error" and expected in reply["message"], reply


def test_a_like_keeps_the_model_and_the_analysis_and_an_old_file_is_migrated(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    old = sqlite3.connect(folder / "likes.sqlite")  # a file written before model and features
    old.execute("CREATE TABLE likes (id INTEGER PRIMARY KEY, t REAL NOT NULL, voice TEXT, "
                "seq INTEGER, stamp INTEGER, note TEXT, params_json TEXT NOT NULL, "
                "latents_json TEXT NOT NULL)")
    old.execute("INSERT INTO likes (t, voice, params_json, latents_json) VALUES (1, 'v', '{}', '{}')")
    old.execute("PRAGMA user_version = 1")
    old.commit()
    old.close()
    voice = type("V", (), {"kind": "visual", "model": "textures", "path": None})()
    store = LikeStore(folder, Registry(), lambda: {"v": voice},
                      measured=lambda name: {"brightness": 0.25, "nearest": "brick.png"})
    like = store.add({"op": "like", "voice": "v"})
    assert like["model"] == "textures" and like["features"]["nearest"] == "brick.png"
    row = store.db.execute("SELECT model, features_json FROM likes ORDER BY id DESC").fetchone()
    assert row[0] == "textures" and json.loads(row[1])["brightness"] == 0.25
    assert store.total() == 2 and store.db.execute("PRAGMA user_version").fetchone()[0] == 2
    store.close()

"""The TouchDesigner client (patches/touchdesigner) driven without TouchDesigner.

Frames and JSON messages come from a real server over a real WebSocket; the callbacks run
with TouchDesigner's op() stubbed by small classes that do what the operators they stand for
do (a Script TOP cooks its onCook callback, a Table DAT holds rows).
"""

from __future__ import annotations

import asyncio
import csv
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from websockets.asyncio.client import connect

from tests.conftest import ROOT, Server, start_server
from tests.livetools import decode, recv_json

TD = ROOT / "patches" / "touchdesigner"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"td_{name}", TD / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class ScriptTOP:
    """A Script TOP: cook() runs its Callbacks DAT's onCook, copyNumpyArray keeps the array."""

    def __init__(self, callbacks: ModuleType) -> None:
        self.callbacks = callbacks
        self.arrays: list[np.ndarray] = []

    def cook(self, force: bool = False) -> None:
        self.callbacks.onCook(self)

    def copyNumpyArray(self, array: np.ndarray) -> None:  # noqa: N802 - TouchDesigner's name
        self.arrays.append(array.copy())


class TableDAT:
    def __init__(self) -> None:
        self.rows: list[list[str]] = []

    @property
    def numRows(self) -> int:  # noqa: N802 - TouchDesigner's name
        return len(self.rows)

    def appendRow(self, row: list[str]) -> None:  # noqa: N802
        self.rows.append([str(c) for c in row])

    def deleteRow(self, index: int) -> None:  # noqa: N802
        del self.rows[index]


class Pulse:
    def __init__(self) -> None:
        self.count = 0

    def pulse(self) -> None:
        self.count += 1


class MovieFileIn:
    def __init__(self) -> None:
        self.par = type("Par", (), {})()
        self.par.file = ""
        self.par.reloadpulse = Pulse()


class WebSocketDAT:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.pongs: list[bytes] = []

    def sendText(self, text: str) -> None:  # noqa: N802
        self.sent.append(text)

    def sendPong(self, contents: bytes) -> None:  # noqa: N802
        self.pongs.append(contents)


class DATWithModule:
    def __init__(self, module: ModuleType) -> None:
        self.module = module


@pytest.fixture(name="td")
def td_fixture():
    """The two callback scripts, wired to stub operators through a stub op()."""
    callbacks, script_top = load("livegen_ws_callbacks"), load("livegen_script_top")
    ops = {"livegen_frame": ScriptTOP(script_top), "livegen_messages": TableDAT(),
           "livegen_jpeg": MovieFileIn(), "livegen_ws_callbacks": DATWithModule(callbacks)}
    callbacks.op = script_top.op = ops.__getitem__
    callbacks.FRAMES.clear()
    return callbacks, ops


async def capture(server: Server) -> tuple[bytes, bytes, list[str]]:
    """A JPEG frame, then a raw RGBA frame after /visual/format rgba, and the text messages."""
    texts: list[str] = []
    async with connect(server.ws, compression=None, max_size=2**22) as ws:
        async def frame(fmt: int) -> bytes:
            async with asyncio.timeout(20):
                while True:
                    msg = await ws.recv()
                    if isinstance(msg, str):
                        texts.append(msg)
                    elif msg[4] == fmt:
                        return msg
        jpeg = await frame(1)
        await ws.send(json.dumps({"op": "set", "path": "/visual/format", "value": "rgba", "id": 1}))
        texts.append(json.dumps(await recv_json(ws, "ack")))
        rgba = await frame(2)
        await ws.send(json.dumps({"op": "set", "path": "/visual/speed", "value": 9, "id": 2}))
        texts.append(json.dumps(await recv_json(ws, "error")))
    return jpeg, rgba, texts


@pytest.fixture(scope="module", name="captured")
def captured_fixture() -> tuple[bytes, bytes, list[str]]:
    server = start_server()
    try:
        return asyncio.run(capture(server))
    finally:
        assert server.stop() == 0


def test_jpeg_frame_reaches_the_script_top(td, captured) -> None:
    callbacks, ops = td
    jpeg, _, _ = captured
    callbacks.onReceiveBinary(WebSocketDAT(), jpeg)
    (array,) = ops["livegen_frame"].arrays
    h, w = int.from_bytes(jpeg[8:10], "little"), int.from_bytes(jpeg[6:8], "little")
    assert array.shape == (h, w, 4) == (64, 64, 4) and array.dtype == np.uint8
    assert array.flags["C_CONTIGUOUS"]
    expected = decode(jpeg[32:]).astype(np.uint8)  # decoded independently, row 0 at the top
    assert np.array_equal(array[::-1, :, :3], expected)
    assert (array[..., 3] == 255).all()
    assert callbacks.INFO[0]["format"] == 1 and callbacks.INFO[0]["seq"] >= 0


def test_rgba_frame_is_reshaped_and_flipped(td, captured) -> None:
    callbacks, ops = td
    _, rgba, _ = captured
    callbacks.onReceiveBinary(WebSocketDAT(), rgba)
    (array,) = ops["livegen_frame"].arrays
    expected = np.frombuffer(rgba[32:], np.uint8).reshape(64, 64, 4)
    assert array.shape == (64, 64, 4) and array.dtype == np.uint8
    assert np.array_equal(array, expected[::-1]) and np.array_equal(array[0], expected[-1])
    info = callbacks.INFO[0]
    assert (info["format"], info["width"], info["height"], info["flags"]) == (2, 64, 64, 0)
    assert info["render_us"] > 1_600_000_000 * 10**6


def test_without_pillow_the_jpeg_goes_to_a_movie_file_in(td, captured, tmp_path: Path) -> None:
    callbacks, ops = td
    jpeg, _, _ = captured
    callbacks.Image = None
    callbacks.JPEG_FILE = tmp_path / "frame.jpg"
    callbacks.onReceiveBinary(WebSocketDAT(), jpeg)
    movie = ops["livegen_jpeg"]
    assert movie.par.file == str(tmp_path / "frame.jpg") and movie.par.reloadpulse.count == 1
    assert (tmp_path / "frame.jpg").read_bytes() == jpeg[32:]
    assert ops["livegen_frame"].arrays == []


def test_bad_binary_messages_are_skipped(td, capsys) -> None:
    callbacks, ops = td
    callbacks.onReceiveBinary(WebSocketDAT(), b"short")
    callbacks.onReceiveBinary(WebSocketDAT(), b"XXXX" + bytes(40))
    assert ops["livegen_frame"].arrays == [] and capsys.readouterr().out.count("livegen:") == 2


def test_text_messages_fill_the_table(td, captured) -> None:
    callbacks, ops = td
    _, _, texts = captured
    dat = WebSocketDAT()
    callbacks.onConnect(dat)
    assert json.loads(dat.sent[0])["op"] == "subscribe"
    for text in texts:
        callbacks.onReceiveText(dat, 0, text)
    callbacks.onReceiveText(dat, 0, "not json")
    rows = ops["livegen_messages"].rows
    assert rows[0] == ["op", "what", "value", "stamp"] and len(rows) == len(texts) + 1
    ops_seen = {row[0] for row in rows[1:]}
    assert {"ack", "error", "param"} <= ops_seen, ops_seen
    assert ["param", "/visual/format", '"rgba"'] in [row[:3] for row in rows]
    assert any(row[0] == "error" and "/visual/speed" in row[2] for row in rows)
    callbacks.onReceivePing(dat, b"p")
    assert dat.pongs == [b"p"]


def test_the_table_keeps_the_newest_rows(td) -> None:
    callbacks, ops = td
    for i in range(callbacks.MAX_ROWS + 50):
        callbacks.onReceiveText(None, 0, json.dumps({"op": "param", "path": "/x", "value": i}))
    rows = ops["livegen_messages"].rows
    assert len(rows) == callbacks.MAX_ROWS + 1 and rows[-1][2] == str(callbacks.MAX_ROWS + 49)


def test_osc_map_regenerates_from_a_running_server(tmp_path: Path) -> None:
    """Every row of the shipped map is what osc_map.py writes from the default patch's /schema.

    A parameter added to the server since is not a failure here (the map only lacks it until
    `python patches/touchdesigner/osc_map.py` is run again); a row that is wrong is.
    """
    osc_map = load("osc_map")
    server = start_server("--device", "cpu", patch=ROOT / "patches" / "default.toml")
    try:
        out = tmp_path / "map.csv"
        assert osc_map.main(["--url", server.http, "--out", str(out)]) == 0
        schema = server.get_json("/schema")
    finally:
        assert server.stop() == 0
    fresh, shipped = out.read_text().splitlines(), (TD / "osc_map.csv").read_text().splitlines()
    assert shipped[0] == fresh[0]
    assert [row for row in shipped if row not in fresh] == [], "stale rows: rerun osc_map.py"
    assert len(shipped) > 45
    rows = list(csv.DictReader(out.open()))
    by_address = {r["address"]: r for r in rows}
    for p in schema["params"]:
        row = by_address[p["path"]]
        if p["type"] in ("float", "int"):
            assert row["operator"] == "CHOP" and row["chop_channel"] == p["path"][1:]
            assert (float(row["min"]), float(row["max"])) == tuple(p["range"])
    assert by_address["/visual/xy"]["osc_types"] == "ff"
    assert by_address["/preset/morph"]["osc_types"] == "ssf"


def test_the_network_diagram_is_current() -> None:
    diagram = load("diagram")
    assert diagram.svg() == (TD / "network.svg").read_text()
    for name in ("livegen_frame", "livegen_messages", "livegen_jpeg"):  # the names the script uses
        assert f">{name}<" in diagram.svg()
    callbacks = load("livegen_ws_callbacks")
    assert {callbacks.SCRIPT_TOP, callbacks.TABLE_DAT, callbacks.MOVIE_TOP} <= {
        n[0] for n in diagram.NODES}

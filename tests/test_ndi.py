"""NDI out and in for real: a receiver on the same SDK in another process finds livegen's sources
on this machine and gets the frames the WebSocket clients get; an input voice shows an NDI source.

Discovery runs on loopback only: both sides read deploy/ndi/ndi-config.v1.json (NDI_CONFIG_DIR).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import websockets
from PIL import Image

from live.frames import unpack
from tests.conftest import ROOT, Server, poll_until, start_server
from tests.livetools import send
from tests.outputs_tools import visual_voice

NDIlib = pytest.importorskip("NDIlib", reason="ndi-python is not installed (pip install 'livegen[ndi]')")
NDI_ENV = {"NDI_CONFIG_DIR": str(ROOT / "deploy" / "ndi")}

PATCH = visual_voice(format="rgba") + """
[voices.cam]
kind = "input"
source = "ndi:livegen visual"
format = "rgba"

[outputs.ndi]
kind = "ndi"
voice = "visual"

[outputs.uyvy]
kind = "ndi"
voice = "visual"
format = "uyvy"
size = [128, 96]
source = "livegen visual uyvy"
"""


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255**2 / mse)


@pytest.fixture(scope="module")
def ndi_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("ndi") / "ndi.toml"
    path.write_text(PATCH)
    srv = start_server(patch=path, env=NDI_ENV)
    try:
        yield srv
    finally:
        srv.stop()


async def probe_beside_ws(server: Server, source: str, seconds: float, out: Path
                          ) -> tuple[dict[str, Any], dict[int, dict[int, tuple]]]:
    """Run the NDI receiver process while a WebSocket client keeps every frame, by stream and seq."""
    got: dict[int, dict[int, tuple]] = {0: {}, 1: {}}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.ndi_receiver", source, str(seconds), str(out), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, env={**os.environ, **NDI_ENV})
    async with websockets.connect(server.ws, max_size=2**22) as ws:
        async def read() -> None:
            while True:
                msg = await ws.recv()
                if isinstance(msg, bytes):
                    info, payload = unpack(msg)
                    got.setdefault(info.stream, {})[info.seq] = (info, payload)
        reader = asyncio.create_task(read())
        try:
            stdout, _ = await asyncio.wait_for(proc.communicate(), 60)
        finally:
            reader.cancel()
    return json.loads(stdout.decode().strip().splitlines()[-1]), got


def rgb(info: Any, payload: bytes) -> np.ndarray:
    return np.frombuffer(payload, np.uint8).reshape(info.height, info.width, 4)[..., :3]


async def test_ndi_receiver_gets_the_websocket_frames_at_the_server_rate(
        ndi_server: Server, tmp_path: Path) -> None:
    assert "livegen visual" in ndi_server.ready["outputs"]["ndi"], ndi_server.ready["outputs"]
    summary, got = await probe_beside_ws(ndi_server, "livegen visual", 3.0, tmp_path / "rx.npz")
    assert summary["found"], "the NDI receiver did not find 'livegen visual' on loopback"
    rx = np.load(tmp_path / "rx.npz")
    seqs = rx["meta"][:, 0]
    assert len(seqs) > 20 and (seqs >= 0).all(), "frames without livegen's metadata"
    ws = got[0]
    matched = [i for i, s in enumerate(seqs) if int(s) in ws]
    assert len(matched) >= 0.9 * len(seqs)
    scores, shifted = [], []
    for i in matched:
        info, payload = ws[int(seqs[i])]
        assert rx["meta"][i, 1] == info.stamp  # the control stamp travels in the metadata
        assert rx["pixels"][i].shape == (info.height, info.width, 4)
        scores.append(psnr(rx["pixels"][i][..., :3], rgb(info, payload)))
        other = ws.get(int(seqs[i]) + 10)
        if other is not None:
            shifted.append(psnr(rx["pixels"][i][..., :3], rgb(*other)))
    # NDI's codec is lossy (SpeedHQ, 4:2:2): close to the rendered frame, not equal; a frame ten
    # steps away matches clearly worse, so the pairing by sequence number means something.
    # (An untrained generator draws high-frequency noise, the hardest case for it: ~24 dB here.)
    assert min(scores) > 20, (min(scores), np.median(scores))
    assert np.median(shifted) < np.median(scores) - 5, (np.median(shifted), np.median(scores))
    # At the server's rate: over the span it listened, the receiver got (nearly) as many frames
    # as the WebSocket client did (both newest-wins; on this shared machine either may skip one).
    first, last = int(seqs.min()), int(seqs.max())
    ws_in_span = sum(1 for s in ws if first <= s <= last)
    assert len(seqs) >= 0.9 * ws_in_span and ws_in_span >= 0.8 * (last - first + 1), (
        len(seqs), ws_in_span, last - first + 1)


async def test_ndi_uyvy_scaled_source(ndi_server: Server, tmp_path: Path) -> None:
    summary, got = await probe_beside_ws(ndi_server, "livegen visual uyvy", 2.0, tmp_path / "rx.npz")
    assert summary["found"], summary
    rx = np.load(tmp_path / "rx.npz")
    assert rx["pixels"].shape[1:] == (96, 128, 4)
    scores = []
    for pixels, (seq, _, _) in zip(rx["pixels"], rx["meta"], strict=True):
        if int(seq) in got[0]:
            want = np.asarray(Image.fromarray(np.ascontiguousarray(rgb(*got[0][int(seq)])))
                              .resize((128, 96), Image.Resampling.BILINEAR))
            scores.append(psnr(pixels[..., :3], want))
    assert len(scores) > 10
    assert np.median(scores) > 28, np.median(scores)  # our 4:2:2 and its colour matrix, the SDK's decode


async def test_input_voice_shows_an_ndi_source(ndi_server: Server, tmp_path: Path) -> None:
    poll_until(lambda: ndi_server.get_json("/status")["voices"]["cam"]["received"] > 10, 20)
    cam = ndi_server.get_json("/status")["voices"]["cam"]
    assert cam["ndi"]["state"] == "receiving", cam
    assert cam["ndi"]["connected_to"].endswith("(livegen visual)")
    assert cam["input_size"] == [64, 64]
    got: dict[int, dict[int, tuple]] = {0: {}, 1: {}}
    async with websockets.connect(ndi_server.ws, max_size=2**22) as ws:
        async with asyncio.timeout(20):
            while len(got[1]) < 20 or len(got[0]) < 40:
                msg = await ws.recv()
                if isinstance(msg, bytes):
                    info, payload = unpack(msg)
                    got[info.stream][info.seq] = (info, payload)
    sources = [rgb(*f) for f in got[0].values()]
    best = [max(psnr(rgb(*f), s) for s in sources) for f in list(got[1].values())[-10:]]
    assert np.median(best) > 20, best  # what the input voice shows is a frame the visual voice rendered


async def test_outputs_switch_off_and_on_live(ndi_server: Server) -> None:
    def state() -> str:
        return ndi_server.get_json("/status")["outputs"]["uyvy"]["state"]

    send(ndi_server, "/outputs/uyvy/on", 0)  # OSC off
    poll_until(lambda: state() == "off", 10)
    assert state() == "off"
    async with websockets.connect(ndi_server.ws) as ws:
        await ws.send(json.dumps({"op": "set", "path": "/outputs/uyvy/on", "value": True}))  # WS on
        poll_until(lambda: state() == "on", 10)
        assert state() == "on"
        await ws.send(json.dumps({"op": "set", "path": "/outputs/uyvy/on", "value": "maybe"}))
        async with asyncio.timeout(5):
            while (reply := json.loads(await _text(ws)))["op"] != "error":
                pass
    assert "/outputs/uyvy/on" in reply["message"]
    assert state() == "on"


async def _text(ws: Any) -> str:
    """The next text message, frames skipped."""
    while isinstance(msg := await ws.recv(), bytes):
        pass
    return msg


def test_the_ndi_bench_runs_and_reports_its_machine() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.ndi", "--resolutions", "64", "--seconds", "1",
                           "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["machine"]["cores"] and result["machine"]["commit"]
    (row,) = result["rows"]
    assert row["resolution"] == 64 and row["ndi_frames"] > 0 and 0 < row["received_over_rendered"] <= 1
    assert row["ws_fps_ndi_on"] > 0 and row["ws_fps_ndi_off"] > 0

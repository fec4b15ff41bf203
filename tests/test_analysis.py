"""Analysis: frame features against images with known answers, the key and tension of notes,
rhymes, and a live server that sends its measurements over OSC and WebSocket, serves them at
GET /analysis, lists them read-only in the schema and lets a mapping take one as its source."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
from websockets.asyncio.client import connect

from live.analysis.frame import FrameAnalyser
from live.analysis.hub import osc_messages
from live.analysis.music import KEYS, MusicAnalyser, estimate_key, tension
from live.analysis.text import TextAnalyser, rhyme_key
from models.embed import for_model
from models.images import load_images
from tests.conftest import Server, poll_until
from tests.livetools import OscSink, recv_json, send, write_patch


def solid(rgb: tuple[int, int, int], side: int = 128) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, np.uint8), (side, side, 3)).copy()


def test_a_pure_red_frame() -> None:
    f = FrameAnalyser()(solid((255, 0, 0)))
    assert f["brightness"] == pytest.approx(0.299, abs=1e-3) and f["contrast"] == pytest.approx(0, abs=1e-6)
    assert f["saturation"] == pytest.approx(1.0) and f["colourfulness"] > 80
    assert f["palette"][0] == pytest.approx([1, 0, 0]) and np.argmax(f["hue"]) == 0
    assert f["edges"] == 0 and f["entropy"] == pytest.approx(0) and f["motion"] == 0
    grey = FrameAnalyser()(solid((128, 128, 128)))
    assert grey["saturation"] == 0 and grey["colourfulness"] == pytest.approx(0, abs=1e-3)


def test_a_half_black_frame_and_its_mirror() -> None:
    half = np.zeros((128, 128, 3), np.uint8)
    half[:, 64:] = 255
    f = FrameAnalyser()(half)
    assert f["brightness"] == pytest.approx(0.5, abs=1e-3) and f["contrast"] == pytest.approx(0.5, abs=1e-3)
    assert f["symmetry_lr"] == pytest.approx(0.0) and f["symmetry_tb"] == pytest.approx(1.0)
    assert f["entropy"] == pytest.approx(1 / 5)  # two luma bins of 32: 1 bit of 5
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    a, b = FrameAnalyser()(img), FrameAnalyser()(img[:, ::-1].copy())
    for key in ("brightness", "contrast", "colourfulness", "saturation", "entropy", "symmetry_lr"):
        assert a[key] == pytest.approx(b[key], rel=1e-4), key
    assert np.allclose(sorted(map(tuple, a["palette"])), sorted(map(tuple, b["palette"])), atol=1e-3)


def test_motion_and_its_direction() -> None:
    frame = np.zeros((128, 128, 3), np.uint8)
    frame[40:72, 40:72] = 255
    an = FrameAnalyser()
    an(frame)
    right = an(np.roll(frame, 16, axis=1))
    assert right["motion"] > 0.05 and right["motion_x"] > 0.1 and abs(right["motion_y"]) < 0.05
    down = an(np.roll(np.roll(frame, 16, axis=1), 16, axis=0))
    assert down["motion_y"] > 0.1 and abs(down["motion_x"]) < 0.05
    assert an(np.roll(np.roll(frame, 16, axis=1), 16, axis=0))["motion"] == 0  # still


def test_the_palette_follows_a_cut_and_holds_still_while_the_picture_moves() -> None:
    rng = np.random.default_rng(1)
    blocks = rng.integers(0, 6, (8, 8)).repeat(16, 0).repeat(16, 1)  # six flat colours in blocks
    colours = rng.integers(0, 256, (6, 3)).astype(np.uint8)
    picture = colours[blocks]
    an = FrameAnalyser()
    an(solid((255, 0, 0)))
    for _ in range(3):  # a cut from red: a few one-step frames reach what a fresh analysis finds
        tracked = an(picture)["palette"]
    fresh = FrameAnalyser()(picture)["palette"]
    assert np.allclose(sorted(map(tuple, tracked)), sorted(map(tuple, fresh)), atol=0.02)
    for step in (8, 16, 24):  # the same colours moved on the palette's 8 px grid: the same palette
        moved = an(np.roll(picture, step, axis=1))["palette"]
        assert np.allclose(sorted(map(tuple, moved)), sorted(map(tuple, fresh)), atol=0.02)


def test_at_128_px_the_analysers_colours_are_the_embeddings_thumbnail() -> None:
    emb = for_model("textures")
    assert emb is not None
    frame = np.random.default_rng(2).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    an = FrameAnalyser()
    an(frame)
    assert an.colour is not None and emb.place(an.colour.ravel()) == emb(frame)


@pytest.mark.parametrize(("scale", "key"), [((0, 2, 4, 5, 7, 9, 11), "C major"),
                                            ((7, 9, 11, 0, 2, 4, 6), "G major"),
                                            ((9, 11, 0, 2, 4, 5, 8), "A minor")])
def test_key_estimate_on_scales(scale: tuple[int, ...], key: str) -> None:
    weights = np.zeros(12)
    for i, pc in enumerate(scale):
        weights[pc] += 2.0 if i in (0, 4) else 1.0  # tonic and dominant held longer
    found, confidence = estimate_key(weights)
    assert KEYS[found] == key and confidence > 0.6


def test_music_window_density_polyphony_and_tension() -> None:
    an = MusicAnalyser()
    for beat in range(8):  # a C major triad on every beat, then a cluster
        for pitch in (60, 64, 67):
            an.note(beat, beat + 1, pitch, 80)
    f = an.measure(8.0)
    assert f["density"] == 3 and f["polyphony"] == pytest.approx(3) and f["velocity"] == 80
    assert f["pitch_range"] == 7 and f["key"] == "C major"
    an.note(8, 9, 61, 100)
    an.note(8, 9, 62, 100)
    assert an.measure(9.0)["tension"] > f["tension"] and tension([60, 67]) < tension([60, 61])


def test_rhymes_at_line_ends() -> None:
    assert rhyme_key("night") == "ight" and rhyme_key("Day,") == "ay" and rhyme_key("...") == ""
    t = TextAnalyser()
    lines = ["Shall I compare thee to a summer's day?", "Thou art more lovely and more temperate:",
             "Rough winds do shake the darling buds of May,"]
    got = [t.line(x) for x in lines]
    assert [g["rhyme"] for g in got] == [0.0, 0.0, 1.0] and got[0]["words"] == 8


def test_osc_messages_are_flat() -> None:
    msgs = dict((a, v) for a, v in osc_messages("v", {"brightness": 0.5, "key": "C major",
                                                       "palette": [[1, 0, 0]], "hue": [0.25]}))
    assert msgs == {"/analysis/v/brightness": [0.5], "/analysis/v/key": ["C major"],
                    "/analysis/v/palette/0": [1.0, 0.0, 0.0], "/analysis/v/hue/0": [0.25]}


PATCH = """\
[clock]
bpm = 240

[voices.visual]
kind = "visual"
model = "random"
resolution = 64
fps = 15

[voices.music]
kind = "music"
model = "random"

[voices.text]
kind = "text"
model = "random"
rate = 60

[[mappings]]
osc = "/analysis/visual/brightness"   # the picture's brightness drives the music's temperature
target = "/music/temperature"
in = [0, 1]
out = [0.2, 2.0]
"""


async def test_a_live_server_sends_and_serves_its_analysis(run_server, sink: OscSink, tmp_path) -> None:
    server: Server = run_server(patch=write_patch(tmp_path, PATCH))
    sink.wait_for(lambda: sink.count("/analysis/visual/brightness") >= 5
                  and sink.count("/analysis/music/density") >= 4 and sink.count("/analysis/text/words") >= 1,
                  timeout=40)
    assert all(0 <= r.args[0] <= 1 for r in sink.of("/analysis/visual/brightness"))
    assert len(sink.of("/analysis/visual/palette/4")[0].args) == 3
    assert sink.of("/analysis/music/key")[0].args[0] in KEYS
    async with connect(server.ws, compression=None) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topics": ["analysis"]}))
        msg = await recv_json(ws, "analysis")
        assert msg["voice"] in ("visual", "music", "text") and "kind" in msg
    latest = server.get_json("/analysis")["voices"]
    assert server.get_json("/analysis/music")["voice"] == "music"
    status, body = server.get("/analysis/nosuch")
    assert status == 404 and b"/analysis/nosuch" in body
    assert {"visual", "music", "text"} <= set(latest) and "colourfulness" in latest["visual"]
    schema = {p["path"]: p for p in server.get_json("/schema")["params"]}
    brightness = schema["/analysis/visual/brightness"]
    assert brightness["readonly"] is True and brightness["range"] == [0, 1]
    error = send(server, "/analysis/visual/brightness", 0.5, reply=True)
    assert error is not None and "read-only" in error
    # The mapping: temperature follows the picture (0.2 + 1.8 x brightness).
    b = latest["visual"]["brightness"]
    poll_until(lambda: server.param("/music/temperature") != 1.0, 10.0)
    assert 0.2 <= server.param("/music/temperature") <= 2.0
    assert server.param("/music/temperature") == pytest.approx(0.2 + 1.8 * b, abs=0.3)
    await asyncio.sleep(0)


def test_the_embedding_finds_the_training_image_a_frame_is_most_like() -> None:
    emb = for_model("textures")
    assert emb is not None and len(emb.names) == len(emb.coords) >= 10
    ims = load_images("skimage")
    for im, name in list(zip(ims.images, ims.names, strict=True))[:4]:
        h, w = im.shape[1:]
        s = min(h, w)
        crop = im[:, (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
        frame = crop.permute(1, 2, 0).numpy()
        coords, nearest, distance = emb(frame)
        assert nearest == name and distance < 0.05 and len(coords) == 8
    assert for_model("corpus") is None  # no embedding beside a music model

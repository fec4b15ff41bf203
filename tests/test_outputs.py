"""The shared output interface: pixel layouts (RGBA, BGRA, UYVY with its colour matrices), scaling,
the newest-wins hand-off, the fps cap, an output's thread and its life, and the [outputs] tables;
Spout and Syphon refusing plainly off their platforms while the server plays on."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from live.outputs.base import (
    OutFrame,
    Output,
    OutputSettings,
    OutputState,
    Pacer,
    Picture,
    PixelFormat,
    Slot,
    convert,
    rgb_to_uyvy,
    scale,
    video_frame,
)
from live.outputs.setup import parse_outputs
from live.patch import PatchError, load_patch
from tests.conftest import ROOT, poll_until, start_server
from tests.outputs_tools import visual_voice


def colour(rgb: tuple[int, int, int], w: int = 4, h: int = 2) -> np.ndarray:
    return np.tile(np.array(rgb, np.uint8), (h, w, 1))


def test_rgba_and_bgra_layouts() -> None:
    px = colour((10, 20, 30))
    assert convert(px, PixelFormat.RGBA)[0, 0].tolist() == [10, 20, 30, 255]
    assert convert(px, PixelFormat.BGRA)[0, 0].tolist() == [30, 20, 10, 255]
    assert convert(px, PixelFormat.RGBA).shape == (2, 4, 4)


@pytest.mark.parametrize(("rgb", "height", "yuv"), [
    ((255, 255, 255), 2, (235, 128, 128)), ((0, 0, 0), 2, (16, 128, 128)),
    ((255, 0, 0), 2, (81, 90, 240)),  # BT.601 below 720 lines
    ((255, 0, 0), 720, (63, 102, 240)),  # BT.709 from 720 lines, as NDI receivers decode it
])
def test_uyvy_studio_range_and_matrix(rgb: tuple[int, int, int], height: int,
                                      yuv: tuple[int, int, int]) -> None:
    out = rgb_to_uyvy(colour(rgb, 4, height))
    assert out.shape == (height, 4, 2)
    u, y0, v, y1 = out[0, :2].reshape(-1).tolist()
    assert (y0, u, v) == yuv and y1 == y0


def test_uyvy_averages_chroma_over_a_pixel_pair_and_needs_an_even_width() -> None:
    px = np.zeros((1, 2, 3), np.uint8)
    px[0, 0] = (255, 0, 0)
    px[0, 1] = (0, 0, 255)
    u, y0, v, y1 = rgb_to_uyvy(px).reshape(-1).tolist()
    assert (y0, y1) == (81, 41) and abs(u - (90 + 240) / 2) <= 1 and abs(v - (240 + 110) / 2) <= 1
    with pytest.raises(ValueError, match="even width"):
        rgb_to_uyvy(np.zeros((2, 3, 3), np.uint8))


def test_scale_and_video_frames() -> None:
    px = np.random.default_rng(0).integers(0, 256, (40, 30, 3), np.uint8)
    assert scale(px, None) is px and scale(px, (30, 40)) is px
    assert scale(px, (60, 80)).shape == (80, 60, 3)
    frame = video_frame(Picture(px[:, :29], 7, 8, 9), None)  # odd sides become even for 4:2:0
    assert (frame.width, frame.height, frame.seq, frame.stamp) == (28, 40, 7, 8)


def test_slot_newest_wins_and_wakes_on_close() -> None:
    slot = Slot()
    for seq in range(3):
        slot.put(Picture(np.zeros((1, 1, 3), np.uint8), seq, 0, 0))
    item = slot.take(0.1)
    assert item is not None and item.seq == 2 and slot.replaced == 2
    assert slot.take(0.01) is None
    threading.Timer(0.05, slot.close).start()
    assert slot.take(5.0) is None  # close wakes a waiting take


def test_pacer_caps_without_losing_a_source_at_the_cap() -> None:
    pacer = Pacer(30)
    sent = sum(pacer.due(i / 60) for i in range(120))  # two seconds at 60 fps
    assert 59 <= sent <= 61
    pacer = Pacer(30)
    jitter = np.random.default_rng(1).uniform(-0.005, 0.005, 90)
    assert all(pacer.due(i / 30 + j) for i, j in enumerate(jitter))
    assert all(Pacer(None).due(t) for t in (0, 0, 0))


class Recorder(Output):
    """An output that keeps what it is sent (the base's thread, conversion and life, for real)."""

    kind = "record"
    formats = (PixelFormat.BGRA,)

    def __init__(self, settings: OutputSettings, fail: bool = False) -> None:
        super().__init__(settings)
        self.fail = fail
        self.frames: list[OutFrame] = []
        self.closed = 0

    def open(self) -> str:
        if self.fail:
            raise OSError("port 9 in use")
        return "a list"

    def send(self, frame: OutFrame) -> None:
        time.sleep(0.002)  # slower than the renderer: frames in between are skipped
        self.frames.append(frame)

    def close(self) -> None:
        self.closed += 1


def test_output_thread_converts_skips_to_the_newest_and_stops() -> None:
    out = Recorder(OutputSettings("rec", "record", "visual", PixelFormat.BGRA, (8, 6)))
    assert out.start().result(5) == "a list" and out.state is OutputState.ON
    for seq in range(200):
        out.offer(colour((seq % 256, 0, 0), 4, 4), seq, seq * 2, 0)
    time.sleep(0.3)
    out.stop()
    assert out.state is OutputState.OFF and out.closed == 1
    seqs = [f.seq for f in out.frames]
    assert seqs == sorted(seqs) and seqs[-1] == 199 and len(seqs) < 200  # newest wins, never older
    last = out.frames[-1]
    assert last.data.shape == (6, 8, 4) and last.data[0, 0].tolist() == [0, 0, 199, 255]  # scaled, BGRA
    out.offer(colour((1, 2, 3)), 500, 0, 0)  # off: nothing is taken
    assert out.offered == 200


def test_output_that_cannot_open_says_why_and_can_start_again() -> None:
    out = Recorder(OutputSettings("rec", "record", "visual"), fail=True)
    assert out.start().result(5) == "failed: OSError: port 9 in use"
    assert out.state is OutputState.FAILED and out.status()["error"] == "OSError: port 9 in use"
    out.offer(colour((1, 2, 3)), 0, 0, 0)
    assert out.offered == 0
    out.fail = False
    assert out.start().result(5) == "a list" and out.state is OutputState.ON
    out.stop()


BAD = [
    ('kind = "hdmi"\nvoice = "visual"', "kind", "'hdmi' refused, expected one of ndi, webrtc"),
    ('kind = "ndi"\nvoice = "visual"\nbitrate = 5', "bitrate", "unknown key; a ndi output takes"),
    ('kind = "ndi"\nvoice = "music"', "voice", "'music' is not a visual or input voice"),
    ('kind = "webrtc"\nvoice = "visual"\nformat = "uyvy"', "format", "a webrtc output takes rgba"),
    ('kind = "ndi"\nvoice = "visual"\nsize = [0, 10]', "size", "[0, 10] refused"),
    ('kind = "ndi"\nvoice = "visual"\nformat = "uyvy"\nsize = [33, 10]', "size", "an even width for uyvy"),
    ('kind = "ndi"\nvoice = "visual"\nfps = 0', "fps", "0 refused, expected a number in [1, 240]"),
    ('kind = "ndi"\nvoice = "visual"\non = "yes"', "on", "'yes' refused, expected true or false"),
    ('kind = "webrtc"\nvoice = "visual"\nport = 70000', None, "port 70000 refused"),
    ('kind = "janus"\nvoice = "visual"\nrtp = "janus"', None, "rtp 'janus' refused, expected \"HOST:PORT\""),
    ('kind = "janus"\nvoice = "visual"\nrtp = ["a:1", 5]', None, "or a list of them"),
]


@pytest.mark.parametrize(("table", "key", "words"), BAD)
def test_bad_output_tables_are_refused_with_file_line_and_key(
        tmp_path: Path, table: str, key: str | None, words: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(visual_voice() + "\n[outputs.out]\n" + table + "\n")
    with pytest.raises(PatchError) as e:
        parse_outputs(load_patch(path), ["visual"])
    text = str(e.value)
    assert str(path) in text and words in text, text
    assert (f"key outputs.out.{key}" in text and ", line " in text) if key else "[outputs.out]" in text


def test_outputs_section_shape_and_the_reserved_voice_name(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('outputs = 3\n')
    with pytest.raises(PatchError, match=r"outputs must be \[outputs.NAME\] tables"):
        load_patch(path)
    path.write_text('[voices.outputs]\nkind = "visual"\n')
    with pytest.raises(PatchError, match="other than clock, preset, learn and outputs"):
        load_patch(path)


def test_a_bad_outputs_table_stops_the_start_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(visual_voice() + '\n[outputs.out]\nkind = "ndi"\nvoice = "nobody"\n')
    proc = subprocess.run([sys.executable, str(ROOT / "server.py"), "--patch", str(path), "--port", "0",
                           "--osc-port", "0", "--oscquery-port", "0"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "cannot start" in proc.stderr and "line 11, key outputs.out.voice" in proc.stderr, proc.stderr


def test_spout_and_syphon_off_their_platforms_fail_plainly_and_the_server_plays_on(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(visual_voice() + '\n[outputs.spout]\nkind = "spout"\nvoice = "visual"\nformat = "bgra"\n'
                    '\n[outputs.syphon]\nkind = "syphon"\nvoice = "visual"\n')
    srv = start_server(patch=path)
    try:
        if sys.platform == "linux":
            assert srv.ready["outputs"]["spout"] == "failed: RuntimeError: Spout runs on Windows only " \
                                                    "(this is linux); use NDI here"
            assert "Syphon runs on macOS only" in srv.ready["outputs"]["syphon"]
            poll_until(lambda: srv.get_json("/status")["voices"]["visual"]["fps"] > 0, 10)
            status = srv.get_json("/status")
            assert status["outputs"]["spout"]["state"] == "failed"
            assert status["voices"]["visual"]["fps"] > 0  # frames flow all the same
            assert any("output spout (spout) did not start" in line for line in srv.stderr_lines)
    finally:
        srv.stop()

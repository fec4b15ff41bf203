"""Presets: snapshots, recall, morph (numbers, vectors, latents by slerp, choices at the midpoint),
quantised recall on the next beat, persistence across a restart, latent bookmarks."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from live.control.presets import Presets, PresetStore, blend, check_values, flatten
from live.control.timing import ControlError
from live.params import BoolParam, ChoiceParam, FloatParam, IntParam, Registry, VectorParam
from live.record.recorder import read_events
from live.voices.latent import slerp
from tests.conftest import ROOT, poll_until, start_server
from tests.livetools import send
from tests.test_mappings import copy_patch


@pytest.fixture(name="reg")
def reg_fixture() -> Registry:
    r = Registry()
    r.add(FloatParam("/v/speed", 1.0, "speed", lo=0, hi=8))
    r.add(IntParam("/v/seed", 0, "seed", lo=0, hi=1000))
    r.add(ChoiceParam("/v/mode", "walk", "mode", choices=("walk", "loop", "hold")))
    r.add(BoolParam("/m/play", True, "play"))
    r.add(VectorParam("/v/xy", (0.0, 0.0), "xy", size=2, lo=-1, hi=1))
    r.add(VectorParam("/v/latent", (0.0,) * 4, "latent", size=4, lo=-10, hi=10))
    r.add(BoolParam("/m/panic", False, "panic"))
    return r


def test_blend_numbers_vectors_latents_and_switches(reg: Registry) -> None:
    assert blend(reg["/v/speed"], 1.0, 5.0, 0.25) == 2.0
    assert blend(reg["/v/seed"], 0, 9, 0.5) == 4  # rounded half to even
    assert blend(reg["/v/xy"], (0.0, -1.0), (1.0, 1.0), 0.5) == (0.5, 0.0)
    assert blend(reg["/v/mode"], "walk", "hold", 0.49) == "walk"
    assert blend(reg["/v/mode"], "walk", "hold", 0.5) == "hold"
    assert blend(reg["/m/play"], True, False, 0.7) is False
    a, b = np.array([2.0, 0, 0, 0]), np.array([0, 2.0, 0, 0])
    mid = blend(reg["/v/latent"], tuple(a), tuple(b), 0.5)
    assert mid == pytest.approx(tuple(slerp(a, b, 0.5)))
    assert np.linalg.norm(mid) == pytest.approx(2.0)  # on the sphere, not the chord's 1.41


def test_snapshot_recall_morph_and_persistence(reg: Registry, tmp_path: Path) -> None:
    store = PresetStore(tmp_path / "state")
    assert store.presets() == {} and not store.path.exists()  # reading makes no file
    latent = np.array([1.0, 2.0, 3.0, 4.0])
    presets = Presets(reg, store, {"a": {"/v/speed": 2.0}}, {"v": lambda: latent})
    reg.set("/v/speed", 6.0)
    reg.set("/v/mode", "hold")
    snap = presets.store_preset("b")
    assert snap["/v/speed"] == 6.0 and snap["/v/latent"] == (1.0, 2.0, 3.0, 4.0)
    assert "/m/panic" not in snap  # an action, never recalled
    reg.set("/v/speed", 0.0)
    assert presets.apply(presets.recall_values("a")) == 1 and reg.get("/v/speed") == 2.0
    presets.apply(presets.morph_values("a", "b", 0.75))
    assert reg.get("/v/speed") == 5.0
    store.close()
    again = Presets(reg, PresetStore(tmp_path / "state"), {}, {})
    assert again.get("b")["/v/speed"] == 6.0 and again.get("b")["/v/mode"] == "hold"
    with pytest.raises(ControlError, match="unknown preset 'zz'; presets: b"):
        again.get("zz")
    with pytest.raises(ControlError, match=r"fraction 2 refused"):
        presets.morph_values("a", "b", 2)


def test_patch_presets_are_checked(reg: Registry) -> None:
    assert flatten({"v": {"speed": 1.0}, "/m/play": False}) == {"/v/speed": 1.0, "/m/play": False}
    with pytest.raises(ControlError, match=r"p.toml: \[presets.x\]: unknown parameter '/v/nope'"):
        check_values(reg, {"/v/nope": 1}, "p.toml: [presets.x]")
    with pytest.raises(ControlError, match=r"/v/speed: 9 refused"):
        check_values(reg, {"/v/speed": 9}, "p.toml: [presets.x]")


def test_recall_and_morph_reach_the_stored_values(tmp_path: Path) -> None:
    srv = start_server(patch=copy_patch(tmp_path))
    try:
        send(srv, "/preset/recall", "wild")
        poll_until(lambda: srv.param("/visual/speed") == 6.0, timeout=10)
        assert (srv.param("/visual/speed"), srv.param("/visual/mode"), srv.param("/visual/truncation")) \
            == (6.0, "loop", 1.5)
        send(srv, "/preset/morph", "calm", "wild", 0.25)
        poll_until(lambda: srv.param("/visual/speed") != 6.0, timeout=10)
        assert srv.param("/visual/speed") == pytest.approx(0.5 + 0.25 * 5.5)
        assert srv.param("/visual/mode") == "walk"  # a choice switches at the midpoint
        assert send(srv, "/preset/recall", "nope", reply=True) == "unknown preset 'nope'; presets: calm, wild"
    finally:
        srv.stop()


@pytest.mark.flaky(reruns=2)  # when it happened: see tests/README.md
def test_quantised_recall_lands_on_the_next_beat(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    srv = start_server("--record", str(rec), patch=copy_patch(tmp_path))
    try:
        times = []
        for unit, preset in (("beat", "wild"), ("bar", "calm")):
            send(srv, "/preset/quantise", unit)
            sent_beat = srv.get_json("/status")["clock"]["beat"]
            send(srv, "/preset/recall", preset)
            speed = 6.0 if preset == "wild" else 0.5
            poll_until(lambda s=speed: srv.param("/visual/speed") == s, timeout=10)
            assert srv.param("/visual/speed") == speed
            times.append((unit, sent_beat))
    finally:
        assert srv.stop() == 0
    events, _ = read_events(rec / "events.jsonl")
    landed = [e for e in events if e["type"] == "param" and e["source"] == "preset"
              and e["path"] == "/visual/speed"]
    assert len(landed) == 2
    for (unit, sent_beat), event in zip(times, landed, strict=True):
        beat = event["t"] * 120 / 60  # the patch's tempo never changes
        step = 1 if unit == "beat" else 4
        assert abs(beat - round(beat)) < 0.02, (unit, beat)  # on the grid, within 10 ms
        assert round(beat) % step == 0
        assert sent_beat < beat <= math.floor(sent_beat / step) * step + step + 0.02


def test_stored_presets_and_bookmarks_survive_a_restart(tmp_path: Path) -> None:
    patch = copy_patch(tmp_path)
    srv = start_server(patch=patch)
    try:
        send(srv, "/visual/speed", 3.25)
        send(srv, "/visual/mode", "hold")
        poll_until(lambda: srv.param("/visual/mode") == "hold", timeout=10)
        send(srv, "/preset/store", "mine")
        send(srv, "/visual/bookmark/store", 2)
        poll_until(lambda: (tmp_path / ".livegen-state" / "presets.sqlite").exists(), timeout=10)
        time.sleep(0.3)
    finally:
        assert srv.stop() == 0
    srv = start_server(patch=patch)
    try:
        assert srv.param("/visual/speed") == 1.0
        send(srv, "/preset/recall", "mine")
        poll_until(lambda: srv.param("/visual/speed") == 3.25, timeout=10)
        assert srv.param("/visual/mode") == "hold"
        send(srv, "/visual/seed", 99)
        assert send(srv, "/visual/bookmark/recall", 7, reply=True) == "/visual/bookmark/recall: no bookmark 7"
        latent = srv.param("/visual/latent")
        send(srv, "/visual/bookmark/recall", 2)
        poll_until(lambda: srv.param("/visual/latent") != latent, timeout=10)
        z = np.asarray(srv.param("/visual/latent"))
        assert z.shape == (len(latent),) and np.linalg.norm(z) > 1.0
    finally:
        srv.stop()


def test_a_fader_mapped_to_the_morph_position(tmp_path: Path) -> None:
    patch = copy_patch(tmp_path)
    patch.write_text(patch.read_text() + '\n[control]\nmorph = ["calm", "wild"]\n\n[[mappings]]\n'
                     'osc = "/1/fader5"\ntarget = "/preset/position"\n')
    srv = start_server(patch=patch)
    try:
        assert srv.param("/preset/from") == "calm" and srv.param("/preset/to") == "wild"
        send(srv, "/1/fader5", 0.5)
        poll_until(lambda: srv.param("/visual/speed") != 1.0, timeout=10)
        assert srv.param("/visual/speed") == pytest.approx(0.5 + 0.5 * 5.5)
        assert srv.param("/visual/mode") == "loop"
        send(srv, "/preset/to", "calm")
        send(srv, "/preset/position", 1.0)
        poll_until(lambda: srv.param("/visual/speed") == 0.5, timeout=10)
        assert srv.param("/visual/mode") == "walk"
    finally:
        srv.stop()
    patch.write_text(patch.read_text().replace('morph = ["calm", "wild"]', 'morph = ["calm", "storm"]'))
    proc = subprocess.run([sys.executable, str(ROOT / "server.py"), "--patch", str(patch), "--port", "0",
                           "--osc-port", "0"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f"patch file {patch}: [control] key 'morph': unknown preset 'storm'; presets: calm, wild" \
        in proc.stderr


def test_a_stored_value_the_parameter_no_longer_takes_is_skipped_and_the_rest_land(
        reg: Registry, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A preset saved before a range changed (or naming a parameter now gone) still recalls."""
    presets = Presets(reg, PresetStore(tmp_path / "state"), {}, {})
    presets.named["old"] = {"/v/speed": 99.0, "/v/mode": "loop", "/gone/param": 1.0}
    speed = reg.get("/v/speed")
    assert presets.apply(presets.recall_values("old")) == 1
    assert reg.get("/v/mode") == "loop" and reg.get("/v/speed") == speed
    assert "/v/speed" in caplog.text and "/gone/param" in caplog.text

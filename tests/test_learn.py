"""Learn: /learn/start PATH, the next unknown OSC address or CC becomes its mapping, reported back;
/learn/save appends it to the patch, which reloads to the same mapping."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import tomllib
from pathlib import Path

import mido
from pythonosc.osc_message import OscMessage
from websockets.asyncio.client import connect

from live.control.learn import Learn
from live.control.mappings import parse_mapping, parse_mappings
from live.params import BoolParam, FloatParam, Registry
from live.patch import load_patch
from tests.conftest import poll_until, start_server
from tests.livetools import osc, recv_json, send
from tests.test_mappings import copy_patch


def test_learn_a_cc_and_save_it_unit(tmp_path: Path) -> None:
    reg = Registry()
    reg.add(FloatParam("/v/speed", 1.0, "speed", lo=0, hi=8))
    reg.add(BoolParam("/m/play", True, "play"))
    patch = tmp_path / "p.toml"
    original = '# my patch\n[voices.v]\nkind = "visual"   # keep this comment\nmodel = "random"'
    patch.write_text(original)
    learn = Learn(reg, patch)
    assert learn.take_midi(mido.Message("control_change", control=1)) is None  # not learning
    learn.start("/v/speed", None)
    m = learn.take_midi(mido.Message("control_change", channel=2, control=74, value=10))
    assert m is not None and (m.source.kind, m.source.number, m.source.channel) == ("cc", 74, 3)
    learn.start("/m/play", None)
    toggle = learn.take_osc("/1/toggle1")
    assert toggle is not None and toggle.action == "toggle"
    assert learn.save() == 2 and learn.save() == 0
    text = patch.read_text()
    assert text.startswith(original + "\n")  # the rest of the file unchanged
    again = parse_mappings(tomllib.loads(text)["mappings"], reg, str(patch))
    assert again == [m, toggle]


def test_learn_over_osc_reports_back_and_saves_a_patch_that_reloads(tmp_path: Path) -> None:
    patch = copy_patch(tmp_path)
    original = patch.read_text()
    srv = start_server(patch=patch)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(5)
            s.sendto(osc("/learn/start", "/visual/truncation"), srv.osc)
            s.sendto(osc("/2/rotary3", 0.25), srv.osc)
            reply = OscMessage(s.recvfrom(65536)[0])
            assert (reply.address, reply.params) == ("/learn/learned", ["/2/rotary3", "/visual/truncation"])
            s.sendto(osc("/2/rotary3", 0.75), srv.osc)  # now it is mapped: [0, 1] -> [0, 2]
            poll_until(lambda: srv.param("/visual/truncation") == 1.5, timeout=10)
            assert srv.param("/visual/truncation") == 1.5
            s.sendto(osc("/learn/save"), srv.osc)
            saved = OscMessage(s.recvfrom(65536)[0])
            assert (saved.address, saved.params) == ("/learn/saved", [1, str(patch)])
        send(srv, "/learn/start", "/visual/speed")
        send(srv, "/learn/cancel")
        assert send(srv, "/2/other", 1.0, reply=True).startswith("unknown parameter '/2/other'")
        assert send(srv, "/learn/start", "/nope", reply=True).startswith("unknown parameter '/nope'")
    finally:
        assert srv.stop() == 0
    text = patch.read_text()
    assert text.startswith(original)
    loaded = load_patch(patch)
    assert loaded.mappings[-1] == {"osc": "/2/rotary3", "target": "/visual/truncation"}
    srv = start_server(patch=patch)  # the saved patch starts, and the learned mapping works
    try:
        send(srv, "/2/rotary3", 0.1)
        poll_until(lambda: srv.param("/visual/truncation") != 1.0, timeout=10)
        assert abs(srv.param("/visual/truncation") - 0.2) < 1e-6  # 0.1 went as a float32
    finally:
        srv.stop()
    reg = Registry()
    reg.add(FloatParam("/visual/truncation", 1.0, "t", lo=0, hi=2))
    assert parse_mapping(loaded.mappings[-1], reg).in_range == (0.0, 1.0)


async def test_learned_goes_to_websocket_clients_and_status(tmp_path: Path) -> None:
    srv = await asyncio.to_thread(start_server, patch=copy_patch(tmp_path))
    try:
        async with connect(srv.ws, compression=None) as ws:
            await ws.send(json.dumps({"op": "subscribe", "topics": ["status"]}))
            send(srv, "/learn/start", "/visual/speed")
            status = (await asyncio.to_thread(srv.get_json, "/status"))["control"]
            assert status["learning"] == "/visual/speed" and status["mappings"] == 2
            send(srv, "/lemur/knob", 0.5)
            learned = await recv_json(ws, "learned")
        assert learned == {"op": "learned", "source": "/lemur/knob", "target": "/visual/speed",
                           "mapping": {"osc": "/lemur/knob", "target": "/visual/speed"}}
        status = (await asyncio.to_thread(srv.get_json, "/status"))["control"]
        assert status["learning"] is None and status["mappings"] == 3
        assert status["presets"] == ["calm", "wild"]
    finally:
        srv.stop()


def test_learn_a_midi_cc_on_a_real_server(tmp_path: Path) -> None:
    played = tmp_path / "midi-in.txt"
    patch = copy_patch(tmp_path)
    patch.write_text(patch.read_text() + '\n[control]\nmidi_in = "virtual:pads"\n')
    env = {"MIDO_BACKEND": "tests.midi_backend", "LIVEGEN_TEST_MIDI_IN": str(played)}
    srv = start_server(patch=patch, env=env)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(5)
            s.sendto(osc("/learn/start", "/visual/mode"), srv.osc)
            time.sleep(0.2)
            with played.open("a") as f:
                f.write("control_change channel=4 control=16 value=0 time=0\n")
            reply = OscMessage(s.recvfrom(65536)[0])
            assert (reply.address, reply.params) == ("/learn/learned", ["cc 16 ch 5", "/visual/mode"])
            with played.open("a") as f:
                f.write("control_change channel=4 control=16 value=100 time=0\n")  # 4th of 5: xy
            poll_until(lambda: srv.param("/visual/mode") == "xy", timeout=10)
            assert srv.param("/visual/mode") == "xy"
            s.sendto(osc("/learn/save"), srv.osc)
            assert OscMessage(s.recvfrom(65536)[0]).params == [1, str(patch)]
    finally:
        srv.stop()
    assert load_patch(patch).mappings[-1] == {"cc": 16, "channel": 5, "target": "/visual/mode"}

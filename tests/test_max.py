"""The Max patch (patches/max/livegen.maxpat): valid patch JSON with real Max objects, and its
message flow, run by a small interpreter of those objects, against a real server both ways."""

from __future__ import annotations

import importlib.util
import json
import re
import socket
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PATCHES, ROOT, Server, poll_until, start_server
from tests.livetools import OscSink, osc

PATCH = ROOT / "patches" / "max" / "livegen.maxpat"

# Max objects the patch may use: name -> (inlets, outlets) for the arguments it has.
NEWOBJ = {
    "udpsend": lambda args: (1, 0),
    "udpreceive": lambda args: (1, 1),
    "route": lambda args: (len(args) + 1, len(args) + 1),
    "prepend": lambda args: (1, 1),
    "unpack": lambda args: (1, len(args) or 2),
    "makenote": lambda args: (3, 2),
    "noteout": lambda args: (3, 0),
    "*": lambda args: (2, 1),
    "print": lambda args: (1, 0),
}
UI = {"slider": (1, 1), "flonum": (1, 2), "number": (1, 2), "message": (2, 1), "comment": (1, 0),
      "toggle": (1, 1), "button": (1, 1)}


def load() -> dict[str, Any]:
    return json.loads(PATCH.read_text())["patcher"]


def name_and_args(box: dict[str, Any]) -> tuple[str, list[str]]:
    if box["maxclass"] != "newobj":
        return box["maxclass"], []
    name, *args = box["text"].split()
    return name, args


def atom(token: str) -> int | float | str:
    if re.fullmatch(r"-?\d+", token):
        return int(token)
    if re.fullmatch(r"-?(\d+\.\d*|\.\d+)", token):
        return float(token)
    return token


def test_the_patch_is_valid_max_json() -> None:
    patcher = load()
    assert patcher["fileversion"] == 1 and {"major", "minor"} <= patcher["appversion"].keys()
    assert len(patcher["rect"]) == 4
    boxes = {b["box"]["id"]: b["box"] for b in patcher["boxes"]}
    assert len(boxes) == len(patcher["boxes"]), "duplicate box ids"
    for box in boxes.values():
        name, args = name_and_args(box)
        assert name in NEWOBJ or name in UI, f"{box['id']}: {name} is not in the list of Max objects"
        expected = NEWOBJ[name](args) if name in NEWOBJ else UI[name]
        assert (box["numinlets"], box["numoutlets"]) == expected, box
        assert len(box.get("outlettype", [])) == box["numoutlets"], box
        assert len(box["patching_rect"]) == 4 and all(isinstance(v, float) for v in box["patching_rect"])
    seen = set()
    for line in patcher["lines"]:
        (src, outlet), (dst, inlet) = line["patchline"]["source"], line["patchline"]["destination"]
        assert src in boxes and dst in boxes, line
        assert 0 <= outlet < boxes[src]["numoutlets"] and 0 <= inlet < boxes[dst]["numinlets"], line
        assert (src, outlet, dst, inlet) not in seen, line
        seen.add((src, outlet, dst, inlet))
    names = [name_and_args(b)[0] for b in boxes.values()]
    for needed in ("udpsend", "udpreceive", "route", "unpack", "makenote", "noteout", "slider"):
        assert needed in names


class MaxRun:
    """Messages through the patch's boxes, as Max passes them (outlets right to left)."""

    def __init__(self, patcher: dict[str, Any]) -> None:
        self.boxes = {b["box"]["id"]: b["box"] for b in patcher["boxes"]}
        self.wires: dict[tuple[str, int], list[tuple[str, int]]] = defaultdict(list)
        for line in patcher["lines"]:
            src, dst = line["patchline"]["source"], line["patchline"]["destination"]
            self.wires[(src[0], src[1])].append((dst[0], dst[1]))
        self.state: dict[tuple[str, int], Any] = {}
        self.sent: list[list[Any]] = []   # what reached [udpsend]
        self.notes: list[tuple[Any, Any]] = []  # (pitch, velocity) at [noteout]
        self.shown: dict[str, Any] = {}   # box id -> what a number or message box displays

    def find(self, maxclass: str, text: str | None = None, near: str | None = None) -> str:
        """The box of that class (and text); with near, the one wired straight into that prepend."""
        for box_id, box in self.boxes.items():
            if box["maxclass"] != maxclass or (text is not None and box.get("text") != text):
                continue
            if near is None or any(self.boxes[d]["maxclass"] in ("flonum", "number", "newobj")
                                   and near in self.chain(box_id) for d, _ in self.wires[(box_id, 0)]):
                return box_id
        raise LookupError((maxclass, text, near))

    def chain(self, box_id: str) -> str:
        """The texts of the boxes downstream of outlet 0, joined (for find)."""
        out, todo, seen = [], [box_id], set()
        while todo:
            b = todo.pop()
            if b in seen:
                continue
            seen.add(b)
            out.append(self.boxes[b].get("text", ""))
            todo += [d for d, _ in self.wires[(b, 0)]]
        return " | ".join(out)

    def out(self, box_id: str, outlet: int, atoms: list[Any]) -> None:
        for dst, inlet in self.wires[(box_id, outlet)]:
            self.inlet(dst, inlet, atoms)

    def inlet(self, box_id: str, inlet: int, atoms: list[Any]) -> None:  # noqa: C901 - one branch per object
        box = self.boxes[box_id]
        name, args = name_and_args(box)
        args = [atom(a) for a in args]
        if name in ("slider", "flonum"):
            self.shown[box_id] = float(atoms[0])
            self.out(box_id, 0, [float(atoms[0])])
        elif name == "number":
            self.shown[box_id] = int(atoms[0])
            self.out(box_id, 0, [int(atoms[0])])
        elif name == "message":
            if atoms and atoms[0] == "set":
                self.shown[box_id] = atoms[1:]
                return
            tokens = [atom(t) for t in box.get("text", "").split()]
            self.out(box_id, 0, [atoms[int(t[1:]) - 1] if isinstance(t, str) and t.startswith("$")
                                 else t for t in tokens])
        elif name == "prepend":
            self.out(box_id, 0, [*args, *atoms])
        elif name == "udpsend":
            self.sent.append(atoms)
        elif name == "udpreceive":
            self.out(box_id, 0, atoms)
        elif name == "route":
            k = args.index(atoms[0]) if atoms[0] in args else len(args)
            self.out(box_id, k, atoms[1:] if k < len(args) else atoms)
        elif name == "unpack":
            for i in reversed(range(len(args))):
                cast = int if args[i] == "i" else float if args[i] == "f" else type(args[i])
                self.out(box_id, i, [cast(atoms[i])])
        elif name == "*":
            if inlet == 1:
                self.state[(box_id, 1)] = atoms[0]
            else:
                self.out(box_id, 0, [atoms[0] * self.state.get((box_id, 1), args[0])])
        elif name == "makenote":
            if inlet:
                self.state[(box_id, inlet)] = atoms[0]
            else:
                self.out(box_id, 1, [self.state.get((box_id, 1), args[0])])
                self.out(box_id, 0, atoms)
        elif name == "noteout":
            if inlet:
                self.state[(box_id, inlet)] = atoms[0]
            else:
                self.notes.append((atoms[0], self.state.get((box_id, 1))))
        elif name != "comment":
            raise AssertionError(f"the interpreter does not know {name}")


def documented_control_addresses() -> set[str]:
    return set(re.findall(r"`(/(?:preset|learn)/[a-z]+)", (ROOT / "docs" / "protocol.md").read_text()))


@pytest.fixture(name="stage")
def stage_fixture(tmp_path: Path, sink: OscSink) -> Server:
    """All three voices on untrained models; presets kept under tmp_path."""
    patch = tmp_path / "stage.toml"
    patch.write_text((PATCHES / "stage.toml").read_text())
    srv = start_server("--osc-out", sink.target, patch=patch)
    yield srv
    assert srv.stop() == 0


def to_server(srv: Server, run: MaxRun) -> None:
    """What reached [udpsend], as Max's udpsend sends it (int i, float f, symbol s)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for address, *args in run.sent:
            s.sendto(osc(address, *args), srv.osc)
    run.sent.clear()


def test_every_address_it_sends_exists(stage: Server) -> None:
    run = MaxRun(load())
    for box_id, box in run.boxes.items():  # press every message box, move every slider
        if box["maxclass"] == "message" and box["text"].startswith("/"):
            run.inlet(box_id, 0, ["bang"])
        elif box["maxclass"] in ("slider", "number") and any(
                run.boxes[d].get("text", "").startswith("prepend /") or run.boxes[d]["maxclass"] == "flonum"
                for d, _ in run.wires[(box_id, 0)]):
            run.inlet(box_id, 0, [box.get("min", 0) + 0.5 * box.get("size", 1)])
    for box_id in [b for b, box in run.boxes.items() if box["maxclass"] == "message"
                   and box["text"] in ("walk", "loop", "hold", "xy")]:
        run.inlet(box_id, 0, ["bang"])
    addresses = {m[0] for m in run.sent}
    params = {p["path"] for p in stage.get_json("/schema")["params"]}
    control = documented_control_addresses()
    assert {"/preset/store", "/preset/recall", "/preset/morph", "/learn/start", "/learn/save"} <= control
    assert addresses - params - control == set()
    assert {"/visual/speed", "/visual/truncation", "/music/temperature", "/clock/bpm", "/visual/mode",
            "/preset/morph", "/preset/store", "/preset/recall", "/learn/start", "/learn/save"} <= addresses


def test_sliders_and_the_morph_move_the_server(stage: Server) -> None:
    run = MaxRun(load())
    speed = run.find("slider", near="/visual/speed")
    run.inlet(speed, 0, [1.0])
    run.inlet(run.find("message", "/preset/store calm"), 0, ["bang"])
    run.inlet(speed, 0, [5.0])
    run.inlet(run.find("number", near="/clock/bpm"), 0, [150])
    run.inlet(run.find("message", "loop"), 0, ["bang"])
    run.inlet(run.find("message", "/preset/store wild"), 0, ["bang"])
    to_server(stage, run)
    poll_until(lambda: stage.param("/visual/speed") == 5.0 and stage.param("/clock/bpm") == 150, 10)
    assert stage.param("/visual/mode") == "loop"

    run.inlet(run.find("message", "/preset/recall calm"), 0, ["bang"])
    to_server(stage, run)
    poll_until(lambda: stage.param("/visual/speed") == 1.0, 10)
    assert stage.param("/visual/speed") == 1.0

    run.inlet(run.find("slider", near="/preset/morph"), 0, [0.5])
    assert run.sent == [["/preset/morph", "calm", "wild", 0.5]]
    to_server(stage, run)
    poll_until(lambda: stage.param("/visual/speed") == 3.0, 10)
    assert stage.param("/visual/speed") == pytest.approx(3.0)

    run.inlet(run.find("slider", near="/music/temperature"), 0, [0.7])
    run.inlet(run.find("message", "/learn/start /visual/speed"), 0, ["bang"])
    run.inlet(run.find("message", "/learn/cancel"), 0, ["bang"])
    to_server(stage, run)
    poll_until(lambda: stage.param("/music/temperature") == 0.7, 10)
    assert stage.param("/music/temperature") == pytest.approx(0.7)


def test_notes_beats_and_words_from_the_server(stage: Server, sink: OscSink) -> None:
    sink.wait_for(lambda: sink.count("/music/note") >= 5 and sink.count("/clock/beat") >= 2
                  and sink.count("/text/word") >= 2, timeout=30)
    run = MaxRun(load())
    recv = run.find("newobj", "udpreceive 9001")
    items = list(sink.items)
    notes = [r for r in items if r.address == "/music/note"]
    for r in items:
        run.inlet(recv, 0, [r.address, *r.args])
    assert run.notes == [(r.args[0], r.args[1]) for r in notes]
    makenote = run.find("newobj", "makenote 100 250")
    assert run.state[(makenote, 2)] == pytest.approx(notes[-1].args[2] * 1000)
    beat = next(b for b, box in run.boxes.items() if box["maxclass"] == "number"
                and not run.wires.get((b, 0)))
    assert run.shown[beat] == [r for r in items if r.address == "/clock/beat"][-1].args[0]
    word = next(b for b, box in run.boxes.items() if box["maxclass"] == "message" and box["text"] == "")
    assert run.shown[word] == [r for r in items if r.address == "/text/word"][-1].args


def test_the_diagram_is_drawn_from_the_patch() -> None:
    """patches/max/livegen.svg is what diagram.py draws from livegen.maxpat today."""
    spec = importlib.util.spec_from_file_location("max_diagram", PATCH.with_name("diagram.py"))
    assert spec and spec.loader
    diagram = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(diagram)
    drawn = diagram.svg(PATCH.read_text())
    assert drawn == PATCH.with_suffix(".svg").read_text()
    assert "udpsend 127.0.0.1 9000" in drawn and drawn.count("<line") == len(load()["lines"])

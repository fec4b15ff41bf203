"""Faults through real server processes: a corrupt or truncated weights file, a missing model,
a corrupt or locked state database refused at start with the file named (exit 2, no traceback);
a patch naming corrupt weights refused on hot reload while the running one plays on; SIGKILL
loses no acknowledged like and under a second of the recording, and a torn last line of
events.jsonl still rebuilds the MIDI file. (The voice supervisor: test_supervisor.py.)"""

from __future__ import annotations

import os
import socket
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path

import pretty_midi
import pytest
from pythonosc.osc_message import OscMessage
from safetensors.torch import save_file

from bench.sigkill_loss import kill_once
from live.record.recorder import read_events
from models import weights
from models.gan import GANConfig, Generator
from tests.conftest import poll_until
from tests.livetools import OscSink, osc, replay, send
from tests.test_app import start_fails, visual, write_patch


def tiny(folder: Path, name: str = "tiny") -> Path:
    """A small generator's weights and card in folder: the stem."""
    cfg = GANConfig(resolution=32, g_base=4, g_max=16)
    weights.save(Generator(cfg), str(folder / name), {"kind": "gan", "arch": cfg.to_dict(), "name": name})
    return folder / name


def corrupt(stem: Path, how: str) -> None:
    """Damage a safetensors file the ways a disk or a copy does."""
    st = stem.with_suffix(".safetensors")
    good = st.read_bytes()
    header = struct.unpack("<Q", good[:8])[0]
    if how == "truncated":
        st.write_bytes(good[: len(good) // 2])
    elif how == "garbage":
        st.write_bytes(os.urandom(len(good)))
    elif how == "header":
        st.write_bytes(good[:8] + b"{" * header + good[8 + header:])
    elif how == "empty":
        st.write_bytes(b"")
    elif how == "flipped":  # the data region's bytes inverted: the header still parses
        st.write_bytes(good[: 8 + header] + bytes(b ^ 0xFF for b in good[8 + header:]))
    elif how == "nan":
        state = {k: v.clone() for k, v in Generator(GANConfig(resolution=32, g_base=4, g_max=16))
                 .state_dict().items()}
        next(v for v in state.values() if v.is_floating_point()).view(-1)[0] = float("nan")
        save_file(state, str(st))


@pytest.mark.parametrize("how", ["truncated", "garbage", "header", "empty", "flipped", "nan"])
def test_corrupt_weights_refused_at_start_naming_the_file(tmp_path: Path, how: str) -> None:
    stem = tiny(tmp_path)
    corrupt(stem, how)
    err = start_fails(write_patch(tmp_path, visual(str(stem))))
    assert "tiny.safetensors" in err and "corrupt" in err, err
    assert err.count("\n") == 1, err  # one line


def test_a_missing_model_lists_the_models_there_are(tmp_path: Path) -> None:
    err = start_fails(write_patch(tmp_path, visual("nosuchmodel")))
    assert "model 'nosuchmodel' not found" in err and "nosuchmodel.json" in err
    for name, kind in weights.available():
        assert f"{name} ({kind})" in err, err


def test_a_corrupt_state_database_is_refused_at_start(tmp_path: Path) -> None:
    patch = write_patch(tmp_path, visual("random"))
    state = tmp_path / ".livegen-state"
    state.mkdir()
    (state / "likes.sqlite").write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    err = start_fails(patch)
    assert f"{state / 'likes.sqlite'}" in err and "corrupt" in err, err
    # A real database cut short (a copy that stopped half way)
    (state / "likes.sqlite").unlink()
    db = sqlite3.connect(state / "presets.sqlite")
    db.execute("CREATE TABLE presets (name TEXT PRIMARY KEY, values_json TEXT)")
    db.executemany("INSERT INTO presets VALUES (?, ?)", [(f"p{i}", "x" * 500) for i in range(200)])
    db.commit()
    db.close()
    data = (state / "presets.sqlite").read_bytes()
    (state / "presets.sqlite").write_bytes(data[: len(data) // 3])
    err = start_fails(patch)
    assert "presets.sqlite" in err and "corrupt" in err, err


def test_a_locked_state_database_is_refused_at_start(tmp_path: Path) -> None:
    patch = write_patch(tmp_path, visual("random"))
    state = tmp_path / ".livegen-state"
    state.mkdir()
    path = state / "presets.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    holder = subprocess.Popen(  # another process holds the database locked for writing
        [sys.executable, "-c", "import sqlite3, sys, time; db = sqlite3.connect(sys.argv[1]); "
         "db.isolation_level = None; db.execute('BEGIN EXCLUSIVE'); print('held', flush=True); "
         "time.sleep(60)", str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        err = start_fails(patch)
    finally:
        holder.kill()
        holder.wait()
    assert str(path) in err and "locked by another process" in err, err


def ask(server_osc: tuple[str, int], address: str, *args: object) -> OscMessage:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(60)
        s.sendto(osc(address, *args), server_osc)
        return OscMessage(s.recvfrom(65536)[0])


def test_a_reload_naming_corrupt_weights_is_refused_and_the_patch_plays_on(run_server, sink: OscSink,
                                                                          tmp_path: Path) -> None:
    good = tiny(tmp_path, "good")
    bad = tiny(tmp_path, "bad")
    corrupt(bad, "flipped")
    body = visual(str(good), "fps = 20\n") + '\n[voices.music]\nkind = "music"\nmodel = "random"\n'
    path = write_patch(tmp_path, body)
    server = run_server(patch=path)
    sink.wait_for(lambda: sink.count("/music/noteon") >= 2)
    schema = [p for p in server.get_json("/schema")["params"] if not p.get("readonly")]
    path.write_text(body.replace(str(good), str(bad)))
    reply = ask(server.osc, "/patch/reload")
    assert reply.address == "/patch/error", list(reply.params)
    text = reply.params[0]
    assert str(path) in text and "bad.safetensors" in text and "corrupt" in text, text
    assert [p for p in server.get_json("/schema")["params"] if not p.get("readonly")] == schema
    status = server.get_json("/status")
    assert status["voices"]["visual"]["model"] == str(good)
    frames = status["voices"]["visual"]["frames"]
    n = sink.count("/music/noteon")
    poll_until(lambda: server.get_json("/status")["voices"]["visual"]["frames"] > frames + 10, 10)
    assert server.get_json("/status")["voices"]["visual"]["frames"] > frames + 10  # frames go on
    sink.wait_for(lambda: sink.count("/music/noteon") >= n + 4)  # and notes
    assert "corrupt" in server.get_json("/status")["patch"]["error"]
    # The live model switch refuses it too, and the running model plays on.
    assert send(server, "/visual/model", str(bad.with_suffix(".json")), reply=True) is None
    poll_until(lambda: server.get_json("/status")["voices"]["visual"]["switch_error"] is not None, 20)
    status = server.get_json("/status")["voices"]["visual"]
    assert "corrupt" in status["switch_error"] and status["model"] == str(good)


def test_sigkill_loses_no_acknowledged_like_and_under_a_second(tmp_path: Path) -> None:
    run = kill_once(tmp_path / "run", likes=10, play_s=2.0)
    assert run["likes_stored"] == run["likes_acked"] == 10, run
    assert run["osc_likes_stored"] == run["osc_likes_answered"] == 10, run
    assert run["notes_recorded"] > 0 and run["chars_recorded"] > 0, run
    assert run["note_loss_s"] < 1.0 and run["char_loss_s"] < 1.0, run
    assert run["midi_behind_s"] <= 1.5, run  # performance.mid: rewritten about once a second
    assert run["torn_lines"] <= 1, run
    # A torn last line (the kill in the middle of a write) is skipped: the MIDI file is rebuilt.
    rec = Path(run["folder"]) / "rec"
    events, _ = read_events(rec / "events.jsonl")
    notes = sum(e["type"] == "note" for e in events)
    with open(rec / "events.jsonl", "a", encoding="utf-8") as f:
        f.write('{"type":"note","voice":"music","id":99')
    code, summary = replay(rec, "--no-regenerate", "--out", str(tmp_path / "rebuilt.mid"))
    assert code == 0, summary
    assert summary["torn_lines"] >= 1 and summary["ended_cleanly"] is False
    assert summary["notes"] == notes
    rebuilt = pretty_midi.PrettyMIDI(str(tmp_path / "rebuilt.mid"))
    assert sum(len(i.notes) for i in rebuilt.instruments) == notes
    # ... and the models regenerate every recorded note from the log, torn line and all.
    code, summary = replay(rec, "--check")
    assert code == 0, summary
    assert summary["music"]["music"]["identical"] == notes

"""What a SIGKILL loses: `python -m bench.sigkill_loss [--kills N] [--json]`.

Starts the real server recording (music at 240 bpm and text at 40 characters a second, OSC out
to a socket of ours), takes music likes over OSC (answered by the next message's reply) and
likes over a WebSocket until the last is acknowledged, and SIGKILLs the server at once. Then it
compares what left the server before the kill (the notes and characters the OSC socket
received) with what the recording holds (events.jsonl), and the answered likes with the
databases (likes.sqlite for the WebSocket's, recommend.sqlite for OSC's). The loss is how long
before the kill the first sent-but-unrecorded note or character went out (0 when nothing is
missing); every acknowledged like must be stored.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import pretty_midi
from pythonosc.osc_message import OscMessage
from websockets.sync.client import connect

from live.record.recorder import read_events
from tests.conftest import start_server
from tests.livetools import MUSIC, OscSink, osc


def loss_s(sent: list[float], recorded: int, killed: float) -> float:
    """Seconds before the kill that the first sent message missing from the recording went out."""
    missing = len(sent) - recorded
    return killed - sent[-missing] if missing > 0 else 0.0


def osc_likes_answered(server: tuple[str, int], n: int) -> int:
    """Send n `/music/like` over OSC, then `/status/subscribe`; OSC in handles one message after
    another, so its answer says every like before it was handled (OSC likes have no answer of
    their own). The likes sent."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(10)
        for _ in range(n):
            s.sendto(osc("/music/like"), server)
        s.sendto(osc("/status/subscribe"), server)
        while True:
            msg = OscMessage(s.recvfrom(65536)[0])
            assert msg.address != "/error", msg.params
            if msg.address == "/status/subscribed":
                return n


def count(path: Path, query: str) -> int:
    """One number from a database."""
    db = sqlite3.connect(path)
    try:
        return int(db.execute(query).fetchone()[0])
    finally:
        db.close()


def kill_once(folder: Path, likes: int = 10, play_s: float = 3.0) -> dict[str, Any]:
    """One performance killed right after its last acknowledged like; what the kill lost."""
    folder.mkdir(parents=True, exist_ok=True)
    patch = folder / "patch.toml"  # its state folder (likes.sqlite) is beside it
    patch.write_text(MUSIC.read_text())
    rec = folder / "rec"
    sink = OscSink()
    try:
        srv = start_server("--osc-out", sink.target, "--record", str(rec), patch=patch)
        sink.wait_for(lambda: sink.count("/music/note") >= 10, 30)
        time.sleep(play_s)
        osc_likes = osc_likes_answered(srv.osc, likes)
        acked = 0
        with connect(srv.ws, max_size=None) as ws:
            ws.send(json.dumps({"op": "subscribe", "topics": []}))
            for i in range(likes):
                ws.send(json.dumps({"op": "like", "note": f"like {i}", "id": i}))
                while True:  # frames and other messages pass by: wait for this like's answer
                    reply = ws.recv(timeout=10)
                    if isinstance(reply, str) and json.loads(reply).get("id") == i:
                        break
                assert json.loads(reply)["op"] == "ack", reply
                acked += 1
            srv.proc.send_signal(signal.SIGKILL)  # at once after the last acknowledgement
            killed = time.monotonic()
        srv.proc.wait(10)
        time.sleep(0.5)
        sent = {a: [r.at for r in list(sink.items) if r.address == a and r.at <= killed]
                for a in ("/music/note", "/text/char")}
    finally:
        sink.close()
    events, torn = read_events(rec / "events.jsonl")
    notes = sum(e["type"] == "note" for e in events)
    chars = sum(e["type"] == "text" and e["kind"] == "char" for e in events)
    state = patch.parent / ".livegen-state"
    stored = count(state / "likes.sqlite", "SELECT COUNT(*) FROM likes")
    osc_stored = count(state / "recommend.sqlite",
                       "SELECT COUNT(*) FROM moments WHERE voice = 'music' AND liked = 1")
    last_t = max((e["t"] for e in events if isinstance(e.get("t"), (int, float))), default=0.0)
    # performance.mid is rewritten about once a second: how far behind the events it was left
    left = [n.start for i in pretty_midi.PrettyMIDI(str(rec / "performance.mid")).instruments
            for n in i.notes]
    last_note = max((e["t"] for e in events if e["type"] == "note"), default=0.0)
    return {"notes_sent": len(sent["/music/note"]), "notes_recorded": notes,
            "chars_sent": len(sent["/text/char"]), "chars_recorded": chars, "torn_lines": torn,
            "note_loss_s": round(loss_s(sent["/music/note"], notes, killed), 4),
            "char_loss_s": round(loss_s(sent["/text/char"], chars, killed), 4),
            "likes_acked": acked, "likes_stored": stored,
            "osc_likes_answered": osc_likes, "osc_likes_stored": osc_stored, "last_event_t": last_t,
            "midi_behind_s": round(last_note - max(left, default=0.0), 4),
            "folder": str(folder)}


def main(argv: list[str] | None = None) -> int:
    """Kill N performances; print each and the worst."""
    ap = argparse.ArgumentParser(prog="python -m bench.sigkill_loss", description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print the runs as JSON")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="livegen-sigkill-") as tmp:
        runs = [kill_once(Path(tmp) / f"run{k}") for k in range(args.kills)]
    worst = max(max(r["note_loss_s"], r["char_loss_s"]) for r in runs)
    summary = {"kills": len(runs), "worst_loss_s": worst,
               "median_note_loss_s": statistics.median(r["note_loss_s"] for r in runs),
               "notes_missing": sum(r["notes_sent"] - r["notes_recorded"] for r in runs),
               "chars_missing": sum(r["chars_sent"] - r["chars_recorded"] for r in runs),
               "likes_acked": sum(r["likes_acked"] for r in runs),
               "likes_lost": sum(r["likes_acked"] - r["likes_stored"] for r in runs),
               "osc_likes_answered": sum(r["osc_likes_answered"] for r in runs),
               "osc_likes_lost": sum(r["osc_likes_answered"] - r["osc_likes_stored"] for r in runs),
               "torn_lines": sum(r["torn_lines"] for r in runs),
               "worst_midi_behind_s": max(r["midi_behind_s"] for r in runs)}
    if args.json:
        print(json.dumps({"summary": summary, "runs": runs}, indent=1))
    else:
        for r in runs:
            print(f"notes {r['notes_recorded']}/{r['notes_sent']} (loss {r['note_loss_s']} s), "
                  f"chars {r['chars_recorded']}/{r['chars_sent']} (loss {r['char_loss_s']} s), "
                  f"likes {r['likes_stored']}/{r['likes_acked']} (OSC {r['osc_likes_stored']}/"
                  f"{r['osc_likes_answered']}), torn {r['torn_lines']}")
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

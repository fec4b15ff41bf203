"""Note timing under full visual load: `python -m bench.note_timing [--seconds S] [--json]`.

Starts the real server with a visual voice rendering as fast as it can (and a WebSocket
client reading every frame), a music voice and a text voice, then measures:
- immediate mode: |send - due| of every note message, in the server (the scheduler's own
  figures) and at a UDP receiver here (arrival - due, loopback included), due times taken
  from the WebSocket note messages;
- timetag mode: whether every bundle's timetag is exactly on the clock's grid;
- generation speed of both voices, as multiples of real time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from typing import Any

from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from websockets.asyncio.client import connect

from bench.machine import ROOT, info
from bench.stats import percentile

NTP_UNIT = 2**32
PATCH = """
[clock]
bpm = {bpm}

[voices.visual]
kind = "visual"
model = "random"
resolution = {resolution}
fps = 240            # as fast as the engine can render: full load

[voices.music]
kind = "music"
model = "{music_model}"
lookahead_beats = 1.0
delivery = "immediate"
temperature = 1.0
density = {density}

[voices.text]
kind = "text"
model = "{text_model}"
rate = 20
"""


class Receiver:
    """A UDP OSC receiver in a process of its own (so this process's GIL cannot delay its clock).

    It records the arrival time (Unix s) and pitch of each /music/noteon, and every bundle's
    timetag; `collect()` returns them so far.
    """

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.note_timing", "--receive"],
                                     cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.port = int(self.proc.stdout.readline())

    def collect(self) -> tuple[list[tuple[float, int]], list[int]]:
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        data = json.loads(self.proc.stdout.readline())
        return [tuple(x) for x in data["noteons"]], data["timetags"]

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def receive() -> int:
    """The receiver process: print the port, then dump what arrived on each line of stdin."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind(("127.0.0.1", 0))
    noteons: list[tuple[float, int]] = []
    timetags: list[int] = []

    def run() -> None:
        # The instrument must not be the bottleneck: real-time priority where allowed.
        with contextlib.suppress(OSError, AttributeError):
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        while True:
            data, _ = sock.recvfrom(65536)
            now = time.time()
            if data.startswith(b"#bundle"):
                tag = struct.unpack(">Q", data[8:16])[0]
                timetags.extend(tag for m in OscBundle(data) if m.address.startswith("/music/note"))
            elif data.startswith(b"/music/noteon"):
                noteons.append((now, OscMessage(data).params[0]))

    threading.Thread(target=run, daemon=True).start()
    print(sock.getsockname()[1], flush=True)
    for _ in sys.stdin:
        print(json.dumps({"noteons": noteons, "timetags": timetags}), flush=True)
    return 0


def osc_send(port: int, address: str, *args: Any) -> None:
    """Send one OSC message to a UDP port on this machine."""
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b.build().dgram, ("127.0.0.1", port))


def get_json(port: int, path: str) -> Any:
    """GET a path from the server's HTTP port and decode the JSON reply."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


async def read_ws(port: int, notes: list[dict], frames: list[float], stop: asyncio.Event) -> None:
    """Subscribe to frames and notes; record each frame's arrival time and each note until stopped."""
    async with connect(f"ws://127.0.0.1:{port}/ws", compression=None,
                       max_size=64 * 1024 * 1024) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topics": ["frames", "notes"]}))
        while not stop.is_set():
            try:
                msg = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            if isinstance(msg, bytes):
                frames.append(time.time())
            else:
                data = json.loads(msg)
                if data.get("op") == "note":
                    notes.append(data)


def dist_ms(values: list[float]) -> dict[str, Any]:
    """Count, p50, p99 and max of the values' magnitudes, in ms."""
    if not values:
        return {"n": 0}
    ms = [abs(v) * 1000 for v in values]
    return {"n": len(ms), "p50": round(percentile(ms, 50), 4), "p99": round(percentile(ms, 99), 4),
            "max": round(max(ms), 4)}


def on_grid(tags: list[int], clock: dict[str, Any], steps_per_beat: int = 12) -> tuple[int, int]:
    """How many timetags are exactly the NTP value of a grid point of the clock's tempo map."""
    segs = [(Fraction(b), int(t), Fraction(bpm)) for b, t, bpm in clock["segments"]]
    ok = 0
    for tag in tags:
        ticks = tag - clock["origin_ntp"]
        _, t0, bpm = [s for s in segs if s[1] <= ticks][-1]
        k = round((ticks - t0) * bpm * steps_per_beat / (60 * NTP_UNIT))
        ok += t0 + round(Fraction(k, steps_per_beat) * 60 * NTP_UNIT / bpm) == ticks
    return ok, len(tags)


def music_seconds(gen: Any, style: str, beats: int) -> float:
    """Seconds a music generator takes to write this many beats, after one warm-up beat."""
    from live.voices.music_gen import Settings

    gen.restart(0, style)
    gen.run(Settings(), until=12)  # one beat of 12 steps, to warm up
    t0 = time.perf_counter()
    gen.run(Settings(), until=gen.cursor + 12 * beats)
    return time.perf_counter() - t0


def text_seconds(gen: Any, chars: int) -> float:
    """Seconds a text generator takes to write this many characters."""
    gen.restart("")
    t0 = time.perf_counter()
    for _ in range(chars):
        gen.step(0.8, 0.95)
    return time.perf_counter() - t0


def offline_speed(music_model: str, text_model: str) -> dict[str, Any]:
    """Generation speed at batch 1 in this process (one thread), as multiples of real time."""
    import torch

    from live.voices.music_gen import MusicGen, load_music_model
    from live.voices.text import TextGen, load_text_model

    torch.set_num_threads(1)
    out: dict[str, Any] = {}
    with torch.inference_mode():
        model, _ = load_music_model({"model": music_model}, torch.device("cpu"))
        dt = music_seconds(MusicGen(model, "music", 0), model.cfg.styles[0], beats=64)
        out["music"] = {"model": music_model, "beats": 64, "seconds": round(dt, 4),
                        "x_real_time_at_120bpm": round(64 * 0.5 / dt, 1)}  # a beat is 0.5 s
        tmodel, _ = load_text_model({"model": text_model}, torch.device("cpu"))
        dt = text_seconds(TextGen(tmodel, "text", 0), chars=2000)
        out["text"] = {"model": text_model, "chars_per_s": round(2000 / dt, 1),
                       "x_real_time_at_12cps": round(2000 / dt / 12, 1)}
        out["full_size"] = full_size_speed()
    return out


def full_size_speed() -> dict[str, Any]:
    """The same at the default (shipped) architecture sizes, random weights: what trained
    models will cost, whatever weights are installed."""
    import string

    import torch

    from live.voices.music_gen import MusicGen
    from live.voices.text import TextGen
    from models.music_data import COLLECTIONS
    from models.music_rnn import MusicConfig, MusicRNN
    from models.text_rnn import TextConfig, TextRNN

    torch.manual_seed(0)
    music = MusicRNN(MusicConfig(styles=list(COLLECTIONS))).eval()
    music_dt = music_seconds(MusicGen(music, "music", 0), "bach", beats=32)
    text = TextRNN(TextConfig(vocab="\n" + string.printable[:94])).eval()
    text_dt = text_seconds(TextGen(text, "text", 0), chars=1000)
    return {"music_arch": MusicConfig().to_dict() | {"styles": len(COLLECTIONS)},
            "music_x_real_time_at_120bpm": round(32 * 0.5 / music_dt, 1),
            "text_arch": {k: v for k, v in TextConfig(vocab="ab").to_dict().items() if k != "vocab"},
            "text_chars_per_s": round(1000 / text_dt, 1),
            "text_x_real_time_at_12cps": round(1000 / text_dt / 12, 1)}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the server under full visual load and time its notes in immediate and timetag mode."""
    rx = Receiver()
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(PATCH.format(bpm=args.bpm, resolution=args.resolution, density=args.density,
                             music_model=args.music_model, text_model=args.text_model))
        patch = f.name
    log = tempfile.NamedTemporaryFile("w+", prefix="note-timing-", suffix=".log")
    proc = subprocess.Popen([sys.executable, str(ROOT / "server.py"), "--patch", patch, "--port",
                             "0", "--osc-port", "0", "--oscquery-port", "0",
                             "--osc-out", f"127.0.0.1:{rx.port}"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert proc.stdout is not None
        ready = json.loads(await asyncio.to_thread(proc.stdout.readline) or "{}")
        if ready.get("event") != "ready":
            log.seek(0)
            raise RuntimeError("server did not start:\n" + log.read()[-2000:])
        http, osc = ready["http_port"], ready["osc_port"]
        notes: list[dict] = []
        frames: list[float] = []
        stop = asyncio.Event()
        reader = asyncio.create_task(read_ws(http, notes, frames, stop))
        await asyncio.sleep(args.settle)
        n0, a0, f0 = len(notes), len(rx.collect()[0]), len(frames)
        t0 = time.time()
        await asyncio.sleep(args.seconds)
        t1 = time.time()
        status = await asyncio.to_thread(get_json, http, "/status")
        await asyncio.sleep(0.5)  # let the notes of the window arrive on both paths
        # Pair each OSC note-on with its WebSocket note (same order, same pitch): due vs arrival.
        pairs = list(zip(rx.collect()[0][a0:], notes[n0:], strict=False))
        matched = [(arr, n["time"]) for (arr, pitch), n in pairs if pitch == n["pitch"]]
        arrival_late = [arr - due for arr, due in matched]
        immediate = {
            "window_s": round(t1 - t0, 2),
            "notes": len(matched), "unmatched": len(pairs) - len(matched),
            "server_abs_send_minus_due_ms": status["note_sender"].get("abs_late_ms"),
            "server_measured_messages": status["note_sender"].get("measured"),
            "receiver_abs_arrival_minus_due_ms": dist_ms(arrival_late),
            "scheduler_priority": status["note_sender"].get("priority"),
            "visual_fps": round((len(frames) - f0) / (t1 - t0), 1),
            "visual_status": status["voices"]["visual"],
        }
        # Timetag mode: every bundle's timetag on the grid, across a tempo change.
        osc_send(osc, "/music/delivery", "timetag")
        await asyncio.sleep(1.0)
        k0 = len(rx.collect()[1])
        await asyncio.sleep(args.seconds / 2)
        osc_send(osc, "/clock/bpm", float(args.bpm) * 1.25)
        await asyncio.sleep(args.seconds / 2)
        clock = (await asyncio.to_thread(get_json, http, "/status"))["clock"]
        tags = rx.collect()[1][k0:]
        ok, total = on_grid(tags, clock)
        final = await asyncio.to_thread(get_json, http, "/status")
        stop.set()
        await reader
        return {
            "machine": info("cpu"),
            "settings": vars(args),
            "immediate": immediate,
            "timetag": {"bundled_messages": total, "exactly_on_grid": ok,
                        "tempo_segments": len(clock["segments"])},
            "generation_in_server": {
                "music_x_real_time": final["voices"]["music"].get("gen_speed_x"),
                "text_x_real_time": final["voices"]["text"].get("gen_speed_x"),
                "music_trained": final["voices"]["music"]["trained"],
                "text_trained": final["voices"]["text"]["trained"]},
        }
    finally:
        rx.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        os.unlink(patch)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with --receive, the receiver); a summary unless --json, then the JSON."""
    ap = argparse.ArgumentParser(prog="python -m bench.note_timing",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="measuring window per mode")
    ap.add_argument("--settle", type=float, default=3.0)
    ap.add_argument("--bpm", type=float, default=120.0)
    ap.add_argument("--resolution", type=int, default=128, help="visual voice resolution")
    ap.add_argument("--density", type=float, default=0.0)
    ap.add_argument("--music-model", default="random")
    ap.add_argument("--text-model", default="random")
    ap.add_argument("--json", action="store_true", help="only the JSON object")
    ap.add_argument("--receive", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.receive:
        return receive()
    result = asyncio.run(run(args))
    result["offline_generation"] = offline_speed(args.music_model, args.text_model)
    if not args.json:
        im, tt = result["immediate"], result["timetag"]
        srv, rcv = im["server_abs_send_minus_due_ms"] or {}, im["receiver_abs_arrival_minus_due_ms"]
        m = result["machine"]
        print(f"machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, commit {m['commit']}")
        print(f"visual load: {im['visual_fps']} frames/s read over WebSocket at "
              f"{args.resolution} px; scheduler {im['scheduler_priority']}")
        print(f"immediate: {im['notes']} notes; |send-due| in server p50 {srv.get('p50')} ms, "
              f"p99 {srv.get('p99')} ms, max {srv.get('max')} ms "
              f"({im['server_measured_messages']} messages)")
        print(f"           |arrival-due| at receiver p50 {rcv.get('p50')} ms, p99 {rcv.get('p99')} ms,"
              f" max {rcv.get('max')} ms")
        print(f"timetag:   {tt['exactly_on_grid']}/{tt['bundled_messages']} timetags exactly on the "
              f"grid across {tt['tempo_segments']} tempo segments")
        g, o = result["generation_in_server"], result["offline_generation"]
        print(f"generation: in server music {g['music_x_real_time']}x, text {g['text_x_real_time']}x"
              f" real time; offline music {o['music']['x_real_time_at_120bpm']}x, text "
              f"{o['text']['x_real_time_at_12cps']}x ({o['text']['chars_per_s']} chars/s)")
        fs = o["full_size"]
        print(f"            default-size nets (random weights): music "
              f"{fs['music_x_real_time_at_120bpm']}x, text {fs['text_x_real_time_at_12cps']}x "
              f"({fs['text_chars_per_s']} chars/s), one thread")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

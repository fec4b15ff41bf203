"""Voice faults, measured: `python -m bench.supervisor_faults [--json]`.

Three runs of the real server (a 64 px visual voice at 15 fps, music at 240 bpm, text at 40
characters a second), each with one fault injected by LIVEGEN_FAULT (live/voices/supervisor.py):
- music:40:1 — the music model raises once: how long the music is silent, and whether the
  picture and the text pause;
- text:5:99 — the text model raises on every run: the backoffs between failure and restart as
  the status feed reports them (/status/voice), the time to park, and the other voices meanwhile;
- visual:20:1:exit — the engine thread dies in a forward pass: how long the picture is missing
  and whether the music and text, on the same thread, pause.
A pause is the longest gap between arrivals (WebSocket frames, OSC notes and characters) in the
window from the first failure to a second after the voice is back (or parked).
"""

from __future__ import annotations

import argparse
import json
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

from live.frames import unpack
from tests.conftest import Server, poll_until, start_server
from tests.livetools import MUSIC, OscSink, osc

PATCH = MUSIC.read_text() + """
[voices.visual]
kind = "visual"
model = "random"
resolution = 64
fps = 15
"""


class FrameLog:
    """Arrival times (monotonic) of every binary frame on a WebSocket, read on a thread."""

    def __init__(self, server: Server) -> None:
        self.url = server.ws
        self.times: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        poll_until(lambda: len(self.times) > 0, timeout=20)
        assert self.times, "no frame came"

    def _run(self) -> None:
        with connect(self.url, max_size=None) as ws:
            while not self._stop.is_set():
                try:
                    msg = ws.recv(timeout=0.5)
                except TimeoutError:
                    continue
                if isinstance(msg, bytes):
                    unpack(msg)
                    self.times.append(time.monotonic())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)


def subscribe(server: Server, sink: OscSink) -> None:
    """The sink gets the status feed (/status/error, /status/voice ...)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(osc("/status/subscribe", sink.port), server.osc)
    sink.wait_for(lambda: sink.count("/status/subscribed") > 0, 10)


def longest_gap(times: list[float], start: float, end: float) -> float:
    """The longest pause between arrivals in [start, end], its ends included."""
    inside = [start, *(t for t in times if start <= t <= end), end]
    return max(b - a for a, b in zip(inside, inside[1:], strict=False))


def arrivals(sink: OscSink, address: str) -> list[float]:
    """When each message to `address` came, in order."""
    return [r.at for r in list(sink.items) if r.address == address]


def one_run(folder: Path, fault: str, voice: str, until: str) -> dict[str, Any]:
    """Serve with one fault until `voice` is `until` (running again, or parked); the figures."""
    folder.mkdir(parents=True, exist_ok=True)
    patch = folder / "patch.toml"
    patch.write_text(PATCH)
    sink = OscSink()
    srv = start_server("--osc-out", sink.target, patch=patch, env={"LIVEGEN_FAULT": fault})
    try:
        subscribe(srv, sink)
        frames = FrameLog(srv)

        def states() -> list[tuple[float, list[Any]]]:
            return [(r.at, r.args) for r in list(sink.items)
                    if r.address == "/status/voice" and r.args[0] == voice]

        def done() -> bool:
            s = states()
            return bool(s) and s[-1][1][1] == until and (until == "parked" or len(s) >= 2)

        poll_until(done, timeout=60, step=0.05)
        time.sleep(1.0)
        end = time.monotonic()
        frames.close()
        status = srv.get_json("/status")
        srv.stop()
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
        sink.close()
    seen = states()
    assert seen and seen[-1][1][1] == until, seen
    first = seen[0][0]
    backoffs = [round(b[0] - a[0], 3) for a, b in zip(seen, seen[1:], strict=False)
                if a[1][1] == "restarting" and b[1][1] in ("running",)]
    return {
        "fault": fault, "voice": voice, "events": [[round(t - first, 3), *a[1:3]] for t, a in seen],
        "restart_delays_s": backoffs, "first_failure_to_end_s": round(seen[-1][0] - first, 3),
        "supervision": status["voices"][voice]["supervision"],
        "engine_restarts": status["supervisor"]["engine_restarts"],
        "longest_pause_s": {
            "frames": round(longest_gap(frames.times, first, end), 3),
            "notes": round(longest_gap(arrivals(sink, "/music/noteon"), first, end), 3),
            "chars": round(longest_gap(arrivals(sink, "/text/char"), first, end), 3)},
    }


def main(argv: list[str] | None = None) -> int:
    """The three runs; a line each, then JSON."""
    ap = argparse.ArgumentParser(prog="python -m bench.supervisor_faults",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print only the JSON")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="livegen-faults-") as tmp:
        runs = [one_run(Path(tmp) / "music", "music:40:1", "music", "running"),
                one_run(Path(tmp) / "text", "text:5:99", "text", "parked"),
                one_run(Path(tmp) / "engine", "visual:20:1:exit", "visual", "running")]
    if not args.json:
        for r in runs:
            print(f"{r['fault']}: restart delays {r['restart_delays_s']} s, first failure to "
                  f"{r['supervision']['state']} {r['first_failure_to_end_s']} s, longest pauses "
                  f"{r['longest_pause_s']}, engine restarts {r['engine_restarts']}")
    print(json.dumps(runs, indent=None if not args.json else 1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

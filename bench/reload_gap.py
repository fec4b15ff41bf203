"""Reload gap: `python -m bench.reload_gap [--reloads N] [--json]`.

Starts the real server with a visual voice (untrained, 64 px, 30 fps) and a music voice, a
WebSocket client reading every frame and a UDP socket reading every OSC note and beat. Then it
reloads the patch N times over OSC (`/patch/reload`), alternating between the patch as started
and one that changes a value and adds a second visual and a second music voice (so every other
reload builds two voices and the next removes them). For each reload it reports how long the
server took to answer, the longest pause of the kept frame stream and of the `/clock/beat`
pulses in the second around it, beside the same figures in quiet seconds between reloads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from bench.clients import FrameReader
from bench.machine import info
from bench.procs import ServerProcess

BASE = """
[server]
oscquery_port = 0    # any free port: never collide with a running server's 8766
watch = false        # reloaded over OSC only, so each one is timed

[clock]
bpm = 240            # a beat every 250 ms: a pause shows

[voices.visual]
kind = "visual"
model = "random"
resolution = 64
fps = 30

[voices.music]
kind = "music"
model = "random"
"""

GROWN = BASE.replace("fps = 30", "fps = 30\nspeed = 2.0") + """
[voices.echo]
kind = "visual"
model = "random"
resolution = 64
fps = 30

[voices.bass]
kind = "music"
model = "random"
channel = 2
"""


class OscLog:
    """Every OSC message the server sends out, with its arrival time (Unix s)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.items: list[tuple[float, str]] = []
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self.sock.recvfrom(65536)
            except (TimeoutError, OSError):
                continue
            if data.startswith(b"#bundle"):
                continue  # timetag delivery is not used here
            self.items.append((time.time(), OscMessage(data).address))

    def times(self, address: str, t0: float, t1: float) -> list[float]:
        return [t for t, a in self.items if a == address and t0 <= t < t1]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)


def ask_reload(target: tuple[str, int]) -> tuple[str, float]:
    """Send /patch/reload and wait for the answer: its address and the seconds it took."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(60)
        t0 = time.perf_counter()
        s.sendto(OscMessageBuilder("/patch/reload").build().dgram, target)
        data, _ = s.recvfrom(65536)
        return OscMessage(data).address, time.perf_counter() - t0


def longest_gap(times: list[float]) -> float | None:
    """The longest pause between consecutive times (None for fewer than two)."""
    return max((b - a for a, b in zip(times, times[1:], strict=False)), default=None)


def ms(x: float | None) -> float | None:
    """Seconds as milliseconds, one decimal."""
    return None if x is None else round(1000 * x, 1)


async def run(reloads: int, quiet_s: float) -> dict[str, Any]:
    """Every reload on one server."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        patch = Path(tmp) / "reload.toml"
        patch.write_text(BASE)
        async with ServerProcess(patch) as server:
            log = OscLog(server.osc_sink)
            reader = FrameReader(server.port)
            await reader.start()
            try:
                await asyncio.sleep(2.0)  # settle
                for k in range(reloads):
                    q0 = time.time()
                    await asyncio.sleep(quiet_s)
                    t0 = time.time()
                    patch.write_text(GROWN if k % 2 == 0 else BASE)
                    answer, took = await asyncio.to_thread(ask_reload, server.osc)
                    await asyncio.sleep(1.0)
                    t1 = time.time()
                    frames = [a.t for a in reader.arrivals if a.stream == 0]
                    rows.append({
                        "reload": k + 1, "to": "grown" if k % 2 == 0 else "base", "answer": answer,
                        "answer_ms": ms(took),
                        "frame_gap_ms": ms(longest_gap([t for t in frames if t0 - 0.5 <= t < t1])),
                        "quiet_frame_gap_ms": ms(longest_gap([t for t in frames if q0 <= t < t0 - 0.5])),
                        "beat_gap_ms": ms(longest_gap(log.times("/clock/beat", t0 - 0.5, t1))),
                        "quiet_beat_gap_ms": ms(longest_gap(log.times("/clock/beat", q0, t0 - 0.5))),
                        "notes": len(log.times("/music/noteon", t0 - 0.5, t1))})
            finally:
                await reader.close()
                log.close()
    gaps = [r["frame_gap_ms"] for r in rows if r["frame_gap_ms"] is not None]
    return {"machine": info("cpu"), "reloads": rows, "frame_interval_ms": round(1000 / 30, 1),
            "frame_gap_ms_median": statistics.median(gaps) if gaps else None,
            "frame_gap_ms_max": max(gaps) if gaps else None}


def table(result: dict[str, Any]) -> str:
    """The reloads as a Markdown table."""
    lines = ["| reload | to | answer | answer ms | longest frame gap ms (quiet) "
             "| longest beat gap ms (quiet) | notes in the window |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in result["reloads"]:
        lines.append(f"| {r['reload']} | {r['to']} | {r['answer']} | {r['answer_ms']} | "
                     f"{r['frame_gap_ms']} ({r['quiet_frame_gap_ms']}) | {r['beat_gap_ms']} "
                     f"({r['quiet_beat_gap_ms']}) | {r['notes']} |")
    lines.append(f"\nframe interval {result['frame_interval_ms']} ms; longest frame gap over the "
                 f"reloads: median {result['frame_gap_ms_median']} ms, max {result['frame_gap_ms_max']} ms")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    p = argparse.ArgumentParser(prog="python -m bench.reload_gap", description=__doc__)
    p.add_argument("--reloads", type=int, default=6, help="how many reloads")
    p.add_argument("--quiet", type=float, default=2.0, help="seconds between reloads")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = p.parse_args(argv)
    result = asyncio.run(run(args.reloads, args.quiet))
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(json.dumps(result["machine"]))
        print(table(result))


if __name__ == "__main__":
    main()

"""Soak: `python -m bench.soak [--minutes 10] [--clients 8] [--reload-every 60] [--json]`.

Runs the real server with a visual, a music and a text voice for a long stretch, as an
installation does: 8 WebSocket clients read every frame, a steady OSC control stream (20
messages a second: speed and temperature moving) plays on it, and the patch file is changed
and reloaded over OSC every minute (alternately a value changed and a second visual voice
added, then back). Every 5 s it samples the server's resident memory, its task, thread and
file-descriptor counts (/status `process`), every client's frame rate, and the note sender's
timing (p99 |send - due|). It reports the memory growth from the first sample after warm-up
to the last, the frame rate's spread across windows, note timing at the start and the end,
the reloads that succeeded, and the warnings and errors in the server's log. tests/test_soak.py
runs 60 seconds of it in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import socket
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder

from bench.clients import FrameReader
from bench.fuzz import PATCH as FUZZ_PATCH
from bench.fuzz import Http
from bench.machine import info
from bench.procs import ServerProcess

# The fuzz's three voices (watch off: reloaded over OSC, so that each reload is counted).
PATCH = FUZZ_PATCH
# Every other reload: a value changed and a voice added (built while the rest plays), then back.
GROWN = PATCH.replace("fps = 30", "fps = 30\ntruncation = 0.8") + """
[voices.echo]
kind = "visual"
model = "random"
resolution = 64
fps = 15
"""
SAMPLE_EVERY_S = 5.0
CONTROL_HZ = 20.0


@dataclass
class Sample:
    """One look at the server, SAMPLE_EVERY_S apart."""

    t: float  # seconds since the soak began
    rss_mib: float
    tasks: int
    threads: int
    fds: int
    fps_min: float  # the slowest client's frame rate of stream 0 over the window
    fps_max: float
    note_p99_ms: float | None


@dataclass
class Soak:
    """What a soak run found."""

    seconds: float
    clients: int
    controls_sent: int
    reloads_tried: int
    reloads_done: int
    reload_errors: list[str]
    samples: list[Sample] = field(default_factory=list)
    log_warnings: int = 0
    log_errors: int = 0
    log_excerpt: list[str] = field(default_factory=list)

    def memory_growth(self) -> float:
        """Resident memory at the end over the first sample after warm-up, minus 1."""
        warm = self.samples[min(2, len(self.samples) - 1)]  # the first seconds load lazily
        return self.samples[-1].rss_mib / warm.rss_mib - 1.0

    def fps_windows(self) -> tuple[float, float, float]:
        """(lowest, median, highest) of the slowest client's frame rate per window."""
        rates = [s.fps_min for s in self.samples]
        return min(rates), statistics.median(rates), max(rates)


def control(address: str, value: float) -> bytes:
    """One OSC message."""
    b = OscMessageBuilder(address)
    b.add_arg(value)
    return b.build().dgram


async def soak(seconds: float, clients: int, reload_every: float) -> Soak:
    """Run the soak against a fresh server; the findings (the server's log counted in)."""
    with tempfile.TemporaryDirectory() as tmp:
        patch = Path(tmp) / "soak.toml"
        patch.write_text(PATCH)
        server = ServerProcess(patch)
        await server.start()
        try:
            result = await _drive(server, patch, seconds, clients, reload_every)
        finally:
            await server.stop()
        lines = server.log_tail(10**9).splitlines()
    result.log_warnings = sum(" WARNING: " in line for line in lines)
    bad = [line for line in lines if " ERROR: " in line or "Traceback" in line]
    result.log_errors = len(bad)
    result.log_excerpt = [line[:300] for line in lines if " WARNING: " in line][:5] + bad[:5]
    return result


async def _drive(server: ServerProcess, patch: Path, seconds: float, clients: int,
                 reload_every: float) -> Soak:
    http = Http(server.port, server.osc[1])
    readers = [FrameReader(server.port) for _ in range(clients)]
    for reader in readers:
        await reader.start()
    osc = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    result = Soak(seconds=seconds, clients=clients, controls_sent=0, reloads_tried=0,
                  reloads_done=0, reload_errors=[])
    t0 = time.time()
    next_sample, next_reload = t0 + SAMPLE_EVERY_S, t0 + reload_every
    try:
        while (now := time.time()) < t0 + seconds:
            phase = (now - t0) / 7.0  # a slow sweep, never the same value twice in a row
            osc.sendto(control("/visual/speed", round(1.0 + math.sin(phase), 4)), server.osc)
            osc.sendto(control("/music/temperature", round(0.9 + 0.2 * math.cos(phase), 4)),
                       server.osc)
            result.controls_sent += 2
            if now >= next_reload:
                next_reload += reload_every
                await _reload(http, patch, osc, server, result)
            if now >= next_sample:
                result.samples.append(await _sample(http, server, readers, now - t0,
                                                    next_sample - SAMPLE_EVERY_S, now))
                next_sample += SAMPLE_EVERY_S
            await asyncio.sleep(2.0 / CONTROL_HZ)
    finally:
        osc.close()
        for reader in readers:
            await reader.close()
    return result


async def _reload(http: Http, patch: Path, osc: socket.socket, server: ServerProcess,
                  result: Soak) -> None:
    """Change the patch file and reload it over OSC; wait for /status to say how it went."""
    result.reloads_tried += 1
    patch.write_text(GROWN if result.reloads_tried % 2 else PATCH)
    before = (await asyncio.to_thread(http.json, "/status"))["patch"]["reloads"]
    b = OscMessageBuilder("/patch/reload")
    osc.sendto(b.build().dgram, server.osc)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = (await asyncio.to_thread(http.json, "/status"))["patch"]
        if status["reloads"] > before:
            result.reloads_done += 1
            return
        if status["error"]:
            result.reload_errors.append(str(status["error"])[:300])
            return
        await asyncio.sleep(0.2)
    result.reload_errors.append("no reload within 20 s")


async def _sample(http: Http, server: ServerProcess, readers: list[FrameReader], t: float,
                  since: float, now: float) -> Sample:
    status = await asyncio.to_thread(http.json, "/status")
    # Stream 0 only: the voice a reload adds every other minute has a stream of its own.
    rates = [sum(since <= a.t < now and a.stream == 0 for a in reader.arrivals) / (now - since)
             for reader in readers]
    late = status["note_sender"].get("abs_late_ms") or {}
    process = status["process"]
    return Sample(t=round(t, 1), rss_mib=server.rss_mib() or process["rss_mib"],
                  tasks=process["tasks"], threads=process["threads"], fds=process["fds"],
                  fps_min=round(min(rates), 2), fps_max=round(max(rates), 2),
                  note_p99_ms=late.get("p99"))


def report(result: Soak) -> dict[str, Any]:
    """The figures of a run, as printed and as JSON."""
    low, median, high = result.fps_windows()
    timing = [s.note_p99_ms for s in result.samples if s.note_p99_ms is not None]
    return {"seconds": result.seconds, "clients": result.clients,
            "controls_sent": result.controls_sent,
            "reloads": f"{result.reloads_done} of {result.reloads_tried}",
            "reload_errors": result.reload_errors,
            "rss_mib_warm_end": [result.samples[min(2, len(result.samples) - 1)].rss_mib,
                                 result.samples[-1].rss_mib],
            "memory_growth": round(result.memory_growth(), 4),
            "fps_slowest_client_low_median_high": [low, median, high],
            "note_p99_ms_first_last": [timing[0], timing[-1]] if timing else None,
            "tasks_first_last": [result.samples[0].tasks, result.samples[-1].tasks],
            "fds_first_last": [result.samples[0].fds, result.samples[-1].fds],
            "log_warnings": result.log_warnings, "log_errors": result.log_errors,
            "log_excerpt": result.log_excerpt}


def main() -> None:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--reload-every", type=float, default=60.0, help="seconds")
    parser.add_argument("--json", action="store_true", help="print JSON (with every sample)")
    args = parser.parse_args()
    result = asyncio.run(soak(args.minutes * 60, args.clients, args.reload_every))
    figures = report(result)
    if args.json:
        print(json.dumps({"machine": info("cpu"), **figures,
                          "samples": [asdict(s) for s in result.samples]}, indent=1))
        return
    print(f"machine: {info('cpu')}")
    for key, value in figures.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()

"""Control rate: `python -m bench.control_rate [--seconds S] [--rates R,R,...] [--json]`.

Starts the real server with a visual voice at its frame rate and a WebSocket client reading
every frame, then sends OSC at several rates to a mapped address (`/1/fader1` -> `/visual/speed`
through an exp curve, the way a TouchOSC fader arrives) and, for reference, to the parameter's
own address. For each rate it reports the messages sent, the changes applied (the registry's
stamp counts every applied change), the frame rate the client got against the rate with no
control traffic, and the WebSocket round trip (how free the event loop stays).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.clients import FrameReader, OscSender
from bench.machine import info
from bench.procs import ServerProcess

PATCH = """
[server]
oscquery_port = 0    # any free port: never collide with a running server's 8766

[voices.visual]
kind = "visual"
model = "random"
resolution = {resolution}
fps = {fps}

[[mappings]]
osc = "/1/fader1"
target = "/visual/speed"
curve = "exp"
"""


def stamp(port: int) -> int:
    """The server's newest stamp (GET /status)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/status")
        return int(json.loads(conn.getresponse().read())["stamp"])
    finally:
        conn.close()


def blast(target: tuple[str, int], address: str, rate: float, seconds: float) -> int:
    """Send `rate` messages a second for `seconds` (paced, from this thread); how many went."""
    sender = OscSender(target)
    sent, t0 = 0, time.perf_counter()
    try:
        while (now := time.perf_counter() - t0) < seconds:
            due = sent / rate
            if now < due:
                time.sleep(min(due - now, 0.002))
                continue
            # Distinct values in range, so every message is a change of its own.
            sender.send(address, (sent % 1000) / 1000.0 * (8.0 if address.startswith("/visual") else 1.0))
            sent += 1
    finally:
        sender.close()
    return sent


async def window(server: ServerProcess, reader: FrameReader, address: str | None, rate: float,
                 seconds: float) -> dict[str, Any]:
    """One measured window: frames, and (with an address) messages sent and applied."""
    s0 = await asyncio.to_thread(stamp, server.port)
    t0 = time.time()
    trips: list[float] = []
    done = threading.Event()

    async def ping() -> None:
        while not done.is_set():
            rt = await reader.round_trip()
            if rt is not None:
                trips.append(rt)
            await asyncio.sleep(0.1)

    pinger = asyncio.create_task(ping())
    if address is None:
        await asyncio.sleep(seconds)
        sent = 0
    else:
        sent = await asyncio.to_thread(blast, server.osc, address, rate, seconds)
    t1 = time.time()
    done.set()
    await pinger
    await asyncio.sleep(0.3)  # the last datagrams are applied
    applied = await asyncio.to_thread(stamp, server.port) - s0
    trips.sort()
    return {"address": address, "rate": rate, "sent": sent, "applied": applied,
            "sent_per_s": round(sent / (t1 - t0), 1), "applied_per_s": round(applied / (t1 - t0), 1),
            "fps": round(reader.fps(t0, t1), 2),
            "round_trip_ms_p50": round(1000 * trips[len(trips) // 2], 2) if trips else None,
            "round_trip_ms_max": round(1000 * trips[-1], 2) if trips else None}


async def run(seconds: float, rates: list[float], resolution: int, fps: float) -> dict[str, Any]:
    """Every window on one server."""
    with tempfile.TemporaryDirectory() as tmp:
        patch = Path(tmp) / "control.toml"
        patch.write_text(PATCH.format(resolution=resolution, fps=fps))
        async with ServerProcess(patch) as server:
            reader = FrameReader(server.port)
            await reader.start()
            try:
                await asyncio.sleep(1.0)  # settle
                rows = [await window(server, reader, None, 0, seconds)]
                for rate in rates:
                    for address in ("/1/fader1", "/visual/speed"):
                        rows.append(await window(server, reader, address, rate, seconds))
            finally:
                await reader.close()
    return {"machine": info("cpu"), "seconds": seconds, "resolution": resolution, "fps_target": fps,
            "windows": rows}


def table(result: dict[str, Any]) -> str:
    """The windows as a Markdown table."""
    lines = ["| address | rate asked | sent/s | applied/s | applied/sent | frames/s "
             "| WS round trip p50 / max ms |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for w in result["windows"]:
        ratio = f"{w['applied'] / w['sent']:.3f}" if w["sent"] else "-"
        lines.append(f"| {w['address'] or '(no control)'} | {w['rate']:g} | {w['sent_per_s']} | "
                     f"{w['applied_per_s']} | {ratio} | {w['fps']} | {w['round_trip_ms_p50']} / "
                     f"{w['round_trip_ms_max']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    p = argparse.ArgumentParser(prog="python -m bench.control_rate", description=__doc__)
    p.add_argument("--seconds", type=float, default=3.0, help="length of each window")
    p.add_argument("--rates", default="100,1000,4000", help="messages per second to try")
    p.add_argument("--resolution", type=int, default=64, help="untrained generator size")
    p.add_argument("--fps", type=float, default=30.0, help="the visual voice's frame rate")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = p.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    result = asyncio.run(run(args.seconds, rates, args.resolution, args.fps))
    print(json.dumps(result, indent=1) if args.json else table(result))


if __name__ == "__main__":
    main()

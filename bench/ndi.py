"""NDI out: `python -m bench.ndi [--resolutions 128 256] [--seconds 3] [--size W H] [--json]`.

Per resolution, one server (untrained generator at 30 fps) with an NDI output, a WebSocket
client reading every frame and an NDI receiver in another process (bench/ndi_receiver.py) over
the loopback-only NDI config (deploy/ndi). Side by side in one run:

- received / rendered: frames the NDI receiver got over the frames rendered while it listened;
- added latency: for the same frames (by sequence number), NDI arrival minus WebSocket
  arrival, in frame periods, and render to NDI arrival in ms;
- delivered fps over the WebSocket with the output on (receiver connected) and then off
  (`/outputs/ndi/on` false), and the server's CPU seconds per second in each window.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.clients import FrameReader
from bench.machine import ROOT, info
from bench.procs import ServerProcess

NDI_ENV = {"NDI_CONFIG_DIR": str(ROOT / "deploy" / "ndi")}


def patch(resolution: int, size: tuple[int, int] | None) -> str:
    """One visual voice at `resolution` with an NDI output (scaled to size)."""
    scaled = f"size = [{size[0]}, {size[1]}]\n" if size else ""
    return (f'[server]\noscquery_port = 0\nwatch = false\n\n[voices.visual]\nkind = "visual"\n'
            f'model = "random"\nresolution = {resolution}\nfps = 30\nspeed = 2\n\n'
            f'[outputs.ndi]\nkind = "ndi"\nvoice = "visual"\n{scaled}')


async def receive(seconds: float, out: Path) -> dict[str, Any]:
    """Run the NDI receiver process for `seconds` once it has found `livegen visual`."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.ndi_receiver", "livegen visual", str(seconds), str(out), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, env={**os.environ, **NDI_ENV})
    stdout, _ = await asyncio.wait_for(proc.communicate(), seconds + 60)
    return dict(json.loads(stdout.decode().strip().splitlines()[-1]))


async def one(resolution: int, seconds: float, size: tuple[int, int] | None, device: str) -> dict[str, Any]:
    """One server: a window with the receiver, then one with the output off; the row."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ndi.toml"
        path.write_text(patch(resolution, size))
        async with ServerProcess(path, device=device, env=NDI_ENV) as server:
            reader = FrameReader(server.port)
            await reader.start()
            await asyncio.sleep(1.0)
            cpu0, t0 = server.cpu_s()[0], time.time()
            found = await receive(seconds, Path(tmp) / "rx.npz")
            cpu1, t1 = server.cpu_s()[0], time.time()
            rx = np.load(Path(tmp) / "rx.npz")
            assert reader.ws is not None
            await reader.ws.send(json.dumps({"op": "set", "path": "/outputs/ndi/on", "value": False}))
            await asyncio.sleep(1.0)
            cpu2, t2 = server.cpu_s()[0], time.time()
            await asyncio.sleep(seconds)
            cpu3, t3 = server.cpu_s()[0], time.time()
            await reader.close()
    seqs, arrived = rx["meta"][:, 0], rx["arrived"]
    ws_at = {a.seq: a.t for a in reader.arrivals if a.stream == 0}
    render = {int(s): int(r) for s, _, r in rx["meta"]}
    pairs = list(zip(seqs, arrived, strict=True))
    added = [(arr / 1e6 - ws_at[int(s)]) * 30 for s, arr in pairs if int(s) in ws_at]
    to_ndi = [(arr - render[int(s)]) / 1000 for s, arr in pairs]
    # Rendered while the receiver listened: the WebSocket client saw every sequence number in that span.
    first, last = int(seqs.min()), int(seqs.max())
    fps_on = reader.fps(float(arrived.min()) / 1e6, float(arrived.max()) / 1e6)
    fps_off = reader.fps(t2, t3)
    return {
        "resolution": resolution, "size": list(size) if size else [resolution, resolution],
        "found_s": found["found_s"], "ndi_frames": int(len(seqs)),
        "received_over_rendered": round(len(seqs) / (last - first + 1), 3),
        "added_latency_frames_p50": round(statistics.median(added), 2) if added else None,
        "render_to_ndi_ms_p50": round(statistics.median(to_ndi), 2),
        "ws_fps_ndi_on": round(fps_on, 2), "ws_fps_ndi_off": round(fps_off, 2),
        "on_over_off": round(fps_on / fps_off, 3) if fps_off else None,
        "server_cpu_per_s_on": round((cpu1 - cpu0) / (t1 - t0), 3),
        "server_cpu_per_s_off": round((cpu3 - cpu2) / (t3 - t2), 3),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every resolution, one after the other, and the machine."""
    size = tuple(args.size) if args.size else None
    rows = [await one(r, args.seconds, size, args.device) for r in args.resolutions]  # type: ignore[arg-type]
    return {"machine": info(args.device), "seconds": args.seconds, "rows": rows}


def main() -> None:
    """Command line: run and print a table (or one JSON line)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--resolutions", type=int, nargs="+", default=[128, 256])
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--size", type=int, nargs=2, metavar=("W", "H"), help="scale the NDI output")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result))
        return
    print("machine:", json.dumps(result["machine"]))
    keys = list(result["rows"][0])
    print("| " + " | ".join(keys) + " |")
    print("|" + " --- |" * len(keys))
    for row in result["rows"]:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()

"""Analysis cost: `python -m bench.analysis_cost [--seconds S] [--repeats N] [--json]`.

Two figures, side by side in one run: the time the frame analysis takes per frame at 128 and
256 px (median over many frames, one thread, where the server runs it: the encode pool; the
features and the `textures` embedding's coordinates and nearest image, on a moving picture
and on a cut every frame, the palette's and the motion's worst case), and
the frame rate a WebSocket client gets from a real server (untrained 128 px generator at
30 fps) with `/visual/analysis` on and off, in alternating windows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.clients import FrameReader, OscSender
from bench.machine import info
from bench.procs import ServerProcess
from live.analysis.frame import FrameAnalyser
from models.embed import for_model

PATCH = """
[server]
oscquery_port = 0

[voices.visual]
kind = "visual"
model = "random"
resolution = 128
fps = 30
"""


def per_frame_ms(side: int, scene: str, frames: int = 1000) -> float:
    """Median milliseconds of one analysis (features and embedding) of a (side, side) frame:
    a smooth random image drifting a pixel a frame ("moving"), or eight of them in turn ("cuts")."""
    rng = np.random.default_rng(0)
    images = [(rng.random((side // 8, side // 8, 3)) * 255).astype(np.uint8).repeat(8, 0).repeat(8, 1)
              for _ in range(8)]
    embedding = for_model("textures")
    analyser, times = FrameAnalyser(), []
    for k in range(frames):
        frame = images[k % len(images)] if scene == "cuts" else np.roll(images[0], k, axis=1)
        t0 = time.perf_counter()
        analyser(frame)
        if embedding is not None and analyser.colour is not None:
            embedding.place(analyser.colour.ravel())
        times.append(time.perf_counter() - t0)
    return round(1000 * statistics.median(times), 3)


async def fps_windows(seconds: float, repeats: int) -> dict[str, Any]:
    """Delivered fps with analysis on and off, alternating, on one server."""
    with tempfile.TemporaryDirectory() as tmp:
        patch = Path(tmp) / "analysis.toml"
        patch.write_text(PATCH)
        async with ServerProcess(patch) as server:
            reader = FrameReader(server.port)
            await reader.start()
            osc = OscSender(server.osc)
            rows: dict[str, list[float]] = {"on": [], "off": []}
            try:
                await asyncio.sleep(2.0)
                for _ in range(repeats):
                    for state in ("on", "off"):
                        osc.send("/visual/analysis", 1 if state == "on" else 0)
                        await asyncio.sleep(0.5)
                        t0 = time.time()
                        await asyncio.sleep(seconds)
                        rows[state].append(reader.fps(t0, time.time()))
            finally:
                osc.close()
                await reader.close()
    on, off = statistics.median(rows["on"]), statistics.median(rows["off"])
    ratios = [a / b for a, b in zip(rows["on"], rows["off"], strict=True) if b > 0]
    return {"fps_on": round(on, 2), "fps_off": round(off, 2),
            "ratio_median": round(statistics.median(ratios), 3), "ratio_min": round(min(ratios), 3),
            "windows": rows}


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    p = argparse.ArgumentParser(prog="python -m bench.analysis_cost", description=__doc__)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    out: dict[str, Any] = {"machine": info("cpu")}
    for side in (128, 256):
        for scene in ("moving", "cuts"):
            out[f"ms_per_frame_{side}_{scene}"] = per_frame_ms(side, scene)
    out |= asyncio.run(fps_windows(args.seconds, args.repeats))
    print(json.dumps(out, indent=None if not args.json else 1))


if __name__ == "__main__":
    main()

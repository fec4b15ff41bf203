"""Page frame rate: `python -m bench.page_fps [--seconds S] [--fps F] [--sizes 128 256] [--json]`.

For each size, starts the real server with one visual voice (untrained generator, that many
pixels, F frames a second), opens the page (`/?kiosk&bench`) in Debian's Chromium (headless,
Playwright) and, after a warm-up, counts for S seconds the frames the server sent the page (the
page's WebSocket received them), the frames the page drew (one per display refresh at most: newest
wins), and for each frame drawn the latency the page adds (message received to frame drawn) and
stamp to draw (the header's render time to frame drawn: encode, send, decode and draw; one clock,
loopback). Target: drawn = sent, and at most one frame interval added.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench.machine import info
from bench.procs import ServerProcess
from bench.stats import distribution

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WARMUP_S = 3.0

PATCH = """
[server]
oscquery_port = 0
watch = false
state_dir = "{state}"

[voices.visual]
kind = "visual"
model = "random"
resolution = {size}
fps = {fps}
"""


async def measure(browser: Any, size: int, fps: float, seconds: float, device: str,
                  folder: Path) -> dict[str, Any]:
    """One size: a server, the page, and what it drew."""
    patch = folder / f"page_{size}.toml"
    patch.write_text(PATCH.format(size=size, fps=fps, state=folder / "state"))
    async with ServerProcess(patch, device=device) as server:
        page = await browser.new_page(viewport={"width": 1280, "height": 720})
        try:
            await page.goto(f"http://127.0.0.1:{server.port}/?kiosk&bench")
            await page.wait_for_function("window.livegenPage && livegenPage.stats().drawn > 0",
                                         timeout=30000)
            await asyncio.sleep(WARMUP_S)
            received0 = await page.evaluate("livegenPage.samples.length = 0, livegenPage.lg.received")
            await asyncio.sleep(seconds)
            received1, samples = await page.evaluate("[livegenPage.lg.received, livegenPage.samples]")
            status = await page.evaluate("fetch('/status').then((r) => r.json())")
        finally:
            await page.close()
    sent = received1 - received0
    drawn = [s for s in samples if s["w"] == size]
    added = [s["drawn"] - s["received"] for s in drawn]
    stamp_to_draw = [(s["drawnUnixUs"] - s["renderUs"]) / 1000 for s in drawn]
    voice = status["voices"]["visual"]
    return {"size": size, "seconds": seconds, "server_fps": voice.get("fps"),
            "sent_fps": round(sent / seconds, 2), "drawn_fps": round(len(drawn) / seconds, 2),
            "drawn_of_sent": round(len(drawn) / sent, 3) if sent else None,
            "page_added_ms": distribution(added, 2), "stamp_to_draw_ms": distribution(stamp_to_draw, 2),
            "frame_interval_ms": round(1000 / fps, 1)}


async def run(sizes: list[int], fps: float, seconds: float, device: str) -> dict[str, Any]:
    """Every size, one browser."""
    from playwright.async_api import async_playwright

    rows = []
    with tempfile.TemporaryDirectory(prefix="livegen-page-fps-") as tmp:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                               args=CHROMIUM_ARGS)
            try:
                for size in sizes:
                    rows.append(await measure(browser, size, fps, seconds, device, Path(tmp)))
            finally:
                await browser.close()
    return {"machine": info(device), "browser": "Debian chromium, headless, software compositing",
            "target_fps": fps, "rows": rows}


def table(result: dict[str, Any]) -> str:
    """The sizes as a Markdown table."""
    lines = ["| size | server fps | sent to page fps | drawn fps | drawn / sent | page adds ms "
             "median (p90) | render stamp to draw ms median (p90) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in result["rows"]:
        a, s = r["page_added_ms"], r["stamp_to_draw_ms"]
        lines.append(f"| {r['size']} px | {r['server_fps']} | {r['sent_fps']} | {r['drawn_fps']} | "
                     f"{r['drawn_of_sent']} | {a['median']} ({a['p90']}) | {s['median']} ({s['p90']}) |")
    lines.append(f"\ntarget {result['target_fps']} fps: one frame interval is "
                 f"{round(1000 / result['target_fps'], 1)} ms")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    """The command line's options."""
    p = argparse.ArgumentParser(prog="python -m bench.page_fps", description=__doc__)
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds per size")
    p.add_argument("--fps", type=float, default=30.0, help="the visual voice's frame rate")
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 256], help="frame sizes, px")
    p.add_argument("--device", default="cpu", help="the server's --device")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


def main(argv: list[str] | None = None) -> None:
    """Measure, then print the machine line and the table (or everything as JSON)."""
    args = parser().parse_args(argv)
    result = asyncio.run(run(args.sizes, args.fps, args.seconds, args.device))
    print(json.dumps(result, indent=1) if args.json
          else json.dumps(result["machine"]) + "\n" + table(result))


if __name__ == "__main__":
    main()

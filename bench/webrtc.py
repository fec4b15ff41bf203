"""Viewers: `python -m bench.webrtc [--viewers 1 2 4] [--seconds 3] [--resolution 128] [--json]` (root).

One server (untrained generator at 30 fps) with a webrtc and a janus output, in a network
namespace of its own (tests/netns.py: ICE needs a non-loopback interface). For each viewer
count, side by side: N WebSocket clients reading frames (JPEG, quality 85), N Chromium pages on
/webrtc.html straight from livegen, and N pages through Janus (deploy/janus). Per path: bytes a
second per viewer, the server's CPU seconds a second, frames a second each viewer got. Then
the quality, PSNR against the rendered frame: on the moving picture (each page shot against
the rendered frame it best matches, beside the JPEG q85 round trip of those same frames), and
on a still picture (speed 0).
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from websockets.sync.client import connect

from bench.machine import ROOT, info
from bench.procs import cpu_seconds
from live import frames

JANUS_API = "http://127.0.0.1:8088/janus"


def patch(resolution: int, kbps: int) -> str:
    """One visual voice with a webrtc and a janus output, both off until a path wants them."""
    return (f'[server]\noscquery_port = 0\nwatch = false\n\n[voices.visual]\nkind = "visual"\n'
            f'model = "random"\nresolution = {resolution}\nfps = 30\nspeed = 2\n\n'
            f'[outputs.web]\nkind = "webrtc"\nvoice = "visual"\nviewers = 64\nbitrate = {kbps}\n'
            'on = false\n\n'
            '[outputs.audience]\nkind = "janus"\nvoice = "visual"\nrtp = "127.0.0.1:5004"\non = false\n')


class WsViewer(threading.Thread):
    """A WebSocket client on its own thread, counting frames and bytes."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.ws = connect(url, max_size=2**24, compression=None)
        self.frames = self.bytes = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                msg = self.ws.recv(timeout=1)
            except TimeoutError:
                continue
            except Exception:
                return
            if isinstance(msg, bytes):
                self.frames += 1
                self.bytes += len(msg)

    def close(self) -> None:
        self.done.set()
        self.ws.close()


def control(url: str, path: str, value: Any) -> None:
    """One `set` over the WebSocket, waited for."""
    with connect(url) as ws:
        ws.send(json.dumps({"op": "subscribe", "topics": []}))
        ws.send(json.dumps({"op": "set", "path": path, "value": value, "id": 1}))
        while '"id": 1' not in (reply := str(ws.recv(timeout=5))):
            pass
        if '"error"' in reply:
            raise RuntimeError(reply)


def window(pids: list[int], seconds: float) -> tuple[list[float], float]:
    """CPU seconds a second of each process over `seconds`, and the wall time it took."""
    before = [cpu_seconds(p)[0] for p in pids]
    t0 = time.monotonic()
    time.sleep(seconds)
    dt = time.monotonic() - t0
    return [(cpu_seconds(p)[0] - b) / dt for p, b in zip(pids, before, strict=True)], dt


def ws_path(server: Any, n: int, seconds: float) -> dict[str, Any]:
    """N WebSocket frame readers."""
    viewers = [WsViewer(server.ws) for _ in range(n)]
    for v in viewers:
        v.start()
    time.sleep(1.0)
    f0, b0 = [v.frames for v in viewers], [v.bytes for v in viewers]
    (cpu,), dt = window([server.proc.pid], seconds)
    fps = [(v.frames - f) / dt for v, f in zip(viewers, f0, strict=True)]
    rate = [(v.bytes - b) / dt for v, b in zip(viewers, b0, strict=True)]
    for v in viewers:
        v.close()
    return {"bytes_per_s_per_viewer": round(statistics.mean(rate)), "server_cpu_per_s": round(cpu, 3),
            "fps_min": round(min(fps), 2), "fps_mean": round(statistics.mean(fps), 2)}


def open_pages(browser: Any, url: str, n: int) -> list[Any]:
    """N viewer pages, each once it shows frames."""
    pages = []
    for _ in range(n):
        page = browser.new_page(viewport={"width": 200, "height": 200})
        page.goto(url)
        pages.append(page)
    for page in pages:
        try:
            page.wait_for_function("window.livegenRtc && window.livegenRtc.stats().frames > 10",
                                   timeout=60000)
        except Exception as e:
            raise RuntimeError(f"{url}: no frames: {page.evaluate('window.livegenRtc.stats()')}") from e
    return pages


def rtc_path(server: Any, browser: Any, n: int, seconds: float, via_janus: bool,
             janus_pid: int | None) -> dict[str, Any]:
    """N pages straight from livegen, or through Janus; bytes from the output's own counters."""
    output = "audience" if via_janus else "web"
    control(server.ws, f"/outputs/{output}/on", True)
    query = f"voice=visual&janus={JANUS_API}&mount=1" if via_janus else "voice=visual"
    pages = open_pages(browser, f"{server.http}/webrtc.html?{query}", n)
    time.sleep(1.0)

    def sent() -> float:
        out = server.get_json("/status")["outputs"][output]
        return float(out["bytes_sent"] if via_janus else sum(v["bytes"] for v in out["viewers"]))

    f0 = [p.evaluate("window.livegenRtc.stats().frames") for p in pages]
    s0 = sent()
    pids = [server.proc.pid] + ([janus_pid] if janus_pid else [])
    cpus, dt = window(pids, seconds)
    s1 = sent()
    fps = [(p.evaluate("window.livegenRtc.stats().frames") - f) / dt for p, f in zip(pages, f0, strict=True)]
    for page in pages:
        page.close()
    control(server.ws, f"/outputs/{output}/on", False)
    row = {"server_cpu_per_s": round(cpus[0], 3), "fps_min": round(min(fps), 2),
           "fps_mean": round(statistics.mean(fps), 2)}
    if via_janus:  # one stream into Janus, whatever the audience; Janus sends each viewer a copy
        row |= {"bytes_per_s_into_janus": round((s1 - s0) / dt),
                "janus_cpu_per_s": round(cpus[1], 3) if len(cpus) > 1 else None}
    else:
        row["bytes_per_s_per_viewer"] = round((s1 - s0) / dt / n)
    return row


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 RGB images."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return round(99.0 if mse == 0 else 10 * np.log10(255**2 / mse), 2)


def one_frame(url: str) -> tuple[frames.FrameInfo, bytes]:
    """The next frame of stream 0 over the WebSocket."""
    with connect(url, max_size=2**24) as ws:
        while True:
            msg = ws.recv(timeout=10)
            if isinstance(msg, bytes):
                info_, payload = frames.unpack(msg)
                if info_.stream == 0:
                    return info_, payload


def still_quality(server: Any, browser: Any, janus: bool) -> dict[str, Any]:
    """Speed 0: the rendered frame (RGBA), the JPEG clients get, and what each WebRTC page shows."""
    control(server.ws, "/visual/speed", 0)
    control(server.ws, "/visual/format", "rgba")
    time.sleep(1.0)
    info_, payload = one_frame(server.ws)
    raw = np.frombuffer(payload, np.uint8).reshape(info_.height, info_.width, 4)[..., :3]
    control(server.ws, "/visual/format", "jpeg")
    time.sleep(0.5)
    _, jpeg = one_frame(server.ws)
    out = {"ws_jpeg_q85": psnr(np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")), raw)}
    for name, on in (("webrtc", True), ("janus", janus)):
        if not on:
            continue
        output = "audience" if name == "janus" else "web"
        control(server.ws, f"/outputs/{output}/on", True)
        query = f"voice=visual&janus={JANUS_API}&mount=1" if name == "janus" else "voice=visual"
        (page,) = open_pages(browser, f"{server.http}/webrtc.html?{query}", 1)
        time.sleep(3.0)  # the codec refines a still picture
        shot = page.evaluate("window.livegenRtc.pixels()")
        shown = np.array(shot["data"], np.uint8).reshape(shot["height"], shot["width"], 4)[..., :3]
        out[name] = psnr(shown, raw)
        page.close()
        control(server.ws, f"/outputs/{output}/on", False)
    return out


class RawFrames(threading.Thread):
    """Keeps the last few seconds of raw RGBA frames of stream 0 (format rgba), by sequence number."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.ws = connect(url, max_size=2**24, compression=None)
        self.frames: dict[int, np.ndarray] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                msg = self.ws.recv(timeout=1)
            except TimeoutError:
                continue
            except Exception:
                return
            if isinstance(msg, bytes):
                info_, payload = frames.unpack(msg)
                if info_.stream == 0 and info_.format == frames.RGBA:
                    self.frames[info_.seq] = np.frombuffer(payload, np.uint8).reshape(
                        info_.height, info_.width, 4)[..., :3]
                    self.frames.pop(info_.seq - 300, None)

    def close(self) -> None:
        self.done.set()
        self.ws.close()


def jpeg_psnr(raw: np.ndarray, quality: int = 85) -> float:
    """PSNR of raw after the JPEG round trip the WebSocket path makes (same Pillow, same quality)."""
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(raw)).save(out, "JPEG", quality=quality)
    return psnr(np.asarray(Image.open(out).convert("RGB")), raw)


def moving_quality(server: Any, browser: Any, janus: bool, shots: int = 8) -> dict[str, Any]:
    """A moving picture: each page shot against its best-matching rendered frame (the frame it
    shows), beside the JPEG q85 round trip of the same rendered frames."""
    control(server.ws, "/visual/format", "rgba")
    raw = RawFrames(server.ws)
    raw.start()
    out: dict[str, Any] = {}
    try:
        for name, on in (("webrtc", True), ("janus", janus)):
            if not on:
                continue
            output = "audience" if name == "janus" else "web"
            control(server.ws, f"/outputs/{output}/on", True)
            query = f"voice=visual&janus={JANUS_API}&mount=1" if name == "janus" else "voice=visual"
            (page,) = open_pages(browser, f"{server.http}/webrtc.html?{query}", 1)
            time.sleep(2.0)
            scores, jpeg = [], []
            for _ in range(shots):
                shot = page.evaluate("window.livegenRtc.pixels()")
                shown = np.array(shot["data"], np.uint8).reshape(shot["height"], shot["width"], 4)[..., :3]
                recent = list(raw.frames.values())[-90:]  # the last 3 s of renders
                best = max(recent, key=lambda f: psnr(shown, f))
                scores.append(psnr(shown, best))
                jpeg.append(jpeg_psnr(best))
                time.sleep(0.25)
            page.close()
            control(server.ws, f"/outputs/{output}/on", False)
            out[name] = round(statistics.median(scores), 2)
            out[f"ws_jpeg_q85_same_frames_vs_{name}"] = round(statistics.median(jpeg), 2)
    finally:
        raw.close()
        control(server.ws, "/visual/format", "jpeg")
    return out


def main(argv: list[str]) -> None:
    """Inside the namespace: every viewer count on every path, then the still-picture quality."""
    from playwright.sync_api import sync_playwright

    from tests.conftest import start_server
    from tests.janus_check import start_janus
    from tests.webrtc_check import CHROMIUM, CHROMIUM_ARGS

    p = argparse.ArgumentParser()
    p.add_argument("--viewers", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--resolution", type=int, default=128)
    p.add_argument("--bitrate", type=int, default=500, help="the webrtc output's kbit/s")
    args = p.parse_args([a for a in argv if a != "--inside"])
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        janus = start_janus(Path(tmp) / "janus.log") if shutil.which("janus") else None
        path = Path(tmp) / "viewers.toml"
        path.write_text(patch(args.resolution, args.bitrate))
        server = start_server(patch=path)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                for n in args.viewers:
                    paths = {"websocket": lambda n=n: ws_path(server, n, args.seconds),
                             "webrtc": lambda n=n: rtc_path(server, browser, n, args.seconds, False, None)}
                    if janus is not None:
                        paths["janus"] = lambda n=n: rtc_path(server, browser, n, args.seconds, True,
                                                              janus.pid)
                    for name, measure in paths.items():
                        try:
                            row = {"viewers": n, "path": name} | measure()
                        except Exception as e:  # a path that did not hold this many: say so, go on
                            row = {"viewers": n, "path": name, "error": str(e)[:300]}
                        print(json.dumps(row), file=sys.stderr, flush=True)
                        rows.append(row)
                moving = moving_quality(server, browser, janus is not None)
                quality = still_quality(server, browser, janus is not None)
                browser.close()
        finally:
            try:
                server.stop()
            finally:  # Janus goes even when the server is slow to stop
                if janus is not None:
                    janus.terminate()
                    janus.wait(10)
    print(json.dumps({"machine": info("cpu"), "resolution": args.resolution, "bitrate": args.bitrate,
                      "seconds": args.seconds,
                      "rows": rows, "moving_psnr_db": moving, "still_psnr_db": quality}), flush=True)


if __name__ == "__main__":
    if "--inside" in sys.argv:
        main(sys.argv[1:])
    else:  # into a network namespace of its own, then print a table
        proc = subprocess.run(["unshare", "-n", sys.executable, "-m", "tests.netns", "bench.webrtc",
                               "--inside", *sys.argv[1:]], cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(proc.stdout[-3000:] + proc.stderr[-5000:])
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        print("machine:", json.dumps(result["machine"]))
        for row in result["rows"]:
            print(json.dumps(row))
        print("moving-picture PSNR dB:", json.dumps(result["moving_psnr_db"]))
        print("still-picture PSNR dB:", json.dumps(result["still_psnr_db"]))

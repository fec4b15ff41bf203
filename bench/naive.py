"""The naive baseline: what a first attempt builds, run on the same model for comparison.

It renders each frame on the event loop, PNG-encodes it once per client and awaits each
client's send in turn. Same command line and ready line as server.py (the parts the
benchmark uses). Its frames carry the LGF1 header with format 3 (PNG), which is not part
of the contract: only the benchmark reads them.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import signal
import sys
import time

import numpy as np
import torch
from PIL import Image
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import AsyncIOOSCUDPServer
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from live.engine import to_pixels
from live.frames import HEADER, MAGIC
from live.patch import load_patch
from live.voices.latent import LatentPath
from live.voices.visual import load_generator
from models.device import pick_device

PNG = 3


class NaiveServer:
    """One visual voice, everything on the event loop."""

    def __init__(self, spec: dict, device: torch.device) -> None:
        self.model, _ = load_generator(spec, device)
        self.device = device
        self.nz = self.model.cfg.nz
        self.params = {"fps": float(spec.get("fps", 30)), "speed": float(spec.get("speed", 1.0)),
                       "truncation": float(spec.get("truncation", 1.0))}
        self.path = LatentPath(self.nz, int(spec.get("seed", 0)))
        self.stamp = 0
        self.clients: set[ServerConnection] = set()
        self.seq = 0

    def on_osc(self, address: str, *args: object) -> None:
        key = address.rsplit("/", 1)[-1]
        if key in self.params and args:
            self.params[key] = float(args[0])  # type: ignore[arg-type]
            self.stamp += 1

    async def handler(self, ws: ServerConnection) -> None:
        self.clients.add(ws)
        try:
            async for _ in ws:
                pass
        except ConnectionClosed:
            pass
        finally:
            self.clients.discard(ws)

    async def render_loop(self) -> None:
        due = time.monotonic()
        while True:
            period = 1.0 / self.params["fps"]
            stamp = self.stamp
            z = self.path.step(period, self.params["speed"]) * self.params["truncation"]
            with torch.inference_mode():
                out = self.model(torch.from_numpy(z.astype(np.float32))[None].to(self.device))
            pixels = to_pixels(out)[0]
            h, w = pixels.shape[:2]
            head = HEADER.pack(MAGIC, PNG, 0, w, h, 0, self.seq & 0xFFFFFFFF, stamp,
                               time.time_ns() // 1000, 0)
            self.seq += 1
            for ws in list(self.clients):
                buf = io.BytesIO()
                Image.fromarray(pixels, "RGB").save(buf, "PNG")
                try:
                    await ws.send(head + buf.getvalue())
                except ConnectionClosed:
                    self.clients.discard(ws)
            due = max(due + period, time.monotonic() - period)
            await asyncio.sleep(max(0.0, due - time.monotonic()))


async def main(args: argparse.Namespace) -> None:
    """Serve the patch's first visual voice the naive way, after a ready line, until SIGINT or SIGTERM."""
    patch = load_patch(args.patch)
    spec = next(s for s in patch.voices.values() if s["kind"] == "visual")
    device = pick_device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))  # same as the engine's
    server = NaiveServer(spec, device)
    with torch.inference_mode():
        server.model(torch.zeros(1, server.nz, device=device))
    dispatcher = Dispatcher()
    dispatcher.set_default_handler(server.on_osc)
    osc = AsyncIOOSCUDPServer(("127.0.0.1", args.osc_port), dispatcher, asyncio.get_running_loop())
    transport, _ = await osc.create_serve_endpoint()
    async with serve(server.handler, "127.0.0.1", args.port) as ws_server:
        port = ws_server.sockets[0].getsockname()[1]
        print(json.dumps({"event": "ready", "http_port": port,
                          "osc_port": transport.get_extra_info("sockname")[1],
                          "device": str(device), "naive": True}), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        render = asyncio.create_task(server.render_loop())
        await stop.wait()
        render.cancel()
        ws_server.close(close_connections=False)
    transport.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the options of server.py that the benchmark passes."""
    p = argparse.ArgumentParser(prog="python -m bench.naive", description=__doc__)
    p.add_argument("--patch", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--osc-port", type=int, default=0)
    p.add_argument("--osc-out", action="append", help="accepted and ignored")
    p.add_argument("--device", default="cpu")
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
    sys.exit(0)

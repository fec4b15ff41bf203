"""livegen: a real-time generative performance server. Run `python server.py --help`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

from live.app import App, Options, StartupError
from live.osc import parse_target
from live.patch import PatchError, load_patch
from models.weights import WeightsError

DEFAULT_PATCH = Path(__file__).resolve().parent / "patches" / "default.toml"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="server.py", description=__doc__)
    p.add_argument("--patch", default=str(DEFAULT_PATCH), help="performance patch (TOML)")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="HTTP and WebSocket port (default 8765, 0 = any)")
    p.add_argument("--osc-port", type=int, help="OSC in, UDP (default 9000, 0 = any)")
    p.add_argument("--osc-out", action="append", metavar="HOST:PORT",
                   help="send OSC here; repeat for several (default 127.0.0.1:9001)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], help="default auto")
    p.add_argument("--record", metavar="DIR", help="record the performance into DIR")
    p.add_argument("--seed", type=int, help="seed for every voice (default 0)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p.parse_args(argv)


def resolve_options(args: argparse.Namespace, server: dict) -> Options:
    """Command line over the patch's [server] table over defaults."""
    opts = Options()
    for key in ("host", "port", "osc_port", "device", "record", "seed"):
        value = getattr(args, key)
        if value is None:
            value = server.get(key, getattr(opts, key))
        setattr(opts, key, value)
    targets = args.osc_out if args.osc_out is not None else server.get("osc_out")
    if targets is not None:
        opts.osc_out = [parse_target(t) for t in targets]
    return opts


async def serve(app: App) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        ready = await app.start()
        print(json.dumps(ready), flush=True)
        await stop.wait()
    finally:
        await app.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
                        stream=sys.stderr)
    logging.getLogger("websockets").setLevel(logging.WARNING)  # one line per HTTP GET is noise
    try:
        patch = load_patch(args.patch)
        options = resolve_options(args, patch.server)
        asyncio.run(serve(App(patch, options)))
    except (PatchError, WeightsError, StartupError, ValueError) as e:
        print(f"livegen: cannot start: {e}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

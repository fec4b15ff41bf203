"""livegen: a real-time generative performance server.

It streams GAN frames over WebSocket and RNN music and text over OSC and MIDI, and takes live
control over OSC and WebSocket JSON. When it is ready it prints one JSON line on stdout; open
the address it prints on stderr in a browser. The contract: docs/protocol.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

# numpy's small matrices (analysis, the preference model) run fastest on one BLAS thread; a pool
# per core fights the engine and the encoders for the CPU (60x slower fits, measured under load).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from live.app import App, Options, StartupError  # noqa: E402  (after the thread setting)
from live.io.osc import parse_target
from live.patch import PatchError, load_patch
from live.security import CONTROL_PER_S, Access, check_exposure
from models.weights import WeightsError

DEFAULT_PATCH = Path(__file__).resolve().parent / "patches" / "default.toml"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (docs/protocol.md)."""
    p = argparse.ArgumentParser(prog="server.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--patch", default=str(DEFAULT_PATCH), help="performance patch (TOML)")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="HTTP and WebSocket port (default 8765, 0 = any)")
    p.add_argument("--osc-port", type=int, help="OSC in, UDP (default 9000, 0 = any)")
    p.add_argument("--oscquery-port", type=int,
                   help="OSCQuery, HTTP and WebSocket (default 8766, 0 = any)")
    p.add_argument("--osc-out", action="append", metavar="HOST:PORT",
                   help="send OSC here; repeat for several (default 127.0.0.1:9001)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], help="default auto")
    p.add_argument("--record", metavar="DIR", help="record the performance into DIR")
    p.add_argument("--seed", type=int, help="seed for every voice (default 0)")
    p.add_argument("--token", help="control token; needed on any address but 127.0.0.1 "
                   "(docs/security.md)")
    p.add_argument("--insecure", action="store_true",
                   help="listen on a public address without a token (anyone there can steer)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p.parse_args(argv)


def resolve_options(args: argparse.Namespace, server: dict) -> Options:
    """Command line over the patch's [server] table over defaults."""
    opts = Options()
    for key in ("host", "port", "osc_port", "oscquery_port", "device", "record", "seed"):
        value = getattr(args, key)
        if value is None:
            value = server.get(key, getattr(opts, key))
        setattr(opts, key, value)
    watch = server.get("watch", True)
    if not isinstance(watch, bool):
        raise ValueError(f"patch [server] watch = {watch!r} refused, expected true or false")
    opts.watch = watch
    opts.access = Access.from_settings(
        args.token if args.token is not None else server.get("token"), server.get("origins", []),
        server.get("osc_allow", []), server.get("public_frames", False),
        server.get("control_per_s", CONTROL_PER_S))
    check_exposure(opts.host, opts.access, args.insecure)
    targets = args.osc_out if args.osc_out is not None else server.get("osc_out")
    if targets is not None:
        opts.osc_out = [parse_target(t) for t in targets]
    return opts


def url_host(host: str) -> str:
    """The host part of a URL a browser on this machine can open."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


async def serve(app: App) -> None:
    """Start the app, print the ready line, run until SIGINT or SIGTERM, stop cleanly."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        ready = await app.start()
        print(json.dumps(ready), flush=True)
        print(f"livegen: ready; open http://{url_host(ready['host'])}:{ready['http_port']}/ "
              f"(OSC in on UDP port {ready['osc_port']}, OSCQuery on port {ready['oscquery_port']}; "
              "Ctrl-C stops)", file=sys.stderr, flush=True)
        await stop.wait()
    finally:
        await app.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the server; exit code 2 with one clear line when it cannot start."""
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

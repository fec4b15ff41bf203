"""Fuzz: `python -m bench.fuzz [--osc N] [--ws N] [--seed S] [--json]`.

Starts the real server with a visual, a music and a text voice and sends it junk: OSC datagrams
over UDP (random bytes, truncated messages, arguments shorter than their type tags, type tags
that are not, values each parameter must refuse, NaN and infinities, unknown addresses, huge
strings and blobs, bundles nested 40 deep with far-future and far-past timetags, bundles whose
element lengths lie) interleaved with WebSocket messages (not JSON, the wrong shapes, unknown
ops, bad values, binary that is not a frame, over the size limit). Meanwhile a well-behaved
client watches the frames. It reports the messages sent and received per surface, the frame
rate during the fuzz against the rate before it, the parameters that junk moved (compared
over the whole /schema, before and after) and the server's tracebacks. tests/test_fuzz.py
runs the issue's 20,000 + 2,000 through the same code; the default here is 10x that.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import math
import random
import socket
import struct
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from bench.machine import info
from bench.procs import ServerProcess

PATCH = """
[server]
watch = false

[voices.visual]
kind = "visual"
model = "random"
resolution = 64
fps = 30
seed = 3

[voices.music]
kind = "music"
model = "random"

[voices.text]
kind = "text"
model = "random"
rate = 20
"""
SYNC_BYTES = 96 * 1024  # sent before waiting for the server to take them: under its UDP buffer
SYNC_EVERY = 100  # datagrams between waits, whatever their size
BASELINE_S = 3.0  # the watcher's frame rate before the fuzz


def message(address: str, *args: Any) -> bytes:
    """A well-formed OSC message."""
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def pad(b: bytes) -> bytes:
    """Pad to a multiple of four with at least one NUL, as an OSC string is."""
    return b + b"\0" * (4 - len(b) % 4)


def bad_value(rng: random.Random, p: dict[str, Any]) -> list[Any]:
    """Arguments the parameter must refuse."""
    kind = p["type"]
    if kind in ("float", "int"):
        lo, hi = p["range"]
        return [rng.choice([math.nan, math.inf, -math.inf, "fast", b"\x01\x02", True,
                            hi + 1 if math.isfinite(hi) else math.nan,
                            lo - 1 if math.isfinite(lo) else -math.inf,
                            *([0.5] if kind == "int" else [])])]
    if kind == "bool":
        return [rng.choice(["maybe", 2, -1, 0.5, b"\x00"])]
    if kind == "choice":
        return [rng.choice(["no such choice", 3.5, "", b"x"])]
    if kind == "string":
        return [rng.choice([7, 1.5, "x" * 60_000 if rng.random() < 0.01 else "y" * 5000])]
    if kind == "vector":
        return [rng.choice(["v", math.nan])] * rng.randint(1, 3) if rng.random() < 0.5 else \
            [math.inf]
    return [rng.choice([math.nan, b"\xff" * 64, "C99 X"])]


def junk_datagram(rng: random.Random, params: list[dict[str, Any]]) -> bytes:
    """One datagram that no well-formed, valid OSC message is."""
    kind = rng.randrange(9)
    path = rng.choice(params)["path"]
    if kind == 0:  # random bytes
        return rng.randbytes(rng.randint(0, 200))
    if kind == 1:  # a real message, truncated (not a multiple of four, or its argument cut)
        full = message(path, 0.5)
        return full[:rng.randrange(1, len(full))]
    if kind == 2:  # arguments shorter than the type tags say
        tags = rng.choice([",f", ",i", ",s", ",ff", ",b", ",d", ",h"])
        return pad(path.encode()) + pad(tags.encode()) + rng.randbytes(rng.choice([0, 1, 2, 3]))
    if kind == 3:  # a type tag string that is not one
        return pad(path.encode()) + pad(rng.choice([b"f", b",\xff", b",Z", b""])) + b"\0\0\0\x01"
    if kind == 4:  # values the parameter must refuse
        p = rng.choice(params)
        return message(p["path"], *bad_value(rng, p))
    if kind == 5:  # unknown addresses, patterns, traversal
        address = rng.choice(["/nosuch", "/visual/*", "/visual/../clock/bpm", "//", "/" + "a" * 5000,
                              "/music/note/on/x", "/text/"])
        return message(address, rng.random())
    if kind == 6:  # deeply nested bundles of junk, timetags far off
        inner = message("/nosuch/deep", 1.0)
        for _ in range(rng.randint(1, 40)):
            timetag = struct.pack(">Q", rng.choice([1, 2**62, 2**64 - 1]))
            inner = b"#bundle\0" + timetag + struct.pack(">i", len(inner)) + inner
        return inner
    if kind == 7:  # a bundle whose element length lies
        return b"#bundle\0" + struct.pack(">Q", 1) + struct.pack(">i", rng.choice([-1, 10**6, 3]))
    return message(path, b"\0" * rng.choice([1, 60_000]))  # a blob, maybe huge


def junk_ws(rng: random.Random, params: list[dict[str, Any]]) -> str | bytes:
    """One WebSocket message the server must refuse."""
    p = rng.choice(params)
    kind = rng.randrange(8)
    if kind == 0:
        return "".join(rng.choice("{}[]\":,x1 ") for _ in range(rng.randint(0, 80)))
    if kind == 1:
        return json.dumps(rng.choice([[], 1, "set", None, [{"op": "set"}]]))
    if kind == 2:
        return json.dumps({"op": rng.choice(["sett", "", 5, None, "__class__", "call"]),
                           "address": rng.choice(["/patch/load", "/visual/../x", 3])})
    if kind == 3:
        value = bad_value(rng, p)[0]
        if isinstance(value, bytes) or (isinstance(value, float) and not math.isfinite(value)):
            value = "not-a-value"  # JSON has neither
        return json.dumps({"op": "set", "path": p["path"], "value": value, "id": rng.random()})
    if kind == 4:
        return json.dumps({"op": "set", "path": rng.choice(["/nosuch", 5, None, ""]), "value": 1})
    if kind == 5:
        return "[" * rng.choice([100, 10_000]) + "]" * 3
    if kind == 6:
        return rng.randbytes(rng.randint(0, 300))  # binary that is not an LGF1 frame
    return json.dumps({"op": "set", "path": p["path"], "value": "x" * 70_000})  # over 64 KiB


TRAVERSALS = ["/../server.py", "/%2e%2e/server.py", "/%252e%252e/server.py", "/..%2fserver.py",
              "/..%5cserver.py", "/web/../../server.py", "/.%2e/.%2e/etc/passwd", "//etc/passwd",
              "/index.html%00.js", "/.git/config", "/....//server.py", "/%c0%ae%c0%ae/server.py"]


def junk_http_path(rng: random.Random, params: list[dict[str, Any]]) -> str:
    """A GET target no server should answer with its files or a 5xx: traversal, junk, junk
    OSCQuery attributes on real and unknown nodes."""
    kind = rng.randrange(5)
    if kind == 0:
        return rng.choice(TRAVERSALS)
    if kind == 1:
        return "/" + "".join(rng.choice("abc%./\\?&=#;:~") for _ in range(rng.randint(0, 60)))
    if kind == 2:
        attribute = rng.choice(["VALUE", "TYPE", "junk", "HOST_INFO&VALUE", "%00", "RANGE=1",
                                "x" * 300, "VALUE?VALUE", "CRITICAL", "ACCESS%20"])
        return rng.choice(params)["path"] + "?" + attribute
    if kind == 3:
        return "/" + "a" * rng.choice([100, 2000, 7000])
    return rng.choice(["/status?x=1", "/schema#frag", "/nosuch/..", "/%", "/%zz", "/ws/../status"])


def junk_oscquery_ws(rng: random.Random, params: list[dict[str, Any]]) -> str | bytes:
    """One message an OSCQuery WebSocket must refuse (or, for LISTEN/IGNORE, take harmlessly)."""
    kind = rng.randrange(4)
    if kind == 0:
        return json.dumps({"COMMAND": rng.choice(["LISTEN", "IGNORE", "listen", "PATH_CHANGED",
                                                  None, 5]),
                           "DATA": rng.choice([rng.choice(params)["path"], "/nosuch", 7, None])})
    if kind == 1:
        return "".join(rng.choice("{}[]\":,x1 ") for _ in range(rng.randint(0, 80)))
    return junk_datagram(rng, params)  # OSC over the WebSocket: the same junk as UDP


class Http:
    """GET on the server's loopback port (and where its OSC port is)."""

    def __init__(self, port: int, osc_port: int) -> None:
        self.port = port
        self.osc_port = osc_port

    def json(self, path: str) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path}: {response.status} {body[:300]!r}")
            return json.loads(body)
        finally:
            conn.close()

    def values(self) -> dict[str, Any]:
        return {p["path"]: p["value"] for p in self.json("/schema")["params"]}


class Watcher(threading.Thread):
    """A well-behaved client: reads every frame as it comes and notes when."""

    def __init__(self, ws: ClientConnection) -> None:
        super().__init__(daemon=True)
        self.ws = ws
        self.ws.send(json.dumps({"op": "subscribe", "topics": ["frames"]}))
        self.arrivals: list[float] = []
        self.closed: str | None = None

    def run(self) -> None:
        try:
            for msg in self.ws:
                if isinstance(msg, bytes):
                    self.arrivals.append(time.monotonic())
        except ConnectionClosed as e:
            self.closed = str(e)

    def fps(self, t0: float, t1: float) -> float:
        return sum(t0 <= t < t1 for t in self.arrivals) / max(t1 - t0, 1e-9)


class Drain(threading.Thread):
    """Reads a connection's replies so that it never stops reading (and its pings get answers)."""

    def __init__(self, ws: ClientConnection) -> None:
        super().__init__(daemon=True)
        self.ws = ws
        self.replies = 0
        self.closed: str | None = None

    def run(self) -> None:
        try:
            for _ in self.ws:
                self.replies += 1
        except ConnectionClosed as e:
            self.closed = str(e)


@dataclass
class Result:
    """What one fuzz run found."""

    osc_sent: int
    osc_received: int
    osc_refused: int
    ws_sent: int
    ws_replies: int
    seconds: float
    fps_before: float
    fps_during: float
    moved: dict[str, Any]
    ws_closed: str | None
    http_sent: int = 0
    http_status: dict[int, int] = field(default_factory=dict)  # replies by status code
    traversals_served: list[str] = field(default_factory=list)
    oscquery_ws_sent: int = 0
    oscquery_ws_closed: str | None = None


def fuzz(ready: dict[str, Any], osc_n: int, ws_n: int, seed: int) -> Result:
    """Send osc_n junk datagrams and ws_n junk WebSocket messages, and half as many junk GETs
    (to HTTP and OSCQuery) and OSCQuery WebSocket messages among them; then two valid ones."""
    rng = random.Random(seed)
    server = Http(ready["http_port"], ready["osc_port"])
    ws_url = f"ws://127.0.0.1:{ready['http_port']}/ws"
    side = Sideline(ready, ws_n // 2)
    schema = server.json("/schema")["params"]
    # Triggers ("any value": panic, reset) act on every message by design: not state.
    params = [p for p in schema if not p.get("readonly") and "any value" not in p.get("doc", "")]
    before = server.values()
    osc_before = server.json("/status")["osc"]
    received_before, errors_before = osc_before["received"], osc_before["errors"]
    with connect(ws_url, compression=None, max_size=None, ping_interval=None) as watching, \
            connect(ws_url, compression=None, max_size=None, ping_interval=None) as ws, \
            connect(f"ws://127.0.0.1:{ready['oscquery_port']}/", compression=None,
                    max_size=None, ping_interval=None) as oscquery, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as osc:
        ws.send(json.dumps({"op": "subscribe", "topics": []}))  # its replies only
        watcher, drain, oscquery_drain = Watcher(watching), Drain(ws), Drain(oscquery)
        for thread in (watcher, drain, oscquery_drain):
            thread.start()
        time.sleep(BASELINE_S)
        side.oscquery = oscquery
        t0, t1, values = _send(server, osc, ws, side, params, osc_n, ws_n, rng)
    for thread in (watcher, drain, oscquery_drain):
        thread.join(5)
    status = server.json("/status")["osc"]
    expected = before | {"/visual/speed": 2.5, "/music/temperature": 0.7}
    fuzzed = {p["path"] for p in params}
    moved = {k: (expected.get(k), v) for k, v in values.items()
             if v != expected.get(k) and k in fuzzed and not changes_by_itself(k)}
    return Result(osc_sent=osc_n, osc_received=status["received"] - received_before,
                  osc_refused=status["errors"] - errors_before, ws_sent=ws_n,
                  ws_replies=drain.replies, seconds=round(t1 - t0, 2),
                  fps_before=round(watcher.fps(t0 - BASELINE_S, t0), 2),
                  fps_during=round(watcher.fps(t0, t1), 2), moved=moved,
                  ws_closed=_abnormal(drain.closed), http_sent=side.http_sent,
                  http_status=dict(side.http_status),
                  traversals_served=side.traversals_served, oscquery_ws_sent=side.oscquery_sent,
                  oscquery_ws_closed=_abnormal(oscquery_drain.closed))


def _abnormal(closed: str | None) -> str | None:
    """How a connection closed, unless it was our own normal close."""
    return closed if closed and "1000" not in closed else None


class Sideline:
    """The other surfaces, a message each now and then: GETs on HTTP and OSCQuery, and the
    OSCQuery WebSocket."""

    def __init__(self, ready: dict[str, Any], n: int) -> None:
        self.ports = [ready["http_port"], ready["oscquery_port"]]
        self.n = n
        self.oscquery: ClientConnection | None = None
        self.http_sent = self.oscquery_sent = 0
        self.http_status: Counter[int] = Counter()
        self.traversals_served: list[str] = []  # must stay empty

    def send(self, rng: random.Random, params: list[dict[str, Any]]) -> None:
        if self.http_sent >= self.n:
            return
        conn = http.client.HTTPConnection("127.0.0.1", self.ports[self.http_sent % 2], timeout=10)
        path = junk_http_path(rng, params)
        try:
            conn.putrequest("GET", path, skip_accept_encoding=True)
            conn.endheaders()
            response = conn.getresponse()
            response.read()
            self.http_status[response.status] += 1
            if response.status == 200 and path in TRAVERSALS:
                self.traversals_served.append(path)
        except (http.client.HTTPException, ConnectionError):  # refused outright: fine
            self.http_status[-1] += 1
        finally:
            conn.close()
        self.http_sent += 1
        if self.oscquery is not None:
            self.oscquery.send(junk_oscquery_ws(rng, params))
            self.oscquery_sent += 1


def _send(server: Http, osc: socket.socket, ws: ClientConnection, side: Sideline,
          params: list[dict[str, Any]], osc_n: int, ws_n: int,
          rng: random.Random) -> tuple[float, float, dict[str, Any]]:
    """The junk, then one valid message per surface: (start, end of the junk, values after)."""
    osc.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)  # its /error replies: dropped
    address = ("127.0.0.1", server.osc_port)
    received = server.json("/status")["osc"]["received"]
    t0 = time.monotonic()
    ws_every = max(1, osc_n // max(ws_n, 1))
    ws_sent, unsynced = 0, 0
    for i in range(osc_n):
        datagram = junk_datagram(rng, params)
        osc.sendto(datagram, address)
        unsynced += len(datagram)
        if i % ws_every == 0 and ws_sent < ws_n:
            ws.send(junk_ws(rng, params))
            ws_sent += 1
            if ws_sent % 2:
                side.send(rng, params)
        if unsynced > SYNC_BYTES or i % SYNC_EVERY == SYNC_EVERY - 1:
            _wait_taken(server, received + i + 1)  # fuzz, not flood: UDP drops a flood
            unsynced = 0
    for _ in range(ws_n - ws_sent):
        ws.send(junk_ws(rng, params))
    _wait_taken(server, received + osc_n)
    t1 = time.monotonic()
    osc.sendto(message("/visual/speed", 2.5), address)
    ws.send(json.dumps({"op": "set", "path": "/music/temperature", "value": 0.7}))
    deadline = time.monotonic() + 10
    while (values := server.values())["/music/temperature"] != 0.7 or values["/visual/speed"] != 2.5:
        if time.monotonic() > deadline:
            raise RuntimeError("valid messages after the fuzz did not land")
        osc.sendto(message("/visual/speed", 2.5), address)  # UDP may drop one
        time.sleep(0.2)
    return t0, t1, values


def _wait_taken(server: Http, received: int, timeout: float = 5.0) -> None:
    """Until the server has read `received` datagrams, or its count stops growing (drops)."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        now = server.json("/status")["osc"]["received"]
        if now >= received or now == last:
            return
        last = now
        time.sleep(0.01)


def changes_by_itself(path: str) -> bool:
    """Read-only figures and parameters that the server moves as it plays."""
    return path.startswith("/analysis") or path.endswith(("/level", "/beat"))


async def run(osc_n: int, ws_n: int, seed: int) -> dict[str, Any]:
    """Start a server on the fuzz patch, fuzz it, stop it; the report."""
    with tempfile.TemporaryDirectory() as tmp:
        patch = Path(tmp) / "fuzz.toml"
        patch.write_text(PATCH)
        server = ServerProcess(patch)
        await server.start()
        try:
            result = await asyncio.to_thread(fuzz, server.ready, osc_n, ws_n, seed)
        finally:
            await server.stop()
        log = server.log_tail(10**9)
    return {"machine": info("cpu"), "fuzz": asdict(result), "exit_code": server.exit_code,
            "tracebacks": log.count("Traceback")}


def main() -> None:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--osc", type=int, default=200_000, help="junk OSC datagrams")
    parser.add_argument("--ws", type=int, default=20_000, help="junk WebSocket messages")
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")
    args = parser.parse_args()
    report = asyncio.run(run(args.osc, args.ws, args.seed))
    if args.json:
        print(json.dumps(report, indent=1))
        return
    f = report["fuzz"]
    print(f"machine: {report['machine']}")
    print(f"OSC: {f['osc_sent']} junk datagrams sent, {f['osc_received']} received, "
          f"{f['osc_refused']} refused")
    print(f"WebSocket: {f['ws_sent']} junk messages sent, {f['ws_replies']} replies, "
          f"connection {'closed: ' + f['ws_closed'] if f['ws_closed'] else 'kept'}")
    print(f"HTTP and OSCQuery: {f['http_sent']} junk GETs, replies by status {f['http_status']}; "
          f"OSCQuery WebSocket: {f['oscquery_ws_sent']} junk messages, connection "
          f"{'closed: ' + f['oscquery_ws_closed'] if f['oscquery_ws_closed'] else 'kept'}")
    print(f"in {f['seconds']} s; watcher's frame rate {f['fps_during']} fps during, "
          f"{f['fps_before']} before ({f['fps_during'] / max(f['fps_before'], 1e-9):.3f})")
    print(f"parameters moved by junk: {len(f['moved'])} {f['moved'] or ''}")
    print(f"tracebacks in the server log: {report['tracebacks']}; exit code {report['exit_code']}")


if __name__ == "__main__":
    main()

"""Loopback clients: a WebSocket frame reader, a stalled client that never reads, an OSC sender."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from pythonosc.osc_message_builder import OscMessageBuilder
from websockets.asyncio.client import ClientConnection, connect

from live.frames import HEADER, MAGIC


@dataclass
class Arrival:
    """One received frame: when it arrived (Unix s) and its header fields."""

    t: float
    stream: int
    seq: int
    stamp: int
    render_us: int


@dataclass
class FrameReader:
    """Reads every frame as fast as it comes and notes each arrival."""

    port: int
    arrivals: list[Arrival] = field(default_factory=list)
    ws: ClientConnection | None = None
    task: asyncio.Task | None = None
    _replies: dict[int, asyncio.Future] = field(default_factory=dict)
    _next_id: int = 0

    async def start(self) -> None:
        self.ws = await connect(f"ws://127.0.0.1:{self.port}/ws", compression=None,
                                max_size=64 * 1024 * 1024, open_timeout=30)
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        unpack = HEADER.unpack_from
        with contextlib.suppress(Exception):
            async for message in self.ws:
                if isinstance(message, bytes) and message[:4] == MAGIC:
                    _, _, stream, _, _, _, seq, stamp, render_us, _ = unpack(message)
                    self.arrivals.append(Arrival(time.time(), stream, seq, stamp, render_us))
                elif self._replies and isinstance(message, str) and '"id"' in message:
                    reply = self._replies.pop(json.loads(message).get("id"), None)
                    if reply is not None and not reply.done():
                        reply.set_result(time.perf_counter())

    async def round_trip(self, timeout: float = 2.0) -> float | None:
        """Seconds from a JSON `get` sent to its reply: how free the server's event loop is."""
        assert self.ws is not None
        self._next_id += 1
        reply = asyncio.get_running_loop().create_future()
        self._replies[self._next_id] = reply
        t0 = time.perf_counter()
        await self.ws.send(json.dumps({"op": "get", "path": "/visual/fps", "id": self._next_id}))
        try:
            return await asyncio.wait_for(reply, timeout) - t0
        except TimeoutError:
            self._replies.pop(self._next_id, None)
            return None

    def count(self, t0: float, t1: float) -> int:
        return sum(1 for a in self.arrivals if t0 <= a.t < t1)

    def fps(self, t0: float, t1: float) -> float:
        return self.count(t0, t1) / (t1 - t0)

    def latest_stamp(self) -> int | None:
        return self.arrivals[-1].stamp if self.arrivals else None

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 2.0)
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task


class StalledClient:
    """Completes the WebSocket handshake and then never reads a byte (a frozen browser tab)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fill up quickly
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, ("127.0.0.1", self.port))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n")
        await loop.sock_sendall(sock, request.encode())
        self.sock = sock

    def backlog(self) -> int | None:
        """Bytes the server has queued in the kernel for this client (Linux /proc/net/tcp)."""
        if self.sock is None:
            return None
        return send_queue(self.port, self.sock.getsockname()[1])

    async def fill(self, timeout: float = 10.0) -> int | None:
        """Wait until the server's socket buffer to us stops growing: the server is blocked on us."""
        deadline = time.monotonic() + timeout
        last, since = self.backlog(), time.monotonic()
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            now = self.backlog()
            if now is None:
                await asyncio.sleep(deadline - time.monotonic())  # no /proc: wait it out
                return None
            if now != last:
                last, since = now, time.monotonic()
            elif now > 0 and time.monotonic() - since >= 0.5:
                break
        return last

    async def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def send_queue(server_port: int, client_port: int) -> int | None:
    """tx_queue of the server's end of a loopback TCP connection, or None if it is not found."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            f = row.split()
            if (int(f[1].rsplit(":", 1)[1], 16) == server_port
                    and int(f[2].rsplit(":", 1)[1], 16) == client_port):
                return int(f[4].split(":")[0], 16)
    return None


class OscSender:
    """Sends OSC messages to a server's UDP port from one socket."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))

    def send(self, address: str, *args: float | int | str) -> float:
        """Send one message; return the Unix time it left."""
        builder = OscMessageBuilder(address)
        for arg in args:
            builder.add_arg(arg)
        data = builder.build().dgram
        t = time.time()
        self.sock.sendto(data, self.target)
        return t

    def close(self) -> None:
        self.sock.close()

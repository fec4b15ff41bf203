"""Helpers shared by the tests: an OSC receiver, OSC sends, frames and JSON off a WebSocket,
clean stops, the replay command, and a started clock."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pretty_midi
from PIL import Image
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from live.clock import Clock
from live.frames import unpack
from tests.conftest import PATCHES, ROOT, Server, start_server

MUSIC = PATCHES / "music.toml"


def started_clock(bpm: float = 120.0, **kw: Any) -> Clock:
    """A Clock whose beat 0 is now."""
    clock = Clock(bpm=bpm, **kw)
    clock.start()
    return clock


# -- a real OSC receiver ---------------------------------------------------------------------
@dataclass
class Received:
    at: float  # time.monotonic() on arrival
    address: str
    args: list[Any]
    timetag: int | None  # the raw 64-bit NTP timetag when it came in a bundle


class OscSink:
    """A UDP socket on 127.0.0.1 that keeps every OSC message it receives, bundles opened."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.items: list[Received] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self.sock.recvfrom(65536)
            except (TimeoutError, OSError):
                continue
            at = time.monotonic()
            if data.startswith(b"#bundle"):
                tag = struct.unpack(">Q", data[8:16])[0]
                for msg in OscBundle(data):
                    self.items.append(Received(at, msg.address, list(msg.params), tag))
            else:
                msg = OscMessage(data)
                self.items.append(Received(at, msg.address, list(msg.params), None))

    def of(self, address: str) -> list[Received]:
        return [r for r in list(self.items) if r.address == address]

    def count(self, address: str) -> int:
        return len(self.of(address))

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; received {Counter(r.address for r in self.items)}")
            time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def open_sink() -> Iterator[OscSink]:
    """Fixture body: an OscSink, closed after the test."""
    s = OscSink()
    yield s
    s.close()


def osc(address: str, *args: Any) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def send(server: Server, address: str, *args: Any, reply: bool = False) -> str | None:
    """Send one OSC message to the server; with reply, return the /error text (None if none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(1.5)
        s.sendto(osc(address, *args), server.osc)
        if not reply:
            return None
        try:
            data, _ = s.recvfrom(65536)
        except TimeoutError:
            return None
    msg = OscMessage(data)
    assert msg.address == "/error"
    return msg.params[0]


# -- a WebSocket client's view ------------------------------------------------------------------
async def recv_frames(ws, n: int, timeout: float = 20.0) -> list[tuple]:
    """The next n binary frames (info, payload), skipping JSON messages."""
    out = []
    async with asyncio.timeout(timeout):
        while len(out) < n:
            msg = await ws.recv()
            if isinstance(msg, bytes):
                out.append(unpack(msg))
    return out


async def log_frames(ws, out: list[tuple[float, Any]], stop: asyncio.Event) -> None:
    """(arrival on the monotonic clock, FrameInfo) of every binary frame, until stop is set."""
    while not stop.is_set():
        try:
            async with asyncio.timeout(0.5):
                msg = await ws.recv()
        except TimeoutError:
            continue
        if isinstance(msg, bytes):
            out.append((time.monotonic(), unpack(msg)[0]))


def longest_gap(times: list[float]) -> float:
    """The longest pause between consecutive times."""
    return max(b - a for a, b in zip(times, times[1:], strict=False))


async def recv_json(ws, op: str, timeout: float = 10.0) -> dict:
    """The next JSON message whose op is `op`, skipping everything else."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.recv()
            if isinstance(msg, str) and (data := json.loads(msg))["op"] == op:
                return data


def decode(payload: bytes) -> np.ndarray:
    """A JPEG frame payload as float RGB pixels."""
    return np.asarray(Image.open(io.BytesIO(payload)).convert("RGB"), dtype=np.float32)


# -- servers and recordings ----------------------------------------------------------------------
def server_runner(tmp_path: Path, sink: OscSink) -> Iterator[Callable[..., Server]]:
    """Fixture body: start servers that send OSC to the sink and record into tmp_path/rec."""
    started: list[Server] = []

    def run(*args: str, patch: Path = MUSIC, env: dict[str, str] | None = None) -> Server:
        srv = start_server("--osc-out", sink.target, "--record", str(tmp_path / "rec"), *args,
                           patch=patch, env=env)
        started.append(srv)
        return srv

    yield run
    for srv in started:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()


def write_patch(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "patch.toml"
    path.write_text(text)
    return path


def stop_cleanly(server: Server, sink: OscSink) -> None:
    assert server.stop(signal.SIGTERM) == 0, "".join(server.stderr_lines)
    time.sleep(0.3)  # the last note-offs are in flight on loopback


def replay(folder: Path, *args: str) -> tuple[int, dict]:
    """Run `python -m live.record.replay FOLDER ARGS`: its exit code and its JSON summary."""
    proc = subprocess.run([sys.executable, "-m", "live.record.replay", str(folder), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {}


def midi_notes(rec: Path) -> list[pretty_midi.Note]:
    pm = pretty_midi.PrettyMIDI(str(rec / "performance.mid"))
    return sorted((n for inst in pm.instruments for n in inst.notes), key=lambda n: n.start)


def assert_no_hanging_notes(sink: OscSink, address: str = "/music") -> None:
    """Per pitch, every note-on is matched by a later note-off, and none is left on."""
    on: Counter[int] = Counter()
    for r in list(sink.items):
        if r.address == f"{address}/noteon":
            on[r.args[0]] += 1
        elif r.address == f"{address}/noteoff" and on[r.args[0]] > 0:
            on[r.args[0]] -= 1
    assert +on == Counter(), f"hanging notes: {+on}"

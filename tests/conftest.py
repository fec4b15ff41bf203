"""Shared fixtures: a real livegen server in a subprocess on free loopback ports."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.livetools import OscSink

ROOT = Path(__file__).resolve().parent.parent
PATCHES = Path(__file__).resolve().parent / "patches"
READY_TIMEOUT_S = 60.0


def poll_until(done: Callable[[], bool], timeout: float = 30.0, step: float = 0.02) -> None:
    """Sleep in small steps until done() or timeout; the caller asserts what it needs."""
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        time.sleep(step)


@dataclass
class Server:
    """A running server process and what its ready line said."""

    proc: subprocess.Popen
    ready: dict[str, Any]
    stderr_lines: list[str] = field(default_factory=list)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.ready['http_port']}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.ready['http_port']}/ws"

    @property
    def osc(self) -> tuple[str, int]:
        return ("127.0.0.1", self.ready["osc_port"])

    def get(self, path: str) -> tuple[int, bytes]:
        """HTTP GET on the server's loopback port: (status, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.ready["http_port"], timeout=10)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def get_json(self, path: str) -> Any:
        status, body = self.get(path)
        assert status == 200, (path, status, body[:200])
        return json.loads(body)

    def param(self, path: str) -> Any:
        return next(p for p in self.get_json("/schema")["params"] if p["path"] == path)["value"]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


def start_server(*args: str, patch: str | Path = PATCHES / "small.toml",
                 env: dict[str, str] | None = None) -> Server:
    """Start server.py on free ports and wait for its ready line."""
    cmd = [sys.executable, str(ROOT / "server.py"), "--patch", str(patch), "--port", "0",
           "--osc-port", "0", "--oscquery-port", "0", *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})})
    stderr_lines: list[str] = []
    threading.Thread(target=lambda: stderr_lines.extend(proc.stderr), daemon=True).start()
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(READY_TIMEOUT_S)
    if not line or not line[0].strip():
        proc.kill()
        proc.wait()
        time.sleep(0.1)
        raise RuntimeError("server gave no ready line:\n" + "".join(stderr_lines))
    ready = json.loads(line[0])
    assert ready["event"] == "ready"
    return Server(proc, ready, stderr_lines)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """One server per test module; tests that stop it start their own."""
    srv = start_server()
    try:
        yield srv
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()


@pytest.fixture(name="sink")
def sink_fixture() -> Iterator[OscSink]:
    """A real UDP OSC receiver on loopback for what the server sends out."""
    from tests.livetools import open_sink  # livetools imports this module

    yield from open_sink()


@pytest.fixture(name="run_server")
def run_server_fixture(tmp_path: Path, sink: OscSink) -> Iterator[Callable[..., Server]]:
    """Starts servers that send their OSC to `sink`; stops them after the test."""
    from tests.livetools import server_runner

    yield from server_runner(tmp_path, sink)

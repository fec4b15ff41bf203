"""Servers under test as subprocesses: start to the ready line, resident memory, clean stop."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.machine import ROOT

READY_TIMEOUT_S = 120.0
LOG_DIR: Path | None = None  # keep each server's stderr here (--out DIR/logs), else a temp file
_started = 0


class ServerProcess:
    """One server (ours: server.py, or the naive baseline) on free loopback ports."""

    def __init__(self, patch: Path, *, naive: bool = False, device: str = "cpu",
                 env: dict[str, str] | None = None) -> None:
        self.patch = patch
        self.naive = naive
        self.device = device
        self.env = env or {}
        self.proc: asyncio.subprocess.Process | None = None
        self.ready: dict[str, Any] = {}
        self.startup_s = float("nan")
        self.stop_s = float("nan")
        self.exit_code: int | None = None
        global _started
        _started += 1
        if LOG_DIR is not None:
            LOG_DIR.mkdir(parents=True, exist_ok=True)
            stem = "naive" if naive else patch.stem
            self._log = open(LOG_DIR / f"{_started:02d}-{stem}.log", "w+")  # noqa: SIM115
        else:
            self._log = tempfile.NamedTemporaryFile("w+", prefix="livegen-bench-", suffix=".log")
        # OSC out goes to a socket of ours (read by a bench that wants the notes, else by nobody),
        # not to another program's port 9001.
        self.osc_sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.osc_sink.bind(("127.0.0.1", 0))

    @property
    def name(self) -> str:
        return "naive" if self.naive else "livegen"

    def command(self) -> list[str]:
        entry = ["-m", "bench.naive"] if self.naive else [str(ROOT / "server.py"), "--oscquery-port", "0"]
        sink = f"127.0.0.1:{self.osc_sink.getsockname()[1]}"
        return [sys.executable, *entry, "--patch", str(self.patch), "--port", "0", "--osc-port", "0",
                "--osc-out", sink, "--device", self.device]

    async def start(self) -> dict[str, Any]:
        """Spawn, wait for the ready line; record the seconds from spawn to it."""
        t0 = time.perf_counter()
        self.proc = await asyncio.create_subprocess_exec(
            *self.command(), cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=self._log,
            env={**os.environ, **self.env})
        assert self.proc.stdout is not None
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                while True:
                    line = await self.proc.stdout.readline()
                    if not line:
                        raise RuntimeError(f"{self.name} server exited before its ready line:\n"
                                           + self.log_tail())
                    try:
                        msg = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(msg, dict) and msg.get("event") == "ready":
                        break
        except TimeoutError:
            await self.kill()
            raise RuntimeError(f"{self.name} server gave no ready line in {READY_TIMEOUT_S} s:\n"
                               + self.log_tail()) from None
        self.startup_s = time.perf_counter() - t0
        self.ready = msg
        return msg

    @property
    def port(self) -> int:
        return int(self.ready["http_port"])

    @property
    def osc(self) -> tuple[str, int]:
        return ("127.0.0.1", int(self.ready["osc_port"]))

    def rss_mib(self) -> float | None:
        """Resident memory of the server process, MiB (Linux /proc)."""
        if self.proc is None:
            return None
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
        except OSError:
            pass
        return None

    def cpu_s(self) -> tuple[float, dict[int, float]]:
        """CPU seconds (user + system) of the server process and of each of its threads."""
        if self.proc is None:
            return 0.0, {}
        return cpu_seconds(self.proc.pid)

    def log_tail(self, n: int = 4000) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read()[-n:]

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM; record the seconds to exit; kill if it does not stop in time."""
        if self.proc is None or self.proc.returncode is not None:
            return
        t0 = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(timeout):
                self.exit_code = await self.proc.wait()
            self.stop_s = time.perf_counter() - t0
        except TimeoutError:
            await self.kill()
        finally:
            self.osc_sink.close()

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    async def __aenter__(self) -> ServerProcess:
        try:
            await self.start()
        except BaseException:
            await self.kill()
            self.osc_sink.close()
            self._log.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
        self._log.close()


def _stat_seconds(path: Path) -> float:
    fields = path.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def cpu_seconds(pid: int) -> tuple[float, dict[int, float]]:
    """CPU seconds of a process and of each thread (Linux /proc); zeros elsewhere."""
    base = Path(f"/proc/{pid}")
    try:
        total = _stat_seconds(base / "stat")
    except (OSError, IndexError, ValueError):
        return 0.0, {}
    threads: dict[int, float] = {}
    for task in base.glob("task/*"):
        try:
            threads[int(task.name)] = _stat_seconds(task / "stat")
        except (OSError, IndexError, ValueError):
            pass
    return total, threads

"""The app: builds the runtime from a patch, warms every voice, opens every socket."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from live.clock import Clock
from live.engine import Engine
from live.frames import FrameBus
from live.link import LinkSync
from live.osc import OscIn, OscOut
from live.params import ParamError, Registry
from live.patch import Patch, PatchError
from live.recorder import Recorder
from live.runtime import EventBus, Runtime
from live.scheduler import Scheduler
from live.sender import NoteSender
from live.visual import VisualVoice
from live.websocket import WebServer
from models.device import pick_device

log = logging.getLogger("livegen")


class Voice(Protocol):
    """What the app asks of every voice."""

    name: str
    kind: str

    async def load(self) -> None: ...
    def add_params(self, registry: Registry) -> None: ...
    def begin(self) -> None: ...
    async def stop(self) -> None: ...
    def status(self) -> dict[str, Any]: ...


@dataclass
class Options:
    """Resolved settings: command line over patch [server] over defaults."""

    host: str = "127.0.0.1"
    port: int = 8765
    osc_port: int = 9000
    osc_out: list[tuple[str, int]] = field(default_factory=lambda: [("127.0.0.1", 9001)])
    device: str = "auto"
    record: str | None = None
    seed: int = 0


class StartupError(Exception):
    """Start-up cannot go on; the message says what to fix."""


def make_voice(name: str, spec: dict[str, Any], rt: Runtime, visual_index: int) -> Voice:
    kind = spec["kind"]
    if kind == "visual":
        return VisualVoice(name, visual_index, spec, rt)
    try:
        if kind == "music":
            from live.music import MusicVoice

            return MusicVoice(name, spec, rt)
        if kind == "text":
            from live.text import TextVoice

            return TextVoice(name, spec, rt)
    except ValueError as e:
        raise PatchError(str(e)) from None
    raise PatchError(f"voice {name!r}: kind {kind!r} is not available in this build")


class App:
    """One livegen server process."""

    def __init__(self, patch: Patch, options: Options) -> None:
        self.patch = patch
        self.options = options
        self.started = time.monotonic()
        self.voices: dict[str, Voice] = {}
        self._tasks: list[asyncio.Task] = []
        self.osc_transport: asyncio.DatagramTransport | None = None

    async def start(self) -> dict[str, Any]:
        """Warm every voice and open every socket; return the ready line's fields."""
        loop = asyncio.get_running_loop()
        try:
            device = pick_device(self.options.device)
        except ValueError as e:
            raise StartupError(str(e)) from None
        # On a CPU, leave a core to the event loop and the encoders.
        threads = max(1, (os.cpu_count() or 2) - 1) if device.type == "cpu" else None
        engine = Engine(device, threads)
        engine.start()
        self.rt = Runtime(
            registry=Registry(), engine=engine, loop=loop, frames=FrameBus(),
            events=EventBus(loop), osc_out=OscOut(self.options.osc_out),
            encode_pool=ThreadPoolExecutor(2, thread_name_prefix="encode"),
            seed=self.options.seed,
        )
        # The clock and the note scheduler exist before the voices, which time by them.
        from live.music import TIMETAG_LEAD_S

        clock = Clock(horizon_s=TIMETAG_LEAD_S + 0.01)
        clock.add_params(self.rt.registry)
        self.rt.extras["clock"] = clock
        link = self.rt.extras["link"] = LinkSync(clock, self.rt.registry)
        link.add_params()
        # In-process deliveries (text; MIDI follows the sender's confirmations) need less: a
        # short spin, and a 1 ms GIL switch interval (5 ms by default) for every thread here.
        self.rt.extras["scheduler"] = Scheduler(clock, spin_s=0.0005, switch_interval_s=0.001)
        # Timed OSC leaves from a child process with its own GIL (see live/sender.py).
        sender = self.rt.extras["sender"] = NoteSender(self.options.osc_out)
        clock.on_tempo(lambda seg: sender.tempo(clock))
        self.rt.registry.watch("/clock/beats_per_bar", lambda c: sender.beats(c.value))
        if self.options.record:
            try:
                recorder = Recorder(self.options.record, clock.origin_epoch, {
                    "seed": self.options.seed, "patch": str(self.patch.path),
                    "patch_text": self.patch.path.read_text(encoding="utf-8"),
                    "device": str(device), "started": time.time()})
            except OSError as e:
                raise StartupError(f"cannot record into {self.options.record}: {e}") from None
            self.rt.extras["recorder"] = recorder
            self.rt.registry.listen(recorder.control)
            clock.on_tempo(recorder.tempo)
        visual_index = 0
        for name, spec in self.patch.voices.items():
            self.voices[name] = make_voice(name, spec, self.rt, visual_index)
            visual_index += spec["kind"] == "visual"
        for voice in self.voices.values():
            await voice.load()
            voice.add_params(self.rt.registry)
        for path, value in self.patch.param_values():
            try:
                self.rt.registry.set(path, value, source="patch")
            except ParamError as e:
                raise PatchError(f"patch file {self.patch.path}: {e}") from None

        self.web = WebServer(self.rt, self.status)
        self.osc_in = OscIn(self.rt.registry)
        for voice in self.voices.values():
            for address, handler in getattr(voice, "routes", dict)().items():
                self.osc_in.route(address, handler)
        host = self.options.host
        try:
            http_port = await self.web.start(host, self.options.port)
        except OSError as e:
            raise StartupError(f"cannot listen for HTTP/WebSocket on {host}:"
                               f"{self.options.port}: {e.strerror or e}") from None
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: self.osc_in, local_addr=(host, self.options.osc_port))
        except OSError as e:
            raise StartupError(f"cannot listen for OSC on {host}:{self.options.osc_port} "
                               f"(UDP): {e.strerror or e}") from None
        self.osc_transport = transport
        osc_port = transport.get_extra_info("sockname")[1]

        clock.start()
        if "recorder" in self.rt.extras:
            self.rt.extras["recorder"].rebase(clock.origin_epoch)
        self.rt.extras["scheduler"].start()
        sender.beats(clock.beats_per_bar)
        for voice in self.voices.values():
            voice.begin()
        self._tasks.append(asyncio.create_task(self._status_ticker()))
        untrained = [n for n, v in self.voices.items() if v.status().get("trained") is False]
        for name in untrained:
            log.warning("voice %r runs an UNTRAINED model (%s): expect noise, not art",
                        name, self.voices[name].status().get("model"))
        return {
            "event": "ready", "http_port": http_port, "osc_port": osc_port, "host": host,
            "device": str(device), "voices": {n: v.kind for n, v in self.voices.items()},
            "untrained": untrained, "patch": str(self.patch.path), "pid": os.getpid(),
            "record": self.options.record,
        }

    async def _status_ticker(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.web.broadcast_status()

    def status(self) -> dict[str, Any]:
        return {
            "voices": {n: v.status() for n, v in self.voices.items()},
            "clients": len(self.web.clients),
            "uptime_s": round(time.monotonic() - self.started, 3),
            "stamp": self.rt.registry.stamp,
            "device": str(self.rt.engine.device),
            "osc": {"received": self.osc_in.received, "errors": self.osc_in.errors,
                    "sent": self.rt.osc_out.sent},
            "clock": self.rt.extras["clock"].status() | {"link": self.rt.extras["link"].status()},
            "scheduler": self.rt.extras["sender"].stats(),
            "local_scheduler": self.rt.extras["scheduler"].stats(),
            "recording": self.rt.extras["recorder"].status() if "recorder" in self.rt.extras
            else None,
        }

    async def stop(self) -> None:
        """Stop voices first (they send their note-offs), then sockets, then threads."""
        for task in self._tasks:
            task.cancel()
        for voice in self.voices.values():
            try:
                await asyncio.wait_for(voice.stop(), 2.0)
            except Exception:
                log.exception("voice %s did not stop cleanly", voice.name)
        if hasattr(self, "rt"):
            if "scheduler" in self.rt.extras:
                self.rt.extras["scheduler"].stop()
            if "sender" in self.rt.extras:
                self.rt.extras["sender"].close()
            if "recorder" in self.rt.extras:
                self.rt.extras["recorder"].close()
        if self.osc_transport is not None:
            self.osc_transport.close()
        if hasattr(self, "web"):
            await self.web.stop()
        if hasattr(self, "rt"):
            self.rt.engine.stop()
            self.rt.encode_pool.shutdown(wait=False, cancel_futures=True)
            self.rt.osc_out.close()

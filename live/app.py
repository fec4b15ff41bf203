"""The app: builds the runtime from a patch, warms every voice, opens every socket."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from live.clock import Clock
from live.control.service import Control, latent_reader
from live.control.timing import ControlError
from live.engine import Engine
from live.events import EventBus
from live.frames import FrameBus
from live.io.link import LinkSync
from live.io.midi_clock import MidiClock
from live.io.osc import OscIn, OscOut
from live.io.oscquery import DEFAULT_PORT as OSCQUERY_PORT
from live.io.oscquery import OscQueryServer
from live.io.sender import NoteSender
from live.io.websocket import WebServer
from live.params import ParamError, Registry
from live.patch import Patch, PatchError
from live.record.recorder import Recorder
from live.runtime import Runtime
from live.scheduler import Scheduler
from live.voices.kit import Voice
from live.voices.music import MusicVoice
from live.voices.music_delivery import TIMETAG_LEAD_S
from live.voices.text import TextVoice
from live.voices.visual import VisualVoice
from models.device import pick_device

log = logging.getLogger("livegen")


@dataclass
class Options:
    """Resolved settings: command line over patch [server] over defaults."""

    host: str = "127.0.0.1"
    port: int = 8765
    osc_port: int = 9000
    oscquery_port: int = OSCQUERY_PORT
    osc_out: list[tuple[str, int]] = field(default_factory=lambda: [("127.0.0.1", 9001)])
    device: str = "auto"
    record: str | None = None
    seed: int = 0


class StartupError(Exception):
    """Start-up cannot go on; the message says what to fix."""


def make_voice(name: str, spec: dict[str, Any], rt: Runtime, visual_index: int) -> Voice:
    """The voice a patch table describes; PatchError for a kind or a setting that is refused."""
    kind = spec["kind"]
    try:
        if kind == "visual":
            return VisualVoice(name, visual_index, spec, rt)
        if kind == "music":
            return MusicVoice(name, spec, rt)
        if kind == "text":
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
        self.rt: Runtime | None = None
        self.web: WebServer | None = None
        self.osc_in: OscIn | None = None
        self.osc_transport: asyncio.DatagramTransport | None = None
        self.oscquery: OscQueryServer | None = None
        self.control: Control | None = None
        self.midi_clock: MidiClock | None = None

    async def start(self) -> dict[str, Any]:
        """Warm every voice and open every socket; return the ready line's fields."""
        try:
            device = pick_device(self.options.device)
        except ValueError as e:
            raise StartupError(str(e)) from None
        rt = self.rt = self._build_runtime(asyncio.get_running_loop(), device)
        await self._load_voices(rt)
        self.control = self._build_control(rt)
        http_port, osc_port = await self._open_sockets(rt)
        rt.clock.start()
        if self.midi_clock is not None:
            self.midi_clock.start()  # clock out from beat 0
        self.control.start()
        if rt.recorder is not None:
            rt.recorder.rebase(rt.clock.origin_unix)
        rt.scheduler.start()
        rt.note_sender.beats(rt.clock.beats_per_bar)
        for voice in self.voices.values():
            voice.begin()
        self._tasks.append(asyncio.create_task(self._status_ticker()))
        notes = {n: v.status().get("note") for n, v in self.voices.items()}
        untrained = [n for n, v in self.voices.items() if v.status().get("trained") is False]
        below_bar = {n: notes[n] for n, v in self.voices.items() if v.status().get("below_bar")}
        for name, note in notes.items():
            if note:
                log.warning("voice %r runs model %s: %s", name, self.voices[name].status().get("model"),
                            note)
        return {
            "event": "ready", "http_port": http_port, "osc_port": osc_port, "host": self.options.host,
            "device": str(device), "voices": {n: v.kind for n, v in self.voices.items()},
            "untrained": untrained, "below_bar": below_bar, "patch": str(self.patch.path),
            "pid": os.getpid(), "record": self.options.record,
            "oscquery_port": self.oscquery.port if self.oscquery is not None else None,
        }

    def _build_runtime(self, loop: asyncio.AbstractEventLoop, device: Any) -> Runtime:
        """The engine thread, the buses, the clock and every delivery path; the recorder."""
        # The clock and the note delivery exist before the voices, which time by them.
        clock = Clock(horizon_s=TIMETAG_LEAD_S + 0.01)
        recorder = self._open_recorder(clock, device)  # first: it is the one that may fail
        # On a CPU, leave a core to the event loop and the encoders.
        threads = max(1, (os.cpu_count() or 2) - 1) if device.type == "cpu" else None
        engine = Engine(device, threads)
        engine.start()
        registry = Registry()
        clock.add_params(registry)
        link = LinkSync(clock, registry)
        link.add_params()
        # Timed OSC leaves from a child process with its own GIL (see live/io/sender.py).
        note_sender = NoteSender(self.options.osc_out)
        clock.on_tempo(lambda seg: note_sender.tempo(clock))
        registry.watch("/clock/beats_per_bar", lambda c: note_sender.beats(c.value))
        rt = Runtime(
            registry=registry, engine=engine, loop=loop, frames=FrameBus(), events=EventBus(loop),
            osc_out=OscOut(self.options.osc_out),
            encode_pool=ThreadPoolExecutor(2, thread_name_prefix="encode"), clock=clock,
            # In-process deliveries (text; MIDI follows the sender's confirmations) need less:
            # a short spin, and a 1 ms GIL switch interval (5 ms by default) for every thread.
            scheduler=Scheduler(clock, spin_s=0.0005, switch_interval_s=0.001),
            note_sender=note_sender, link=link, recorder=recorder,
            seed=self.options.seed)
        if rt.recorder is not None:
            registry.listen(rt.recorder.control)
            clock.on_tempo(rt.recorder.tempo)
        # MIDI clock in and out, /clock/source (before the patch sets [clock] keys).
        self.midi_clock = MidiClock(clock, registry, rt.scheduler, loop, lambda: [
            f"/{n}/play" for n, v in self.voices.items() if v.kind == "music"])
        self.midi_clock.add_params()
        return rt

    def _open_recorder(self, clock: Clock, device: Any) -> Recorder | None:
        if not self.options.record:
            return None
        try:
            return Recorder(self.options.record, clock.origin_unix, {
                "seed": self.options.seed, "patch": str(self.patch.path),
                "patch_text": self.patch.path.read_text(encoding="utf-8"),
                "device": str(device), "started": time.time()})
        except OSError as e:
            raise StartupError(f"cannot record into {self.options.record}: {e}") from None

    async def _load_voices(self, rt: Runtime) -> None:
        visual_index = 0
        for name, spec in self.patch.voices.items():
            self.voices[name] = make_voice(name, spec, rt, visual_index)
            visual_index += spec["kind"] == "visual"
        for voice in self.voices.values():
            await voice.load()
            voice.add_params(rt.registry)
        for path, value in self.patch.param_values():
            try:
                rt.registry.set(path, value, source="patch")
            except ParamError as e:
                raise PatchError(f"patch file {self.patch.path}: {e}") from None

    def _build_control(self, rt: Runtime) -> Control:
        """Mappings, presets, modulators and learn (after every parameter exists)."""
        latents = {n: latent_reader(v) for n, v in self.voices.items() if v.kind == "visual"}
        try:
            return Control(self.patch, rt.registry, rt.clock, rt.loop, latents, rt.events, rt.seed)
        except ControlError as e:
            raise PatchError(str(e)) from None

    async def _open_sockets(self, rt: Runtime) -> tuple[int, int]:
        """HTTP and WebSocket, then OSC in; each voice's routes on them. Returns both ports."""
        web = self.web = WebServer(rt.registry, rt.frames, rt.events, self.status)
        osc_in = self.osc_in = OscIn(rt.registry)
        for voice in self.voices.values():
            for address, handler in voice.osc_routes().items():
                osc_in.route(address, handler)
            for path, route in voice.http_routes().items():
                web.route(path, route)
        if self.control is not None:
            self.control.attach(osc_in)
        host = self.options.host
        try:
            http_port = await web.start(host, self.options.port)
        except OSError as e:
            raise StartupError(f"cannot listen for HTTP/WebSocket on {host}:"
                               f"{self.options.port}: {e.strerror or e}") from None
        try:
            transport, _ = await rt.loop.create_datagram_endpoint(
                lambda: osc_in, local_addr=(host, self.options.osc_port))
        except OSError as e:
            raise StartupError(f"cannot listen for OSC on {host}:{self.options.osc_port} "
                               f"(UDP): {e.strerror or e}") from None
        self.osc_transport = transport
        osc_port = transport.get_extra_info("sockname")[1]
        self.oscquery = OscQueryServer(rt.registry, host, osc_port, rt.loop)
        try:
            await self.oscquery.start(self.options.oscquery_port)
        except OSError as e:
            raise StartupError(f"cannot listen for OSCQuery on {host}:{self.options.oscquery_port}"
                               f": {e.strerror or e}") from None
        return http_port, osc_port

    async def _status_ticker(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            if self.web is not None:
                self.web.broadcast_status()

    def status(self) -> dict[str, Any]:
        """The body of GET /status and of the status topic."""
        rt, web, osc_in = self.rt, self.web, self.osc_in
        assert rt is not None and web is not None and osc_in is not None  # after start()
        return {
            "voices": {n: v.status() for n, v in self.voices.items()},
            "clients": len(web.clients),
            "uptime_s": round(time.monotonic() - self.started, 3),
            "stamp": rt.registry.stamp,
            "device": str(rt.engine.device),
            "osc": {"received": osc_in.received, "errors": osc_in.errors, "sent": rt.osc_out.sent},
            "clock": rt.clock.status() | {"link": rt.link.status(), "midi": (
                self.midi_clock.status() if self.midi_clock is not None else None)},
            "note_sender": rt.note_sender.stats(),
            "scheduler": rt.scheduler.stats(),
            "recording": rt.recorder.status() if rt.recorder is not None else None,
            "control": self.control.status() if self.control is not None else None,
            "oscquery": self.oscquery.status() if self.oscquery is not None else None,
        }

    async def stop(self) -> None:
        """Stop voices first (they send their note-offs), then sockets, then threads."""
        for task in self._tasks:
            task.cancel()
        if self.control is not None:
            self.control.stop()
        for voice in self.voices.values():
            try:
                await asyncio.wait_for(voice.stop(), 2.0)
            except Exception:
                log.exception("voice %s did not stop cleanly", voice.name)
        rt = self.rt
        if self.midi_clock is not None:
            self.midi_clock.close()  # stop goes out before the scheduler ends
        if rt is not None:
            rt.scheduler.stop()
            rt.note_sender.close()
            if rt.recorder is not None:
                rt.recorder.close()
        if self.osc_transport is not None:
            self.osc_transport.close()
        if self.oscquery is not None:
            await self.oscquery.stop()
        if self.web is not None:
            await self.web.stop()
        if rt is not None:
            rt.engine.stop()
            rt.encode_pool.shutdown(wait=False, cancel_futures=True)
            rt.osc_out.close()

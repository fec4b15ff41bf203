"""The app: builds the runtime from a patch, warms every voice, opens every socket."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from live.analysis.hub import AnalysisHub
from live.clock import Clock
from live.control.audio import add_audio_params
from live.control.service import Control, latent_reader, state_dir
from live.control.timing import ControlError
from live.engine import Engine
from live.events import EventBus
from live.frames import FrameBus
from live.io.frames_in import FramesIn
from live.io.link import LinkSync
from live.io.midi_clock import MidiClock
from live.io.osc import OscIn, OscOut
from live.io.oscquery import DEFAULT_PORT as OSCQUERY_PORT
from live.io.oscquery import OscQueryServer
from live.io.sender import NoteSender
from live.io.websocket import WebServer
from live.likes import LikeStore
from live.outputs.setup import Outputs, parse_outputs
from live.params import ParamError, Registry
from live.patch import Patch, PatchError, load_patch
from live.recommend.service import Recommender
from live.record.recorder import Recorder
from live.reload import PatchWatcher, ReloadPlan, apply_values, plan_reload
from live.runtime import Runtime
from live.scheduler import Scheduler
from live.security import Access, exposure
from live.statedb import StateError
from live.statedb import check_folder as check_state
from live.status import BeatPulse, ErrorForwarder, StatusFeed
from live.voices.draw import DrawVoice
from live.voices.input import InputVoice
from live.voices.kit import Voice
from live.voices.music import MusicVoice
from live.voices.music_delivery import TIMETAG_LEAD_S
from live.voices.style import StyleVoice
from live.voices.style_source import VISUAL_KINDS
from live.voices.supervisor import Supervisor
from live.voices.text import TextVoice
from live.voices.visual import VisualVoice
from models.device import pick_device
from models.weights import WeightsError

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
    watch: bool = True  # reload the patch when its file changes
    access: Access = field(default_factory=Access)  # token, origins, OSC sources (live/security)


class StartupError(Exception):
    """Start-up cannot go on; the message says what to fix."""


def make_voice(name: str, spec: dict[str, Any], rt: Runtime, visual_index: int,
               frames_in: FramesIn | None = None,
               voices: Callable[[], dict[str, Voice]] = dict) -> Voice:
    """The voice a patch table describes; PatchError for a kind or a setting that is refused."""
    kind = spec["kind"]
    try:
        if kind == "visual":
            return VisualVoice(name, visual_index, spec, rt)
        if kind == "input":  # a visual stream of frames in (WebSocket or NDI)
            return InputVoice(name, visual_index, spec, rt, frames_in or FramesIn())
        if kind == "music":
            return MusicVoice(name, spec, rt)
        if kind == "text":
            return TextVoice(name, spec, rt)
        if kind == "draw":  # pen strokes from a sketch-RNN (live/voices/draw.py)
            return DrawVoice(name, spec, rt)
        if kind == "style":  # another stream's frames, painted (live/voices/style.py)
            return StyleVoice(name, visual_index, spec, rt, voices)
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
        self.watcher: PatchWatcher | None = None
        self.reloads = 0
        self.reload_error: str | None = None
        self._reloading = asyncio.Lock()
        self.error_forwarder: ErrorForwarder | None = None
        self.supervisor: Supervisor | None = None  # restarts a failing voice (live/voices/supervisor)
        self.frames_in = FramesIn()  # frames clients send, for input voices
        self.outputs = Outputs()  # [outputs]: NDI, WebRTC, Janus, Spout, Syphon

    async def start(self) -> dict[str, Any]:
        """Warm every voice and open every socket; return the ready line's fields."""
        try:
            device = pick_device(self.options.device)
        except ValueError as e:
            raise StartupError(str(e)) from None
        rt = self.rt = self._build_runtime(asyncio.get_running_loop(), device)
        self.supervisor = Supervisor(rt.loop, lambda: self.voices, rt.engine, rt.status)
        await self._load_voices(rt)
        visual = [n for n, v in self.voices.items() if v.kind in VISUAL_KINDS]
        self.outputs.build(parse_outputs(self.patch, visual), rt.registry, self.voices,
                           self.options.host, self.options.access)
        self.control = self._build_control(rt)
        http_port, osc_port = await self._open_sockets(rt)
        serves = await self.outputs.start()
        rt.clock.start()
        if self.midi_clock is not None:
            self.midi_clock.start()  # clock out from beat 0
        self.control.start()
        if rt.recorder is not None:
            rt.recorder.rebase(rt.clock.origin_unix)
        rt.scheduler.start()
        rt.note_sender.beats(rt.clock.beats_per_bar)
        assert rt.status is not None
        BeatPulse(rt.status, rt.scheduler, rt.clock.beat_at, lambda: rt.clock.beats_per_bar).start()
        self.error_forwarder = ErrorForwarder(rt.status)
        logging.getLogger("livegen").addHandler(self.error_forwarder)
        for voice in self.voices.values():
            voice.begin()
        self.supervisor.start()
        self._tasks.append(asyncio.create_task(self._status_ticker()))
        if self.options.watch:
            self.watcher = PatchWatcher(self.patch.path, self.reload_quietly)
            self.watcher.start()
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
            "outputs": serves,
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
        add_audio_params(registry)  # /audio/...: the page's microphone, for mappings and modulators
        link = LinkSync(clock, registry)
        link.add_params()
        # Timed OSC leaves from a child process with its own GIL (see live/io/sender.py).
        note_sender = NoteSender(self.options.osc_out)
        clock.on_tempo(lambda seg: note_sender.tempo(clock))
        registry.watch("/clock/beats_per_bar", lambda c: note_sender.beats(c.value))
        events = EventBus(loop)
        rt = Runtime(
            registry=registry, engine=engine, loop=loop, frames=FrameBus(), events=events,
            osc_out=OscOut(self.options.osc_out),
            encode_pool=ThreadPoolExecutor(2, thread_name_prefix="encode"), clock=clock,
            # In-process deliveries (text; MIDI follows the sender's confirmations) need less:
            # a short spin, and a 1 ms GIL switch interval (5 ms by default) for every thread.
            scheduler=Scheduler(clock, spin_s=0.0005, switch_interval_s=0.001),
            note_sender=note_sender, link=link, recorder=recorder,
            status=StatusFeed(loop, events.publish), seed=self.options.seed)
        rt.analysis = AnalysisHub(registry, loop, events, rt.osc_out, recorder)
        try:
            check_state(state_dir(self.patch))  # a corrupt or locked database: refused, named
            rt.recommend = Recommender(state_dir(self.patch), registry, self.options.seed)
        except ControlError as e:
            raise PatchError(str(e)) from None
        except StateError as e:
            raise StartupError(str(e)) from None
        rt.recommend.open(str(self.patch.path))
        rt.analysis.on_visual = lambda voice, features: self._seen(rt, voice, features)
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
            self.voices[name] = make_voice(name, spec, rt, visual_index, self.frames_in,
                                           lambda: self.voices)
            visual_index += spec["kind"] in VISUAL_KINDS
        for voice in self.voices.values():
            await voice.load()
            voice.add_params(rt.registry)
        apply_values(self.patch, rt.registry, self.patch.param_keys())

    # -- hot reload ----------------------------------------------------------------------
    async def reload(self, path: str | Path | None = None) -> dict[str, Any]:
        """Validate the patch at path (by default the running one's file) and apply it.

        Nothing changes unless the whole patch is valid: new and rebuilt voices load on the
        engine thread while the old patch plays, every value and the control tables are tried
        on a copy of the registry, and only then are voices swapped. Kept voices, their frame
        streams and their sounding notes carry on. Raises PatchError (or WeightsError) naming
        file, line and key; the running patch stays.
        """
        rt = self.rt
        assert rt is not None and self.osc_in is not None and self.web is not None  # after start()
        async with self._reloading:
            file = Path(path) if path is not None else self.patch.path
            if self.watcher is not None:
                self.watcher.follow(file)  # this version is read now: the watch waits for the next
            new = load_patch(file)
            plan = plan_reload(self.patch, new)
            fresh = await self._load_fresh(rt, plan)
            self._try(rt, plan, fresh)
            await self._swap(rt, plan, fresh)
            if self.supervisor is not None:  # a reload is the performer's "try again"
                for name in plan.kept:
                    self.supervisor.unpark(name)
        self.reloads += 1
        self.reload_error = None
        summary = plan.summary()
        log.info("patch %s applied: kept %s, added %s, replaced %s, removed %s, %d values set%s",
                 new.path, plan.kept, plan.added, plan.replaced, plan.removed, len(plan.values),
                 f"; restart to change [server] {plan.needs_restart}" if plan.needs_restart else "")
        if rt.status is not None:
            rt.status.event("reloaded", **summary)
        return summary

    async def reload_quietly(self, path: str | Path | None = None) -> dict[str, Any] | None:
        """reload(), with a refusal logged and published instead of raised (the file watch)."""
        try:
            return await self.reload(path)
        except (PatchError, WeightsError) as e:
            self.reload_error = str(e)
            log.error("patch not reloaded, the running one plays on: %s", e)
            if self.rt is not None and self.rt.status is not None:
                self.rt.status.event("reload_error", error=str(e))
            return None

    async def _load_fresh(self, rt: Runtime, plan: ReloadPlan) -> dict[str, Voice]:
        """Build and load the new and rebuilt voices (engine thread) while the old ones play."""
        indices = {n: v.index for n, v in self.voices.items()
                   if isinstance(v, (VisualVoice, InputVoice, StyleVoice))}
        fresh: dict[str, Voice] = {}
        for name in plan.fresh:
            spec = plan.patch.voices[name]
            if spec["kind"] in VISUAL_KINDS and name not in indices:
                indices[name] = max(indices.values(), default=-1) + 1
            try:
                fresh[name] = make_voice(name, spec, rt, indices.get(name, 0), self.frames_in,
                                         lambda: self.voices)
            except PatchError as e:
                raise PatchError(f"{plan.patch.where(f'voices.{name}')}: {e}") from None
            model = str(spec.get("model", "random"))
            self._model_event(name, model, "loading")
            try:
                await fresh[name].load()
            except WeightsError as e:
                self._model_event(name, model, "failed")
                raise PatchError(f"{plan.patch.where(f'voices.{name}', 'model')}: {e}") from None
            self._model_event(name, model, "ready")
        return fresh

    def _model_event(self, voice: str, model: str, state: str) -> None:
        if self.rt is not None and self.rt.status is not None:
            self.rt.status.event("model", voice=voice, model=model, state=state)

    def _try(self, rt: Runtime, plan: ReloadPlan, fresh: dict[str, Voice]) -> None:
        """Set every value and build the control layer on a copy of the registry."""
        trial = rt.registry.trial()
        for name in plan.removed + plan.replaced:
            trial.remove_under(f"/{name}/")
            trial.remove_under(f"/analysis/{name}/")
        for voice in fresh.values():
            voice.add_params(trial)  # add_params again on the real registry rebinds them
        apply_values(plan.patch, trial, plan.values)
        trial.remove_under("/preset/")  # the control layer adds its own
        latents = {n: latent_reader(v) for n, v in fresh.items() if v.kind == "visual"}
        latents |= {n: latent_reader(self.voices[n]) for n in plan.kept
                    if self.voices[n].kind == "visual"}
        try:
            Control(plan.patch, trial, rt.clock, rt.loop, latents, None, rt.seed).stop()
        except ControlError as e:
            raise PatchError(str(e)) from None

    async def _swap(self, rt: Runtime, plan: ReloadPlan, fresh: dict[str, Voice]) -> None:
        """Apply a tried plan: the old control layer out, voices swapped, the new one in."""
        osc_in, web = self.osc_in, self.web
        assert osc_in is not None and web is not None
        old_control = self.control
        if old_control is not None:
            old_control.stop()
            for address in old_control.osc_routes():
                osc_in.routes.pop(address, None)
            osc_in.fallback = None
        rt.registry.remove_under("/preset/")
        for name in plan.removed + plan.replaced:
            await self._retire(self.voices.pop(name), fresh.get(name))
        for voice in fresh.values():
            voice.add_params(rt.registry)
            for address, handler in voice.osc_routes().items():
                osc_in.route(address, handler)
            for route, answer in voice.http_routes().items():
                web.route(route, answer)
            if rt.analysis is not None:
                web.route(f"/analysis/{voice.name}", self._analysis_of(rt.analysis, voice.name))
        self.voices = {n: fresh.get(n) or self.voices[n] for n in plan.patch.voices}
        self.outputs.attach(self.voices)  # outputs follow their voice's name to a rebuilt voice
        apply_values(plan.patch, rt.registry, plan.values)  # tried: refused by nothing now
        self.patch = plan.patch
        self.control = self._build_control(rt)
        self.control.attach(osc_in)
        self._feed_analysis(rt, self.control)
        self._patch_routes(osc_in)
        if old_control is not None:  # modulation that the new patch does not have ends
            for path in set(old_control.modulators.targets) - set(self.control.modulators.targets):
                if path in rt.registry:
                    rt.registry.modulate(path, 0.0)
        self.control.start()
        for voice in fresh.values():
            voice.begin()
        if self.oscquery is not None:
            self.oscquery.refresh()

    def _seen(self, rt: Runtime, voice: str, features: dict[str, Any]) -> None:
        """A measured frame of a visual voice, with its latent, to the recommender."""
        if rt.recommend is not None and voice in self.voices:
            rt.recommend.seen(voice, features, latent_reader(self.voices[voice])())

    def _liked(self, rt: Runtime, like: dict[str, Any]) -> None:
        """A like from a page (stored by the like store): recorded, and learned from."""
        if rt.recorder is not None:
            rt.recorder.write(like)
        if rt.recommend is not None and like.get("voice") in rt.recommend.tastes:
            try:
                rt.recommend.like(like["voice"])
            except ParamError as e:
                log.warning("%s", e)

    @staticmethod
    def _analysis_of(hub: AnalysisHub, voice: str) -> Callable[[], dict[str, Any]]:
        """GET /analysis/NAME: that voice's latest measurement."""
        def answer() -> dict[str, Any]:
            return {"voice": voice, **hub.latest.get(voice, {"measured": False})}
        return answer

    @staticmethod
    def _feed_analysis(rt: Runtime, control: Control) -> None:
        """Analysis values reach mappings and envelopes as if they came in over OSC."""
        if rt.analysis is not None:
            rt.analysis.control = lambda address, args: (control.mapper.osc(address, args),
                                                         control.modulators.osc(address, args))

    async def _retire(self, old: Voice, successor: Voice | None) -> None:
        """Stop a voice that is gone or rebuilt; its routes and parameters go with it."""
        rt, osc_in, web = self.rt, self.osc_in, self.web
        assert rt is not None and osc_in is not None and web is not None
        await old.stop()
        if self.supervisor is not None:
            self.supervisor.forget(old.name)
        for address in old.osc_routes():
            osc_in.routes.pop(address, None)
        for route in old.http_routes():
            web.routes.pop(route, None)
        rt.registry.remove_under(f"/{old.name}/")
        if rt.analysis is not None:
            rt.analysis.forget(old.name)
            web.routes.pop(f"/analysis/{old.name}", None)
        streams = (VisualVoice, InputVoice, StyleVoice)
        if isinstance(old, streams) and isinstance(successor, streams):
            successor.seq = old.seq  # the stream goes on: clients keep newest-wins by sequence

    def _patch_routes(self, osc_in: OscIn) -> None:
        """/patch/reload (the file again) and /patch/load s (another file), answered to the sender."""
        def run(path: str | None, sender: tuple[str, int]) -> None:
            async def go() -> None:
                try:
                    summary = await self.reload(path)
                except (PatchError, WeightsError) as e:
                    self.reload_error = str(e)
                    log.error("patch not reloaded, the running one plays on: %s", e)
                    osc_in.reply(sender, "/patch/error", str(e)[:1000])
                    return
                osc_in.reply(sender, "/patch/reloaded", summary["patch"], summary["values"])
            rt = self.rt
            assert rt is not None
            rt.loop.create_task(go())

        def load(args: list[Any], sender: tuple[str, int]) -> None:
            if len(args) != 1 or not isinstance(args[0], str) or not args[0]:
                raise ParamError("/patch/load: expected s (the patch file's path)")
            run(args[0], sender)

        osc_in.route("/patch/reload", lambda args, sender: run(None, sender))
        osc_in.route("/patch/load", load)

    def _build_control(self, rt: Runtime) -> Control:
        """Mappings, presets, modulators and learn (after every parameter exists)."""
        latents = {n: latent_reader(v) for n, v in self.voices.items() if v.kind == "visual"}
        try:
            return Control(self.patch, rt.registry, rt.clock, rt.loop, latents, rt.events, rt.seed)
        except ControlError as e:
            raise PatchError(str(e)) from None

    async def _open_sockets(self, rt: Runtime) -> tuple[int, int]:
        """HTTP and WebSocket, then OSC in; each voice's routes on them. Returns both ports."""
        likes = LikeStore(state_dir(self.patch), rt.registry, lambda: self.voices,
                          lambda like: self._liked(rt, like),
                          lambda voice: rt.analysis.latest.get(voice, {}) if rt.analysis else {})
        access = self.options.access
        web = self.web = WebServer(rt.registry, rt.frames, rt.events, self.status, likes, access)
        osc_in = self.osc_in = OscIn(rt.registry)
        osc_in.allow = access.osc_ok
        web.commands = osc_in.routes  # the page's preset and bookmark buttons call these
        web.frames_in = self.frames_in.receive  # binary LGF1 messages from clients
        for voice in self.voices.values():
            for address, handler in voice.osc_routes().items():
                osc_in.route(address, handler)
            for path, route in voice.http_routes().items():
                web.route(path, route)
        if self.control is not None:
            self.control.attach(osc_in)
            self._feed_analysis(rt, self.control)
        if rt.analysis is not None:
            web.route("/analysis", rt.analysis.answer)
            for name in self.voices:
                web.route(f"/analysis/{name}", self._analysis_of(rt.analysis, name))
        if rt.recommend is not None:
            web.route("/recommend", rt.recommend.answer)
            web.route("/recommend/presets", rt.recommend.presets)
        self._patch_routes(osc_in)
        if rt.status is not None:
            rt.status.reply = osc_in.reply
            for address, handler in rt.status.osc_routes().items():
                osc_in.route(address, handler)
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
        self.oscquery = OscQueryServer(rt.registry, host, osc_port, rt.loop, lambda: list(osc_in.routes))
        self.oscquery.allow = access.osc_ok
        log.info("%s", exposure(host, access))
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
            status = self.rt.status if self.rt is not None else None
            if status is not None and status.subscribers:  # the WebSocket has them in the above
                for name, voice in self.voices.items():
                    if isinstance(voice, VisualVoice):
                        status.event("fps", ws=False, voice=name, fps=round(voice.measured_fps(), 2))

    def status(self) -> dict[str, Any]:
        """The body of GET /status and of the status topic."""
        rt, web, osc_in = self.rt, self.web, self.osc_in
        assert rt is not None and web is not None and osc_in is not None  # after start()
        return {
            "voices": {n: v.status() | self._supervision(n) for n, v in self.voices.items()},
            "supervisor": self.supervisor.summary() if self.supervisor is not None else None,
            "clients": len(web.clients),
            "websocket": web.counts(),
            "process": process_counts(),
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
            "status_feed": rt.status.status() if rt.status is not None else None,
            "outputs": self.outputs.status(),
            "frames_in": self.frames_in.status(),
            "patch": {"path": str(self.patch.path), "reloads": self.reloads,
                      "error": self.reload_error, "watch": self.watcher is not None},
        }

    def _supervision(self, name: str) -> dict[str, Any]:
        return {"supervision": self.supervisor.entry(name)} if self.supervisor is not None else {}

    def _stop_watching(self) -> None:
        """The periodic tasks, the patch watch, the error forwarding and the control layer."""
        for task in self._tasks:
            task.cancel()
        if self.supervisor is not None:
            self.supervisor.stop()
        if self.watcher is not None:
            self.watcher.stop()
        if self.error_forwarder is not None:
            logging.getLogger("livegen").removeHandler(self.error_forwarder)
        if self.control is not None:
            self.control.stop()

    async def stop(self) -> None:
        """Stop voices first (they send their note-offs), then sockets, then threads."""
        self._stop_watching()
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
        self.outputs.stop()
        if rt is not None:
            rt.engine.stop()
            rt.encode_pool.shutdown(wait=False, cancel_futures=True)
            rt.osc_out.close()
            if rt.recommend is not None:
                rt.recommend.close()


def process_counts() -> dict[str, Any]:
    """What a leak would grow: asyncio tasks, threads, open file descriptors, resident memory."""
    try:
        fds = len(os.listdir("/proc/self/fd"))
        with open("/proc/self/statm") as f:
            rss_mib = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # not Linux: only what Python itself knows
        fds, rss_mib = -1, -1.0
    return {"tasks": len(asyncio.all_tasks()), "threads": threading.active_count(),
            "fds": fds, "rss_mib": round(rss_mib, 1)}

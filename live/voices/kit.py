"""What every voice shares: the Voice protocol, loading a model by name, status, the job plumbing."""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, ClassVar, Protocol

import torch

from live.io.osc import Route
from live.io.websocket import HttpRoute
from live.params import Registry
from live.runtime import Runtime
from models import weights

log = logging.getLogger("livegen.voices")

UNTRAINED = "random"  # the model name of an untrained network (tests, first runs)

# Builds an untrained network from a voice's patch table: (model on the CPU, its arch config).
UntrainedFactory = Callable[[dict[str, Any]], tuple[torch.nn.Module, dict[str, Any]]]


class Voice(Protocol):
    """Everything the app asks of a voice, in the order it asks."""

    name: str
    kind: ClassVar[str]

    async def load(self) -> None:
        """Load and warm the model on the engine thread."""

    def add_params(self, registry: Registry) -> None:
        """Register the voice's parameters (after load, which tells their sizes)."""

    def osc_routes(self) -> dict[str, Route]:
        """OSC addresses the voice handles that are not parameters."""

    def http_routes(self) -> dict[str, HttpRoute]:
        """HTTP GET paths the voice answers with JSON."""

    def begin(self) -> None:
        """Start playing (every parameter exists and the patch is applied)."""

    async def stop(self) -> None:
        """Stop playing; leave nothing sounding."""

    def status(self) -> dict[str, Any]:
        """The voice's entry in /status."""


class Generation(Protocol):
    """A deterministic generator's position, which the generation log records."""

    events: int
    restarts: int


def seed_for(seed: int, voice: str, restart: int) -> int:
    """The sampler seed of a voice's k-th restart: the same in a replay."""
    return (seed * 1_000_003 + zlib.crc32(voice.encode()) + restart * 7919) % 2**63


def load_model(kind: str, spec: dict[str, Any], device: torch.device,
               untrained: UntrainedFactory) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The network a voice's patch table names, and its card; `random` builds an untrained one."""
    name = str(spec.get("model", UNTRAINED))
    if name == UNTRAINED:
        torch.manual_seed(int(spec.get("seed", 0)))
        model, arch = untrained(spec)
        return model.to(device).eval(), {"name": UNTRAINED, "kind": kind, "arch": arch,
                                         "trained": False}
    model, card = weights.load(name, device)
    if card.get("kind") != kind:
        raise weights.WeightsError(f"model {name!r} is a {card.get('kind')} model, not a {kind} one")
    card.setdefault("trained", True)
    return model, card


def model_note(card: dict[str, Any], untrained_note: str) -> str | None:
    """What a performer should know about a model: untrained, or below its quality bar."""
    if not card.get("trained", False):
        return untrained_note
    if card.get("below_bar"):
        bar = card.get("bar") or {}
        return f"BELOW ITS QUALITY BAR: {bar.get('note', 'see its card')}"
    return None


class ModelVoice:
    """The scaffolding of a voice that plays one model: load, warm-up, status, log, jobs, ticker."""

    kind: ClassVar[str]  # the voice's kind in the patch: visual, music, text
    model_kind: ClassVar[str]  # the kind of its weights card: gan, music, text
    untrained_note: ClassVar[str] = "UNTRAINED model: expect noise, not art"
    tick_s: ClassVar[float] = 0.05  # how often the ticker runs

    def __init__(self, name: str, spec: dict[str, Any], rt: Runtime) -> None:
        self.name = name
        self.spec = spec
        self.rt = rt
        self.model = str(spec.get("model", UNTRAINED))
        self.engine_key = f"{self.model_kind}:{self.model}"  # one engine holds every kind
        self.card: dict[str, Any] = {}
        self.gen: Generation | None = None
        self._ticker: asyncio.Task | None = None

    # -- loading ------------------------------------------------------------------------
    def untrained(self, spec: dict[str, Any]) -> tuple[torch.nn.Module, dict[str, Any]]:
        """An untrained network for `model = "random"`, and its arch config; each kind says how."""
        raise NotImplementedError

    def build(self, device: torch.device) -> tuple[torch.nn.Module, dict[str, Any]]:
        """Load the model the patch names (engine thread)."""
        return load_model(self.model_kind, self.spec, device, self.untrained)

    def warm_up(self, model: torch.nn.Module) -> None:
        """Run the model once so the first real call is not slow (engine thread)."""

    async def load(self) -> None:
        """Load and warm the model once per engine; voices naming one model share it."""
        device = self.rt.engine.device

        def load() -> tuple[torch.nn.Module, dict[str, Any]]:
            model, card = self.build(device)
            self.warm_up(model)
            return model, card

        self.card = await asyncio.wrap_future(
            self.rt.engine.load_once(self.engine_key, load, accelerate=self.model_kind == "gan"))

    def add_params(self, registry: Registry) -> None:
        """Register the voice's parameters."""

    def osc_routes(self) -> dict[str, Route]:
        """OSC addresses that are not parameters: none unless a voice says so."""
        return {}

    def http_routes(self) -> dict[str, HttpRoute]:
        """HTTP GET paths: none unless a voice says so."""
        return {}

    # -- the engine thread's jobs and the event loop's ticker ----------------------------
    def job(self) -> None:
        """One unit of work on the engine thread."""

    def tick(self) -> None:
        """Periodic work on the event loop (post a job when there is work)."""

    def post_job(self) -> None:
        """Ask for a job on the engine thread; a pending one of this voice is replaced."""
        if self.gen is not None:
            self.rt.engine.post((self.kind, self.name), self.job).add_done_callback(self._job_done)

    def _job_done(self, future: Future) -> None:
        """A job that raised: logged, and the voice reported (the supervisor restarts it)."""
        error = None if future.cancelled() else future.exception()
        if error is None:
            return
        log.warning("voice %s: a job failed", self.name, exc_info=error)
        on_fault = self.rt.engine.on_fault
        if on_fault is not None:
            on_fault(self, error)

    def start_ticker(self) -> None:
        """Run tick() every tick_period() seconds until stop_ticker()."""
        self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())

    def stop_ticker(self) -> None:
        """End the ticker."""
        if self._ticker is not None:
            self._ticker.cancel()

    def tick_period(self) -> float:
        """Seconds until the next tick."""
        return self.tick_s

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_period())
            try:
                self.tick()
            except Exception:  # a bad tick must not end the voice's clock
                log.exception("voice %s: tick failed", self.name)

    # -- the generation log and status ---------------------------------------------------
    def log_gen(self, record: dict[str, Any]) -> None:
        """Record a generation step (the replay follows them) at the current event count."""
        recorder = self.rt.recorder
        if recorder is not None and self.gen is not None:
            recorder.write({"type": "gen", "voice": self.name, "event": self.gen.events,
                            "restarts": self.gen.restarts, **record})

    @property
    def note(self) -> str | None:
        """The status note: untrained, below its bar, or None."""
        return model_note(self.card, self.untrained_note)

    def model_status(self) -> dict[str, Any]:
        """The part of /status every voice has."""
        out: dict[str, Any] = {"kind": self.kind, "model": self.model,
                               "trained": bool(self.card.get("trained", False))}
        note = self.note
        if note is not None:
            out["note"] = note
        if self.card.get("below_bar"):
            out["below_bar"] = True
        return out

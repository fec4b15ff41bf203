"""Where analysis goes: read-only parameters (schema, OSCQuery, GET /analysis), one OSC bundle of
flat addresses per measurement, the WebSocket `analysis` topic, the recording, and the control
layer (a mapping or an envelope can take `/analysis/...` as its OSC source)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from live.events import EventBus
from live.io.osc import OscOut, bundle
from live.params import FloatParam, Registry, StringParam
from live.record.recorder import Recorder

log = logging.getLogger("livegen.analysis")

RECORD_EVERY_S = 0.5  # a visual voice's features go into the recording at most twice a second
Features = dict[str, Any]
ControlSink = Callable[[str, list[Any]], object]  # (address, args) into mappings and envelopes


def add_params(registry: Registry, voice: str, ranges: dict[str, tuple[float, float]],
               strings: tuple[str, ...] = ()) -> None:
    """The read-only parameters of one voice's features, under /analysis/<voice>/."""
    for name, (lo, hi) in ranges.items():
        registry.add(FloatParam(f"/analysis/{voice}/{name}", lo, f"analysis of {voice}: {name}",
                                lo=lo, hi=hi, readonly=True))
    for name in strings:
        registry.add(StringParam(f"/analysis/{voice}/{name}", "", f"analysis of {voice}: {name}",
                                 max_len=64, readonly=True))


def osc_messages(voice: str, features: Features) -> list[tuple[str, list[Any]]]:
    """Flat addresses, one value each where a CHOP wants that: lists become /name/i."""
    out: list[tuple[str, list[Any]]] = []
    for name, value in features.items():
        address = f"/analysis/{voice}/{name}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append((address, [float(value)]))
        elif isinstance(value, str):
            out.append((address, [value]))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                out.append((f"{address}/{i}", [float(x) for x in item] if isinstance(item, list)
                            else [float(item)]))
    return out


class AnalysisHub:
    """Publishes each voice's features (from any thread) on the event loop."""

    def __init__(self, registry: Registry, loop: asyncio.AbstractEventLoop, events: EventBus,
                 osc_out: OscOut, recorder: Recorder | None) -> None:
        self.registry, self.loop, self.events = registry, loop, events
        self.osc_out, self.recorder = osc_out, recorder
        self.control: ControlSink | None = None  # set once the control layer exists
        self.on_visual: Callable[[str, Features], object] | None = None  # the recommender
        self.latest: dict[str, Features] = {}
        self.published = 0
        self._recorded: dict[str, float] = {}

    def publish_threadsafe(self, voice: str, kind: str, features: Features) -> None:
        """publish() from a voice's thread (the encode pool, the scheduler)."""
        self.loop.call_soon_threadsafe(self.publish, voice, kind, features)

    def publish(self, voice: str, kind: str, features: Features) -> None:
        """One measurement of one voice, to every place it goes (event loop)."""
        clean = {k: v for k, v in features.items()
                 if not (isinstance(v, float) and not math.isfinite(v))}
        self.latest[voice] = {"kind": kind, "time": time.time(), **clean}
        self.published += 1
        for name, value in clean.items():
            self.registry.show(f"/analysis/{voice}/{name}", value)
        messages = osc_messages(voice, clean)
        if messages:
            self.osc_out.send_raw(bundle(1, messages))  # timetag 1: now
        self.events.publish("analysis", {"op": "analysis", "voice": voice, "kind": kind, **clean})
        if self.control is not None:
            for address, args in messages:
                self.control(address, args)
        if kind == "visual" and self.on_visual is not None:
            self.on_visual(voice, clean)
        self._record(voice, kind, clean)

    def _record(self, voice: str, kind: str, features: Features) -> None:
        if self.recorder is None:
            return
        now = time.monotonic()
        if kind == "visual" and now - self._recorded.get(voice, 0.0) < RECORD_EVERY_S:
            return
        self._recorded[voice] = now
        self.recorder.write({"type": "analysis", "t": self.recorder.t(), "voice": voice,
                             "kind": kind, **features})

    def forget(self, voice: str) -> None:
        """A voice that is gone (reload): its parameters and latest values."""
        self.registry.remove_under(f"/analysis/{voice}/")
        self.latest.pop(voice, None)

    def answer(self) -> dict[str, Any]:
        """GET /analysis: the latest features of every voice."""
        return {"voices": self.latest, "published": self.published}

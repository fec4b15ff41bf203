"""The patch's [outputs] tables: checked, built, attached to their voices, switched by parameter.

Each output gets a parameter /outputs/NAME/on, so OSC, the WebSocket `set`, OSCQuery, presets
and mappings start and stop it live like any other control.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from live.outputs.base import Output, OutputSettings, OutputState, PixelFormat
from live.params import BoolParam, Change, Registry
from live.patch import Patch, PatchError
from live.security import Access

log = logging.getLogger("livegen.outputs")

KINDS = ("ndi", "webrtc", "janus", "spout", "syphon")
COMMON_KEYS = ("kind", "voice", "format", "size", "fps", "on")
KIND_KEYS: dict[str, tuple[str, ...]] = {
    "ndi": ("source",), "webrtc": ("port", "viewers", "bitrate"), "janus": ("rtp", "bitrate"),
    "spout": ("source",), "syphon": ("source",)}
MAX_SIDE = 7680
OPEN_TIMEOUT_S = 10.0


def output_class(kind: str) -> type[Output]:
    """The class of an output kind (imported only when a patch uses it)."""
    if kind == "ndi":
        from live.outputs.ndi import NdiOutput
        return NdiOutput
    if kind == "webrtc":
        from live.outputs.webrtc import WebRtcOutput
        return WebRtcOutput
    if kind == "janus":
        from live.outputs.janus import JanusOutput
        return JanusOutput
    if kind == "spout":
        from live.outputs.spout import SpoutOutput
        return SpoutOutput
    from live.outputs.syphon import SyphonOutput
    return SyphonOutput


def parse_outputs(patch: Patch, visual_voices: list[str]) -> list[OutputSettings]:
    """Every [outputs.NAME] table as settings; PatchError naming file, line and key."""
    out = []
    for name, table in patch.outputs.items():
        def refuse(key: str | None, why: str, name: str = name) -> PatchError:
            return PatchError(f"{patch.where(f'outputs.{name}', key)}: {why}")

        if not name.isidentifier():
            raise refuse(None, f"output name {name!r} must be a plain word")
        kind = table.get("kind")
        if kind not in KINDS:
            raise refuse("kind", f"{kind!r} refused, expected one of {', '.join(KINDS)}")
        cls = output_class(kind)
        unknown = set(table) - set(COMMON_KEYS) - set(KIND_KEYS[kind])
        if unknown:
            key = sorted(unknown)[0]
            raise refuse(key, f"unknown key; a {kind} output takes "
                              f"{', '.join(COMMON_KEYS + KIND_KEYS[kind])}")
        voice = table.get("voice")
        if voice not in visual_voices:
            raise refuse("voice", f"{voice!r} is not a visual or input voice of this patch "
                                  f"({', '.join(visual_voices) or 'none'})")
        try:
            fmt = PixelFormat(table.get("format", cls.formats[0].value))
        except ValueError:
            fmt = None
        if fmt not in cls.formats:
            raise refuse("format", f"{table.get('format')!r} refused, a {kind} output takes "
                                   f"{', '.join(f.value for f in cls.formats)}")
        size = table.get("size")
        if size is not None and not (
                isinstance(size, list) and len(size) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and 2 <= v <= MAX_SIDE for v in size)
                and (fmt is not PixelFormat.UYVY or size[0] % 2 == 0)):
            raise refuse("size", f"{size!r} refused, expected [width, height] of ints in [2, {MAX_SIDE}]"
                                 " (an even width for uyvy)")
        fps = table.get("fps")
        if fps is not None and (not isinstance(fps, (int, float)) or isinstance(fps, bool)
                                or not 1 <= fps <= 240):
            raise refuse("fps", f"{fps!r} refused, expected a number in [1, 240]")
        on = table.get("on", True)
        if not isinstance(on, bool):
            raise refuse("on", f"{on!r} refused, expected true or false")
        extra = tuple((k, table[k]) for k in KIND_KEYS[kind] if k in table)
        settings = OutputSettings(name, kind, voice, fmt, tuple(size) if size else None,
                                  float(fps) if fps else None, on, extra)
        try:
            check = getattr(cls, "check", None)
            if check is not None:
                check(settings)
        except ValueError as e:
            raise refuse(None, str(e)) from None
        out.append(settings)
    return out


class Outputs:
    """The running outputs: built from the patch, fed by their voices, switched by /outputs/NAME/on."""

    def __init__(self) -> None:
        self.outputs: dict[str, Output] = {}

    def build(self, settings: list[OutputSettings], registry: Registry, voices: dict[str, Any],
              host: str = "127.0.0.1", access: Access | None = None) -> None:
        """Make the outputs and their parameters, and hand each to its voice."""
        for s in settings:
            output = self.outputs[s.name] = output_class(s.kind)(s)
            output.host = host
            output.access = access or Access()
            path = f"/outputs/{s.name}/on"
            registry.add(BoolParam(path, s.on, f"{s.kind} output of voice {s.voice}: on or off"))
            registry.watch(path, self._switcher(output))
        self.attach(voices)

    def _switcher(self, output: Output) -> Callable[[Change], None]:
        return lambda change: self._switch(output, change)

    def attach(self, voices: dict[str, Any]) -> None:
        """Give each visual voice the outputs that name it (again after a reload swaps voices)."""
        for name, voice in voices.items():
            if hasattr(voice, "outputs"):
                voice.outputs = [o for o in self.outputs.values() if o.settings.voice == name]

    async def start(self) -> dict[str, str]:
        """Open every output that is on; what each serves where (or why it failed)."""
        futures = {n: o.start() for n, o in self.outputs.items() if o.settings.on}
        serves = {}
        for name, future in futures.items():
            try:
                serves[name] = await asyncio.wait_for(asyncio.wrap_future(future), OPEN_TIMEOUT_S)
            except TimeoutError:
                serves[name] = f"still opening after {OPEN_TIMEOUT_S:g} s"
        return serves

    def _switch(self, output: Output, change: Change) -> None:
        if change.value:
            output.start()
        elif output.state is not OutputState.OFF:
            output.stop()
            log.info("output %s: off", output.name)

    def stop(self) -> None:
        """Close every output."""
        for output in self.outputs.values():
            output.stop()

    def status(self) -> dict[str, Any]:
        """Every output's entry for /status."""
        return {n: o.status() for n, o in self.outputs.items()}

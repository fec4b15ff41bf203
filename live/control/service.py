"""The control service: the patch's mappings, presets, modulators and learn, on OSC and MIDI in.

The app builds it after the voices' parameters exist and the patch's values are applied, attaches
it to OSC in (its routes, and a fallback that offers unknown addresses to learn and the mappings),
starts it once the clock runs, and stops it first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from live.clock import Clock
from live.control.learn import Learn
from live.control.mappings import Applier, Mapper, Mapping, parse_mappings, to_table
from live.control.modulators import Modulators, parse_modulators
from live.control.presets import LatentReader, Presets, PresetStore, check_values, flatten
from live.control.timing import ControlError, at_boundary, check_quantise
from live.events import EventBus
from live.io.midi import MidiError, open_input
from live.io.osc import OscIn, Route
from live.params import FloatParam, ParamError, Registry, StringParam, VectorParam
from live.patch import Patch

log = logging.getLogger("livegen.control")

CONTROL_KEYS = {"midi_in", "tick_hz", "quantise", "morph"}
STATE_DIR = ".livegen-state"
Sender = tuple[str, int]
Reply = Callable[..., None]  # (sender, address, *args)


def latent_reader(voice: object) -> LatentReader:
    """Reads a visual voice's current latent (its LatentPath's z; None before it runs)."""
    def read() -> np.ndarray | None:
        return getattr(getattr(voice, "path", None), "z", None)
    return read


def state_dir(patch: Patch) -> Path:
    """[server] state_dir (relative to the patch's folder), by default .livegen-state beside it."""
    value = patch.server.get("state_dir", STATE_DIR)
    if not isinstance(value, str) or not value:
        raise ControlError(f"patch file {patch.path}: [server] state_dir {value!r} refused, "
                           "expected a folder name")
    folder = Path(value).expanduser()
    return folder if folder.is_absolute() else patch.path.parent / folder


def _control_table(patch: Patch) -> dict[str, Any]:
    where = f"patch file {patch.path}: [control]"
    table = patch.control
    unknown = sorted(set(table) - CONTROL_KEYS)
    if unknown:
        raise ControlError(f"{where}: unknown key(s) {unknown}; expected some of "
                           f"{', '.join(sorted(CONTROL_KEYS))}")
    hz = table.get("tick_hz", 30)
    if isinstance(hz, bool) or not isinstance(hz, (int, float)) or not 1 <= hz <= 240:
        raise ControlError(f"{where}: key 'tick_hz': {hz!r} refused, expected a number in [1, 240]")
    check_quantise(table.get("quantise", "none"), f"{where}: key 'quantise'")
    morph = table.get("morph", ["", ""])
    if not isinstance(morph, list) or len(morph) != 2 or not all(isinstance(m, str) for m in morph):
        raise ControlError(f'{where}: key \'morph\': {morph!r} refused, expected ["FROM", "TO"] preset names')
    if "midi_in" in table and not isinstance(table["midi_in"], str):
        raise ControlError(f"{where}: key 'midi_in': expected a port name, virtual or virtual:NAME")
    return table


class Control:
    """Mappings, presets, bookmarks, modulators and learn for one running patch."""

    def __init__(self, patch: Patch, registry: Registry, clock: Clock,
                 loop: asyncio.AbstractEventLoop, latents: dict[str, LatentReader],
                 events: EventBus | None = None, seed: int = 0) -> None:
        where = f"patch file {patch.path}"
        table = _control_table(patch)
        self.registry, self.clock, self.loop, self.events = registry, clock, loop, events
        self._add_morph_params(registry, table.get("morph", ["", ""]))
        self.applier = Applier(registry, clock, loop)
        self.mapper = Mapper(parse_mappings(patch.mappings, registry, where), registry, self.applier)
        self.modulators = Modulators(parse_modulators(patch.modulators, registry, where, seed),
                                     registry, clock, float(table.get("tick_hz", 30)))
        patch_presets = {name: check_values(registry, flatten(values), f"{where}: [presets.{name}]")
                         for name, values in patch.presets.items()}
        self.store = PresetStore(state_dir(patch))
        self.presets = Presets(registry, self.store, patch_presets, latents)
        for name in table.get("morph", []):
            if name and name not in self.presets.named:
                raise ControlError(f"{where}: [control] key 'morph': unknown preset {name!r}; presets: "
                                   f"{', '.join(sorted(self.presets.named)) or 'none'}")
        self.learn = Learn(registry, patch.path)
        # Mappings whose source is a parameter (/audio/low) follow its changes.
        self._followed = [(m.source.address, self._follower(m.source.address))
                          for m in self.mapper.mappings
                          if m.source.kind == "osc" and m.source.address in registry]
        for path, follower in self._followed:
            registry.watch(path, follower)
        self.quantise = str(table.get("quantise", "none"))
        self.midi_spec: str | None = table.get("midi_in")
        self.midi_port: Any = None
        self.midi_problem: str | None = None
        self.reply: Reply = lambda sender, address, *args: None
        self._timers: list[asyncio.TimerHandle] = []

    def _follower(self, path: str) -> Callable[[Any], None]:
        def follow(change: Any) -> None:
            value = change.value
            self.loop.call_soon_threadsafe(self.mapper.osc, path, list(value) if isinstance(
                value, tuple) else [value])
        return follow

    def _add_morph_params(self, registry: Registry, names: list[str]) -> None:
        """/preset/from, /preset/to and /preset/position: a morph as parameters, so a fader
        mapping or a modulator can drive it."""
        registry.add(StringParam("/preset/from", names[0], "preset /preset/position 0 is", max_len=200))
        registry.add(StringParam("/preset/to", names[1], "preset /preset/position 1 is", max_len=200))
        registry.add(FloatParam("/preset/position", 0.0, "morph between /preset/from and /preset/to "
                                "(0 to 1): numbers interpolated, latents by slerp", lo=0, hi=1))
        registry.watch("/preset/position", lambda c: self._morph_position(c.value))

    def _morph_position(self, f: float) -> None:
        a, b = self.registry.get("/preset/from"), self.registry.get("/preset/to")
        if not a or not b:
            return
        try:
            self.presets.apply(self.presets.morph_values(a, b, f), source="morph")
        except (ControlError, ParamError) as e:
            log.warning("/preset/position: %s", e)

    # -- wiring -------------------------------------------------------------------------
    def attach(self, osc_in: OscIn) -> None:
        """Register the control routes on OSC in, offer it unknown addresses, reply through it."""
        for address, handler in self.osc_routes().items():
            osc_in.route(address, handler)
        osc_in.fallback = self.fallback
        self.reply = osc_in.reply
        self.applier.on_error = lambda text: log.warning("mapping: %s", text)

    def osc_routes(self) -> dict[str, Route]:
        """The control addresses: /preset/..., /learn/..., /<visual>/bookmark/..."""
        routes: dict[str, Route] = {
            "/preset/store": self._preset_store, "/preset/recall": self._preset_recall,
            "/preset/morph": self._preset_morph, "/preset/quantise": self._preset_quantise,
            "/preset/list": self._preset_list, "/learn/start": self._learn_start,
            "/learn/save": self._learn_save, "/learn/cancel": lambda args, sender: self.learn.cancel(),
        }
        for voice in self.presets.latents:
            routes[f"/{voice}/bookmark/store"] = self._bookmark_route(voice, self.bookmark_store)
            routes[f"/{voice}/bookmark/recall"] = self._bookmark_route(voice, self.bookmark_recall)
        return routes

    @staticmethod
    def _bookmark_route(voice: str, action: Callable[[str, int], object]) -> Route:
        def route(args: list[Any], sender: Sender) -> None:
            action(voice, _slot(args))
        return route

    def start(self) -> None:
        """Start the modulators and the MIDI input (a port that cannot open is logged)."""
        self.modulators.start()
        if self.midi_spec:
            try:
                self.midi_port = open_input(self.midi_spec, self._midi_thread)
            except MidiError as e:
                self.midi_problem = str(e)
                log.warning("control MIDI in: %s", e)

    def stop(self) -> None:
        """Stop timers, glides, modulators and MIDI in; close the preset database."""
        for timer in self._timers:
            timer.cancel()
        self.applier.stop()
        self.modulators.stop()
        for path, follower in self._followed:
            self.registry.unwatch(path, follower)
        if self.midi_port is not None:
            self.midi_port.close()
        self.store.close()

    def status(self) -> dict[str, Any]:
        """What /status could show of the control layer."""
        return {"mappings": len(self.mapper.mappings), "modulators": len(self.modulators.modulators),
                "presets": sorted(self.presets.named), "quantise": self.quantise,
                "learning": self.learn.target, "midi_in": self.midi_problem or self.midi_spec}

    # -- incoming -----------------------------------------------------------------------
    def fallback(self, address: str, args: list[Any], sender: Sender) -> bool:
        """An OSC address that is neither a route nor a parameter: learn, mappings, envelopes."""
        learned = self.learn.take_osc(address)
        if learned is not None:
            self._learned(learned, sender)
            return True
        mapped = self.mapper.osc(address, args)
        gated = self.modulators.osc(address, args)
        return mapped or gated

    def _midi_thread(self, msg: Any) -> None:
        self.loop.call_soon_threadsafe(self.midi, msg)

    def midi(self, msg: Any) -> None:
        """A MIDI message (on the event loop): learn, mappings, envelopes."""
        learned = self.learn.take_midi(msg)
        if learned is not None:
            self._learned(learned, self.learn.sender)
            return
        self.mapper.midi(msg)
        self.modulators.midi(msg)

    def _learned(self, mapping: Mapping, sender: Sender | None) -> None:
        self.mapper.add(mapping)
        source = mapping.source.describe()
        log.info("learned %s -> %s", source, mapping.target)
        to = sender or self.learn.sender
        if to is not None:
            self.reply(to, "/learn/learned", source, mapping.target)
        if self.events is not None:
            self.events.publish("status", {"op": "learned", "source": source, "target": mapping.target,
                                           "mapping": to_table(mapping)})

    # -- presets --------------------------------------------------------------------------
    def _unit(self, args: list[Any], at: int) -> str:
        return check_quantise(args[at], "quantise") if len(args) > at else self.quantise

    def _preset_store(self, args: list[Any], sender: Sender) -> None:
        paths = [a for a in args[1:] if isinstance(a, str)] or None
        self.presets.store_preset(_arg(args, 0, "/preset/store s"), paths)

    def _preset_recall(self, args: list[Any], sender: Sender) -> None:
        values = self.presets.recall_values(_arg(args, 0, "/preset/recall s"))
        self.later(self._unit(args, 1), lambda: self.presets.apply(values))

    def _preset_morph(self, args: list[Any], sender: Sender) -> None:
        if len(args) < 3:
            raise ControlError("/preset/morph: expected s s f (preset, preset, fraction)")
        values = self.presets.morph_values(args[0], args[1], args[2])
        self.later(self._unit(args, 3), lambda: self.presets.apply(values, source="morph"))

    def _preset_quantise(self, args: list[Any], sender: Sender) -> None:
        self.quantise = check_quantise(_arg(args, 0, "/preset/quantise s"), "/preset/quantise")

    def _preset_list(self, args: list[Any], sender: Sender) -> None:
        self.reply(sender, "/preset/names", *sorted(self.presets.named))

    def later(self, unit: str, fn: Callable[[], object]) -> None:
        """Run fn now or at the next beat or bar."""
        def run() -> None:
            try:
                fn()
            except (ParamError, ControlError) as e:
                log.warning("preset: %s", e)

        timer = at_boundary(self.loop, self.clock, unit, run)
        if timer is not None:
            self._timers = [t for t in self._timers if not t.cancelled()][-32:] + [timer]

    # -- bookmarks ------------------------------------------------------------------------
    def bookmark_store(self, voice: str, slot: int) -> dict[str, Any]:
        """Keep the voice's current latent (and its seed) in a slot; persisted."""
        path = f"/{voice}/latent"
        latent = self.presets.current_latent(path)
        values: dict[str, Any] = {"seed": self.registry.get(f"/{voice}/seed")}
        if latent is not None:
            values["latent"] = list(latent)
        self.store.put_bookmark(voice, slot, values)
        return values

    def bookmark_recall(self, voice: str, slot: int) -> None:
        """Go to a stored latent (faded by the voice's transition), or to its seed."""
        values = self.store.bookmark(voice, slot)
        if values is None:
            raise ControlError(f"/{voice}/bookmark/recall: no bookmark {slot}")
        if "latent" in values:
            param = self.registry[f"/{voice}/latent"]
            assert isinstance(param, VectorParam)
            z = np.clip(np.asarray(values["latent"], dtype=np.float64), param.lo, param.hi)
            self.registry.set(param.path, [float(x) for x in z], source="bookmark")
        else:
            self.registry.set(f"/{voice}/seed", values["seed"], source="bookmark")

    # -- learn ----------------------------------------------------------------------------
    def _learn_start(self, args: list[Any], sender: Sender) -> None:
        self.learn.start(_arg(args, 0, "/learn/start s"), sender)

    def _learn_save(self, args: list[Any], sender: Sender) -> None:
        count = self.learn.save()
        self.reply(sender, "/learn/saved", count, str(self.learn.patch_path))


def _arg(args: list[Any], at: int, form: str) -> str:
    if len(args) <= at or not isinstance(args[at], str):
        raise ControlError(f"{form.split()[0]}: expected {form}")
    return args[at]


def _slot(args: list[Any]) -> int:
    if not args or isinstance(args[0], bool) or not isinstance(args[0], (int, float)) \
            or not float(args[0]).is_integer() or not 0 <= args[0] < 1000:
        raise ControlError(f"bookmark: slot {args[0] if args else None!r} refused, expected an "
                           "integer in [0, 999]")
    return int(args[0])

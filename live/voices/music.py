"""The music voice: a performance-event RNN played ahead of the clock, sent by the OSC sender.

Threads: the event loop takes controls and input notes and posts generation jobs; the engine
thread runs every forward pass (MusicGen, in music_gen) a lookahead ahead of the beat and hands
complete notes to the OSC sender process (live/io/sender.py), which sends each when due and
confirms it; MIDI, WebSocket and the recorder follow its confirmations (music_delivery).
Call and response lives in music_respond. Nothing here waits on another thread.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from dataclasses import asdict
from fractions import Fraction
from typing import Any

import mido
import torch

from live.analysis import music as music_analysis
from live.analysis.hub import add_params as add_analysis_params
from live.io.midi import MidiError, MidiOut, open_input
from live.io.osc import Route
from live.params import (
    BoolParam,
    ChoiceParam,
    FloatParam,
    IntParam,
    ParamError,
    Registry,
)
from live.runtime import Runtime
from live.voices.kit import ModelVoice
from live.voices.music_band import (
    ChordListener,
    ChordParam,
    PartAllocator,
    chord_pitch_classes,
    program_for,
)
from live.voices.music_delivery import TIMETAG_LEAD_S, NoteDelivery
from live.voices.music_gen import (
    MusicGen,
    PlayedNote,
    Settings,
    grooves_for,
    melody,
    phrase_events,
    untrained_music_model,
)
from live.voices.music_params import KEYS, KeyParam, MidiPortParam, PhraseParam
from live.voices.music_respond import PhraseListener, answer_length, parse_input_note
from models.music_rnn import Event, MusicRNN, MusicSampler

log = logging.getLogger("livegen.music")

DELIVERIES = ("immediate", "timetag")
RECOMMEND_BEATS = 8  # /NAME/recommend steers once a phrase
RECOMMEND_STEP = 0.25  # of the way to the liked settings, each time
DEFAULTS = Settings()
RESTART_MARGIN_S = 0.15  # a restart (style, prime, answer) begins this far after now

Restart = tuple[int | None, list[Event]] | None  # (step or None for soon, prime events)


class MusicVoice(ModelVoice):
    """One music voice; see the module docstring for who runs what."""

    kind = "music"
    model_kind = "music"
    untrained_note = "UNTRAINED model: expect random notes, not music"

    def __init__(self, name: str, spec: dict[str, Any], rt: Runtime) -> None:
        super().__init__(name, spec, rt)
        self.clock = rt.clock
        self.lookahead = float(spec.get("lookahead_beats", 1.0))
        if not 0.05 <= self.lookahead <= 16:
            raise ValueError(f"voice {name!r}: lookahead_beats {self.lookahead} refused, "
                             "expected 0.05 to 16")
        delivery = spec.get("delivery", "immediate")
        if delivery not in DELIVERIES:
            raise ValueError(f"voice {name!r}: delivery {delivery!r} refused, expected "
                             + " or ".join(DELIVERIES))
        self.default_delivery = delivery
        self.midi = MidiOut()
        self.midi_in: Any = None  # a mido input port
        self.notes = NoteDelivery(name, rt, self.midi)
        self.analyser = music_analysis.MusicAnalyser()
        self.notes.heard = lambda h: self.analyser.note(float(h.start), float(h.end), h.note.pitch,
                                                        h.vel)
        self.listener = PhraseListener()
        self.band = ChordListener()
        self._parts: PartAllocator | None = None  # dealing notes into parts (engine thread)
        self._chord: tuple[int, ...] = ()  # pitch classes in force (from the next beat on)
        program = spec.get("program", -1)
        if isinstance(program, bool) or not isinstance(program, int) or not -1 <= program <= 127:
            raise ValueError(f"voice {name!r}: program {program!r} refused, expected a General "
                             "MIDI program 0-127 (or -1 for the style's)")
        self.default_program = program
        self.gen: MusicGen | None = None
        self._ops: deque[tuple[str, Restart]] = deque()  # restarts and releases for the next job
        self._active = False  # generating (playing, or answering in respond mode)
        self._answer_end: int | None = None  # step where the current answer ends
        self._last_settings: Settings | None = None
        self.gen_s = 0.0  # engine time spent generating
        self.gen_steps = 0  # steps generated

    # -- set-up ---------------------------------------------------------------------
    def untrained(self, spec: dict[str, Any]) -> tuple[torch.nn.Module, dict[str, Any]]:
        return untrained_music_model(spec)

    def warm_up(self, model: torch.nn.Module) -> None:
        MusicSampler(model).next_event()  # type: ignore[arg-type]

    async def load(self) -> None:
        """Load and warm the model; open the patch's MIDI ports (a port that fails is a warning)."""
        await super().load()
        self.styles = list(self.card["arch"].get("styles", ["any"]))
        port = self.spec.get("midi_port")
        if port:
            try:
                self.midi.open(str(port))
            except MidiError as e:
                self.midi.fail(str(e))
                log.warning("voice %s plays on without MIDI out: %s", self.name, e)
        port_in = self.spec.get("midi_in")
        if port_in:
            try:
                self.midi_in = open_input(str(port_in), self._midi_input)
            except MidiError as e:
                log.warning("voice %s listens without MIDI in: %s", self.name, e)

    def add_params(self, registry: Registry) -> None:
        p, add = f"/{self.name}", registry.add
        self.temperature = add(FloatParam(f"{p}/temperature", 1.0, "sampling temperature",
                                          lo=0.05, hi=2.5))
        self.top_p = add(FloatParam(f"{p}/top_p", 0.95, "nucleus: keep the most likely events "
                                    "that together hold this probability", lo=0.05, hi=1.0))
        self.density = add(FloatParam(f"{p}/density", 0.0, "more notes (> 0) or fewer (< 0) "
                                      "than the style's texture: log-odds added to note-ons",
                                      lo=-4, hi=4))
        self.key = add(KeyParam(f"{p}/key", DEFAULTS.key, "hold the notes in this key "
                                "('D minor', Dm, Eb); auto: the key the notes are in (and the "
                                "prime's); any: none", choices=KEYS))
        self.key_strength = add(FloatParam(f"{p}/key_strength", DEFAULTS.key_strength, "0-1: "
                                           "each out-of-key note's chance scaled by 1 - this (1: "
                                           "none); -1: the style's (0.8 where its corpus is "
                                           "diatonic, else 0)", lo=-1, hi=1))
        self.voice_leading = add(FloatParam(f"{p}/voice_leading", DEFAULTS.voice_leading, "0-1: "
                                            "chances of notes that would make parallel fifths or "
                                            "octaves scaled by 1 - this (1: none); -1: the "
                                            "style's (bach, palestrina 1; monteverdi 0.7)",
                                            lo=-1, hi=1))
        self.transpose = add(IntParam(f"{p}/transpose", 0, "semitones", lo=-24, hi=24))
        self.style = add(ChoiceParam(f"{p}/style", self.styles[0], "style token of the model",
                                     choices=tuple(self.styles)))
        self.play = add(BoolParam(f"{p}/play", True, "start and stop the voice"))
        self.channel = add(IntParam(f"{p}/channel", 1, "MIDI channel", lo=1, hi=16))
        self.parts = add(IntParam(f"{p}/parts", 1, "deal the notes into this many parts (0 the "
                                  "top), part k on MIDI channel channel+k and sent as "
                                  f"{p}/part k pitch", lo=1, hi=8))
        self.velocity = add(FloatParam(f"{p}/velocity", 1.0, "velocity scale", lo=0, hi=2))
        self.dynamics = add(FloatParam(f"{p}/dynamics", DEFAULTS.dynamics, "velocity shaped by metric accent "
                                       "and a 4-bar phrase arc: 0 as the model wrote it", lo=0, hi=1))
        self.swing = add(FloatParam(f"{p}/swing", 0.0, "off-beat eighths later: 0 straight, 1 "
                                    "triplet", lo=0, hi=1))
        self.humanize = add(FloatParam(f"{p}/humanize", DEFAULTS.humanize, "timing (up to 1/25 beat) and "
                                       "velocity jitter, the same in a replay", lo=0, hi=1))
        self.groove = add(FloatParam(f"{p}/groove", DEFAULTS.groove, "how hard the notes are "
                                     "steered onto the style's onset positions in the beat (a "
                                     "trained model's NAME.rhythm.json)", lo=0, hi=4))
        self.program = add(IntParam(f"{p}/program", self.default_program, "General MIDI "
                                    "program (0-127); -1: the style's", lo=-1, hi=127))
        self.chord = add(ChordParam(f"{p}/chord", "harmonise with this chord from the next beat: "
                                    f"Am, G7, 'C E G' or none; chords played into {p}/in/note "
                                    "set it while the voice is not answering"))
        self.chord_strength = add(FloatParam(f"{p}/chord_strength", DEFAULTS.chord_strength,
                                             "how hard the chord steers", lo=0, hi=10))
        self.prime = add(PhraseParam(f"{p}/prime", "MIDI pitches (or names: C4 E4 G4) the voice "
                                     "continues from"))
        self.respond = add(BoolParam(f"{p}/respond", False, "call and response: answer each "
                                     f"phrase sent to {p}/in/note"))
        self.phrase_gap = add(FloatParam(f"{p}/phrase_gap", 1.0, "beats of silence that end an "
                                         "input phrase", lo=0.25, hi=16))
        self.answer_beats = add(FloatParam(f"{p}/answer_beats", 0.0, "length of an answer in "
                                           "beats; 0 = as long as the phrase", lo=0, hi=64))
        self.delivery = add(ChoiceParam(f"{p}/delivery", self.default_delivery,
                                        "immediate: each message when due; timetag: bundles "
                                        f"sent {TIMETAG_LEAD_S * 1000:g} ms ahead",
                                        choices=DELIVERIES))
        self.panic = add(BoolParam(f"{p}/panic", False, "all notes off now (any value)"))
        self.midi_port = add(MidiPortParam(f"{p}/midi_port", self.midi.spec or "",
                                           "MIDI out: 'virtual', 'virtual:NAME', a port name, "
                                           "or '' for none", opener=self._open_midi))
        add_analysis_params(registry, self.name, music_analysis.RANGES, strings=("key",))
        self.recommend = add(BoolParam(f"{p}/recommend", False, f"every {RECOMMEND_BEATS} beats, "
                                       "steer style, temperature and density towards the liked "
                                       f"ones ({p}/like), by /recommend/strength"))
        registry.watch(self.style.path, lambda c: self._restart_soon(None))
        registry.watch(self.prime.path, lambda c: self._restart_soon(
            (None, melody(c.value, 0.5, self.gen.spb if self.gen else 12))))
        for param in (self.key, self.transpose, self.channel, self.delivery, self.parts):
            registry.watch(param.path, lambda c: self._release_soon())
        registry.watch(self.chord.path, lambda c: self._chord_on_next_beat(c.value))
        for instrument in (self.style, self.program, self.channel, self.midi_port):
            registry.watch(instrument.path, lambda c: self.send_program())
        registry.watch(self.play.path, lambda c: self._set_active(c.value and not
                                                                  self.respond.value))
        registry.watch(self.respond.path, lambda c: self._set_active(
            self.play.value and not c.value))
        registry.watch(self.panic.path, lambda c: self.panic_now())

    def osc_routes(self) -> dict[str, Route]:
        """OSC addresses this voice handles that are not parameters."""
        return {f"/{self.name}/in/note": self._osc_input,
                f"/{self.name}/like": self._like,
                f"/{self.name}/panic": lambda args, sender: self.rt.registry.set(
                    self.panic.path, True, source="osc")}

    def _like(self, args: list[Any], sender: tuple[str, int]) -> None:
        if self.rt.recommend is None:
            raise ParamError(f"/{self.name}/like: this server keeps no likes")
        self.rt.recommend.music_like(self.name)

    def _steer(self) -> None:
        """Move towards the liked settings (event loop)."""
        recommend = self.rt.recommend
        target = recommend.music_target(self.name) if recommend is not None else None
        if recommend is None or target is None:
            return
        s = float(recommend.strength.value)
        for param, liked in ((self.temperature, target["temperature"]), (self.density, target["density"])):
            value = param.value + s * RECOMMEND_STEP * (liked - param.value)
            self.rt.registry.set(param.path, value, source="recommend")
        if s > 0 and target["style"] != self.style.value:
            self.rt.registry.set(self.style.path, target["style"], source="recommend")

    def send_program(self) -> None:
        """The instrument for the style on the voice's channel: a MIDI program change and OSC."""
        program = program_for(self.style.value, self.program.value)
        channel = self.channel.value
        self.midi.send(mido.Message("program_change", channel=channel - 1, program=program))
        self.rt.osc_out.send(f"/{self.name}/program", channel, program)

    def _chord_on_next_beat(self, text: str) -> None:
        """Harmonise with a chord from the next beat: what was queued past it is regenerated."""
        self._chord = chord_pitch_classes(text)
        if self.gen is None:  # the patch, before the voice begins
            return
        margin = (TIMETAG_LEAD_S + RESTART_MARGIN_S) * self.clock.bpm / 60.0
        beat = math.ceil(self.clock.beat_at() + margin)
        self.notes.flush()
        self._ops.append(("release", (beat * self.gen.spb, [])))
        self.post_job()

    def _open_midi(self, spec: str) -> None:
        try:
            self.midi.open(spec or None)
        except MidiError as e:
            raise ParamError(f"/{self.name}/midi_port: {e}") from None

    # -- life cycle -------------------------------------------------------------------
    def begin(self) -> None:
        model = self.rt.engine.models[self.engine_key]
        assert isinstance(model, MusicRNN)
        self.gen = MusicGen(model, self.name, self.rt.seed, grooves=grooves_for(self.spec, self.card))
        self.start_ticker()
        self._chord = chord_pitch_classes(self.chord.value)
        self.send_program()
        self._set_active(self.play.value and not self.respond.value)
        self._measure_at(max(1, int(self.clock.beat_at()) + 1))

    def _measure_at(self, beat: int) -> None:
        """Measure what sounded in each beat, on the beat (scheduler thread)."""
        def measure(due: float) -> None:
            hub = self.rt.analysis
            if hub is not None:
                hub.publish_threadsafe(self.name, "music", self.analyser.measure(float(beat)))
            if beat % RECOMMEND_BEATS == 0 and self.recommend.value:
                self.rt.loop.call_soon_threadsafe(self._steer)
            self._measure_at(beat + 1)

        self.rt.scheduler.at_beat(Fraction(beat), f"{self.name}:analysis", measure, prio=2)

    async def stop(self) -> None:
        await self.suspend()
        self.midi.close()
        if self.midi_in is not None:
            self.midi_in.close()

    async def suspend(self) -> None:
        """Stop playing, every note ended; the MIDI ports stay open (a supervised restart)."""
        self.stop_ticker()
        self.rt.scheduler.cancel(f"{self.name}:analysis")
        self._active = False
        self.notes.flush()
        for _ in range(50):  # the sender confirms the note-offs it sent: MIDI follows
            if not self.notes.waiting():
                break
            await asyncio.sleep(0.01)
        self.notes.end_left_over()  # a sender that is gone: end them here

    def _set_active(self, on: bool) -> None:
        self.notes.flush()
        self._answer_end = None
        self._active = bool(on)
        if on:
            self._ops.append(("restart", None))
        self.post_job()

    def _restart_soon(self, arg: Restart) -> None:
        self.notes.flush()
        self._ops.append(("restart", arg))
        self.post_job()

    def _release_soon(self) -> None:
        self.notes.flush()
        self._ops.append(("release", None))
        self.post_job()

    def part_channels(self) -> list[int]:
        """The MIDI channel of each part (one part: the voice's channel)."""
        return [(self.channel.value - 1 + k) % 16 + 1 for k in range(self.parts.value)]

    def panic_now(self) -> None:
        """All notes off: every sounding note, then every pitch, over OSC and MIDI."""
        for channel in self.part_channels():
            self.notes.panic(channel)
        self._ops.append(("release", None))
        self.post_job()

    # -- the event loop: a ticker posts generation jobs ------------------------------------
    def tick_period(self) -> float:
        return min(0.05, self.lookahead * 60.0 / self.clock.bpm / 4)

    def tick(self) -> None:
        if self.respond.value and self.play.value:
            self._check_phrase_end()
        if self._active or self._ops:
            self.post_job()
        self.notes.purge()

    def _snapshot(self) -> Settings:
        return Settings(self.temperature.value, self.top_p.value, self.density.value,
                        self.key.value, self.key_strength.value, self.transpose.value,
                        self._chord, self.chord_strength.value, self.dynamics.value,
                        self.swing.value, self.humanize.value, self.clock.beats_per_bar,
                        self.velocity.value, self.groove.value, self.voice_leading.value)

    # -- the engine thread ------------------------------------------------------------------
    def _steps_soon(self) -> int:
        """The first step a restart may use: late enough for this job to generate it and the
        sender to get it ahead of its bundle's lead, even on a busy machine."""
        assert self.gen is not None
        margin = (TIMETAG_LEAD_S + RESTART_MARGIN_S) * self.clock.bpm / 60.0
        return math.ceil((self.clock.beat_at() + margin) * self.gen.spb)

    def _apply_ops(self, gen: MusicGen, soon: int) -> None:
        while self._ops:
            op, arg = self._ops.popleft()
            if op == "restart" or gen.sampler is None:
                at = arg[0] if arg and arg[0] is not None else soon
                self.log_gen(gen.restart(max(at, soon), self.style.value, arg[1] if arg else None))
            else:
                at = arg[0] if arg and arg[0] is not None else soon
                self.log_gen(gen.release(max(at, soon)))

    def job(self) -> None:
        gen = self.gen
        assert gen is not None
        flush = self.notes.flushes
        spb = gen.spb
        soon = self._steps_soon()
        self._apply_ops(gen, soon)
        if not self._active:
            return
        if gen.sampler is None:
            self.log_gen(gen.restart(soon, self.style.value))
        if gen.cursor < soon - spb:  # fell far behind (a long stall): skip ahead, never burst
            self.log_gen(gen.release(soon))
        settings = self._snapshot()
        if settings != self._last_settings:
            self._last_settings = settings
            self.log_gen({"op": "settings", **asdict(settings)})
        until = math.ceil((self.clock.beat_at() + self.lookahead) * spb)
        if self._answer_end is not None:
            until = min(until, self._answer_end)
        t0 = time.perf_counter()
        c0 = gen.cursor
        notes = gen.run(settings, until, self._answer_end)
        if self._answer_end is not None and gen.cursor >= self._answer_end:
            notes += gen.close_all(self._answer_end)  # the answer ends here: so do its notes
            self.log_gen({"op": "close", "step": self._answer_end})
            self._active = False
            self._answer_end = None
        self.gen_s += time.perf_counter() - t0
        self.gen_steps += gen.cursor - c0
        timetag = self.delivery.value == "timetag"
        played = sorted((gen.perform(n, settings) for n in notes), key=lambda n: (n.start, n.id))
        parts = self._deal(played)
        channels = self.part_channels()
        for note, part in zip(played, parts, strict=True):  # a late one still goes in order
            self.notes.hand(note, flush, channels[part], timetag,
                            part if self.parts.value > 1 else None)

    def _deal(self, played: list[PlayedNote]) -> list[int]:
        """The part of each note (engine thread); one part: all 0."""
        n = self.parts.value
        if n == 1:
            return [0] * len(played)
        if self._parts is None or self._parts.parts != n:
            self._parts = PartAllocator(n)
        out: list[int] = []
        i = 0
        while i < len(played):  # the notes that start together, dealt as one chord
            j = i
            while j < len(played) and played[j].start == played[i].start:
                j += 1
            out += self._parts.chord(played[i].start, [(x.pitch, x.end) for x in played[i:j]])
            i = j
        return out

    # -- input notes: call and response -----------------------------------------------------
    def _osc_input(self, args: list[Any], sender: tuple[str, int]) -> None:
        pitch, velocity = parse_input_note(f"/{self.name}/in/note", args)
        self.input_note(pitch, velocity, "osc")

    def _midi_input(self, msg: Any) -> None:
        """mido's callback thread: hand note-ons to the event loop."""
        if msg.type == "note_on" and msg.velocity > 0:
            self.rt.loop.call_soon_threadsafe(self.input_note, msg.note, msg.velocity, "midi")

    def input_note(self, pitch: int, velocity: int, source: str) -> None:
        """A note played to the voice (velocity 0 is a note-off and is only recorded)."""
        beat = self.clock.beat_at()
        recorder = self.rt.recorder
        if recorder is not None:
            recorder.write({"type": "input", "t": recorder.t(), "voice": self.name,
                            "pitch": pitch, "velocity": velocity, "beat": round(beat, 6),
                            "source": source})
        if velocity > 0 and not self.respond.value:
            chord = self.band.add(beat, pitch)  # the band plays a chord: harmonise with it
            if chord is not None and chord != self.chord.value:
                self.rt.registry.set(self.chord.path, chord, source=source)
            return
        if velocity == 0 or not self.play.value:
            return
        if self._active:  # the performer plays over an answer: the answer yields
            self._set_active(False)
        self.listener.add(beat, pitch, velocity)

    def _check_phrase_end(self) -> None:
        if self._active:
            return
        now = self.clock.beat_at()
        phrase = self.listener.take_if_ended(now, self.phrase_gap.value)
        if phrase is None:
            return
        spb = self.gen.spb if self.gen else 12
        length = answer_length(phrase, now, self.answer_beats.value)
        at = math.ceil(now + (TIMETAG_LEAD_S + RESTART_MARGIN_S) * self.clock.bpm / 60.0) * spb
        self.notes.flush()
        self._answer_end = at + int(length * spb)
        self._active = True
        self._ops.append(("restart", (at, phrase_events(phrase, spb))))
        self.post_job()

    # -- status -----------------------------------------------------------------------------
    def events_per_s(self) -> float:
        return self.notes.events_per_s()

    def status(self) -> dict[str, Any]:
        beats = self.gen_steps / (self.gen.spb if self.gen else 12)
        music_s = beats * 60.0 / self.clock.bpm
        return self.model_status() | {
            "events_per_s": self.events_per_s(), "notes": self.notes.notes_sent,
            "style": self.style.value, "playing": self._active,
            "respond": self.respond.value, "delivery": self.delivery.value,
            "program": program_for(self.style.value, self.program.value),
            "chord": list(self._chord), "parts": self.parts.value,
            "lookahead_beats": self.lookahead, "midi": self.midi.status(),
            "gen_speed_x": round(music_s / self.gen_s, 1) if self.gen_s > 0 else None,
            **self.notes.counts(),
        }

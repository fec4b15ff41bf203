"""The music voice: a performance-event RNN played ahead of the clock, sent by the OSC sender.

Threads: the event loop takes controls and input notes and posts generation jobs; the engine
thread runs every forward pass (MusicGen) a lookahead ahead of the beat and hands complete
notes to the OSC sender process (live/sender.py), which sends each when due and confirms it;
MIDI, WebSocket and the recorder follow its confirmations. Nothing here waits on another.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
import zlib
from collections import deque
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import torch

from live.clock import Clock
from live.midi import MidiError, MidiOut, open_input
from live.osc import build_message
from live.params import (
    BoolParam,
    ChoiceParam,
    FloatParam,
    IntParam,
    Param,
    ParamError,
    Registry,
    StringParam,
)
from live.runtime import Runtime
from live.sender import NoteSender
from models import weights
from models.music_data import COLLECTIONS
from models.music_rnn import Event, MusicConfig, MusicRNN, MusicSampler

log = logging.getLogger("livegen.music")

UNTRAINED = "random"  # model name for an untrained music RNN (tests, first runs)
DELIVERIES = ("immediate", "timetag")
TIMETAG_LEAD_S = 0.05  # timetag bundles leave this long before they are due
RESTART_MARGIN_S = 0.15  # a restart (style, prime, answer) begins this far after now
_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
KEYS = ("any", *_NAMES, *(n + "m" for n in _NAMES))
MAX_PRIME = 64  # pitches in a prime phrase
MAX_EVENTS_PER_JOB = 4096
STALL_EVENTS = 64  # this many events without a time shift: push time on by one step


class PhraseParam(Param):
    """A phrase of MIDI pitches: a list of ints 0-127, or a string like 'C4 E4 G4' or '60 64 67'."""

    type: str = "phrase"

    def __init__(self, path: str, doc: str = "") -> None:
        super().__init__(path, (), doc, "phrase")

    def validate(self, value: Any) -> tuple[int, ...]:
        expected = f"a list of up to {MAX_PRIME} MIDI pitches 0-127, or note names like 'C4 E4 G4'"
        if isinstance(value, str):
            items: list[Any] = value.replace(",", " ").split()
            try:
                items = [parse_pitch(x) for x in items]
            except ValueError as e:
                raise ParamError(f"{self.path}: {e}; expected {expected}") from None
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            items = [value]
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            raise self.refuse(value, expected)
        if len(items) > MAX_PRIME:
            raise ParamError(f"{self.path}: phrase of {len(items)} pitches refused, expected "
                             f"at most {MAX_PRIME}")
        out = []
        for x in items:
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not float(x).is_integer():
                raise self.refuse(value, expected)
            if not 0 <= x <= 127:
                raise ParamError(f"{self.path}: pitch {x!r} refused, expected 0-127")
            out.append(int(x))
        return tuple(out)


def parse_pitch(text: str) -> int:
    """'60', 'C4', 'F#3', 'Bb5' -> a MIDI pitch (C4 = 60)."""
    if text.lstrip("-").isdigit():
        return int(text)
    name = text[0].upper()
    if name not in "CDEFGAB":
        raise ValueError(f"{text!r} is not a pitch")
    rest = text[1:]
    shift = 0
    while rest[:1] in ("#", "b"):
        shift += 1 if rest[0] == "#" else -1
        rest = rest[1:]
    if not rest.lstrip("-").isdigit():
        raise ValueError(f"{text!r} is not a pitch (expected an octave number, as in C4)")
    return {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}[name] + shift + 12 * (int(rest) + 1)


def load_music_model(spec: dict[str, Any], device: torch.device) -> tuple[MusicRNN, dict]:
    """The music RNN a voice's patch table names, and its card; runs on the engine thread."""
    name = spec.get("model", UNTRAINED)
    if name == UNTRAINED:
        cfg = MusicConfig(styles=list(COLLECTIONS), n_embd=32, hidden=64, layers=1, dropout=0.0)
        torch.manual_seed(int(spec.get("seed", 0)))
        model = MusicRNN(cfg).to(device).eval()
        return model, {"name": UNTRAINED, "kind": "music", "arch": cfg.to_dict(), "trained": False}
    model, card = weights.load(name, device)
    if card.get("kind") != "music":
        raise weights.WeightsError(f"model {name!r} is a {card.get('kind')} model, not a music one")
    card.setdefault("trained", True)
    return model, card


def seed_for(seed: int, voice: str, restart: int) -> int:
    """The sampler seed of a voice's k-th restart: the same in a replay."""
    return (seed * 1_000_003 + zlib.crc32(voice.encode()) + restart * 7919) % 2**63


@dataclass
class Settings:
    """What a generation job reads from the controls; recorded whenever it changes."""

    temperature: float = 1.0
    top_p: float = 0.95
    density: float = 0.0
    key: str = "any"
    key_strength: float = 3.0
    transpose: int = 0


@dataclass
class GenNote:
    """A complete generated note on the voice's step grid (steps from beat 0)."""

    id: int
    pitch: int
    velocity: int
    start: int
    end: int


class MusicGen:
    """Generation state: a sampler, a cursor on the step grid and the notes not yet ended.

    Deterministic given the model, the seeds and the sequence of restarts and settings (keyed
    by event count), which is what the recorder writes: a replay gets the same notes.
    """

    def __init__(self, model: MusicRNN, voice: str, seed: int, max_note_beats: float = 4.0) -> None:
        self.model = model
        self.voice = voice
        self.seed = seed
        self.spb = model.cfg.steps_per_beat
        self.max_note_beats = max_note_beats
        self.restarts = 0
        self.events = 0  # events sampled since the voice began (the replay's position)
        self.next_id = 0
        self.cursor = 0
        self.velocity = 80
        self.open: dict[int, tuple[int, int]] = {}  # output pitch -> (start step, velocity)
        self.sampler: MusicSampler | None = None
        self._since_shift = 0

    def restart(self, at_step: int, style: str, prime: list[Event] | None = None) -> dict[str, Any]:
        """A fresh sampler in a style (optionally primed); generation resumes at at_step."""
        self.restarts += 1
        self.sampler = MusicSampler(self.model, seed_for(self.seed, self.voice, self.restarts),
                                    style=style)
        self.sampler.max_note_beats = self.max_note_beats
        if prime:
            self.sampler.prime(prime)
        self.cursor, self.open, self._since_shift = at_step, {}, 0
        return {"op": "restart", "step": at_step, "style": style,
                "prime": [[e.kind, e.value] for e in prime or []]}

    def release(self, at_step: int) -> dict[str, Any]:
        """Forget the notes not yet ended (they were silenced) and resume at at_step."""
        if self.sampler is not None:
            for pitch in list(self.sampler.sounding):  # tell the model they ended
                self.sampler.feed(Event("note_off", pitch))
        self.cursor, self.open, self._since_shift = at_step, {}, 0
        return {"op": "release", "step": at_step}

    def close_all(self, at: int) -> list[GenNote]:
        """End every open note at step `at` (the end of an answer), or just after its start."""
        notes = [self._note(p, at) for p in list(self.open)]
        self.release(self.cursor)
        return notes

    def _note(self, pitch: int, at: int | None = None) -> GenNote:
        start, vel = self.open.pop(pitch)
        self.next_id += 1
        end = self.cursor if at is None else min(self.cursor, at)
        return GenNote(self.next_id, pitch, vel, start, max(end, start + 1))

    def step(self, s: Settings) -> list[GenNote]:
        """Sample one event; return the notes it completes."""
        assert self.sampler is not None
        self.events += 1
        ev = self.sampler.next_event(s.temperature, s.top_p, s.density, s.transpose,
                                     None if s.key == "any" else s.key, s.key_strength)
        self._since_shift += 1
        if ev.kind == "time_shift":
            self.cursor += ev.value
            self._since_shift = 0
        elif self._since_shift >= STALL_EVENTS:  # an untrained model may never move time on
            self.sampler.feed(Event("time_shift", 1))
            self.cursor += 1
            self._since_shift = 0
        if ev.kind == "velocity":
            self.velocity = ev.value
        elif ev.kind == "note_on":
            done = [self._note(ev.value)] if ev.value in self.open else []
            self.open[ev.value] = (self.cursor, self.velocity)
            return done
        elif ev.kind == "note_off" and ev.value in self.open:
            return [self._note(ev.value)]
        return []

    def run(self, s: Settings, until: int, stop_at: int | None = None) -> list[GenNote]:
        """Generate until the cursor reaches `until` and every note begun before it has ended.

        stop_at (the end of an answer) is a hard end: the caller ends what is still open.
        """
        out: list[GenNote] = []
        limit = until + int(self.max_note_beats * self.spb) + self.spb
        if stop_at is not None:
            limit = min(limit, stop_at)
        for _ in range(MAX_EVENTS_PER_JOB):
            begun = any(start < until for start, _ in self.open.values())
            if (self.cursor >= until and not begun) or self.cursor >= limit:
                break
            out += self.step(s)
        return out

    def run_events(self, s: Settings, n: int) -> list[GenNote]:
        """Generate exactly n more events (a replay follows the recorded event counts)."""
        out: list[GenNote] = []
        for _ in range(n):
            out += self.step(s)
        return out


@dataclass
class Handed:
    """A note handed to the sender and not yet ended."""

    note: GenNote
    vel: int
    ch: int
    start: Fraction
    end: Fraction
    epoch: int = 0  # the voice's flush count when it was handed over
    sounding: bool = False  # the sender has started it


class MusicVoice:
    """One music voice; see the module docstring for who runs what."""

    kind = "music"

    def __init__(self, name: str, spec: dict[str, Any], rt: Runtime) -> None:
        self.name = name
        self.spec = spec
        self.rt = rt
        self.clock: Clock = rt.extras["clock"]
        self.sender: NoteSender = rt.extras["sender"]
        self.sender.on_sent(name, self._on_sent)
        self.recorder = rt.extras.get("recorder")
        self.model = str(spec.get("model", UNTRAINED))
        self.engine_key = f"music:{self.model}"  # engine.models is shared with other kinds
        self.lookahead = float(spec.get("lookahead_beats", 1.0))
        if not 0.05 <= self.lookahead <= 16:
            raise ValueError(f"voice {name!r}: lookahead_beats {self.lookahead} refused, "
                             "expected 0.05 to 16")
        delivery = spec.get("delivery", "immediate")
        if delivery not in DELIVERIES:
            raise ValueError(f"voice {name!r}: delivery {delivery!r} refused, expected "
                             + " or ".join(DELIVERIES))
        self.default_delivery = delivery
        self.card: dict[str, Any] = {}
        self.midi = MidiOut()
        self.midi_in = None
        self.gen: MusicGen | None = None
        self._lock = threading.Lock()  # handed notes and the epoch: engine, loop, sender reader
        self._epoch = 0  # bumped by every flush; notes of an older epoch are dropped
        self._notes: dict[int, Handed] = {}  # handed to the sender, by note id
        self._ops: deque[tuple[str, Any]] = deque()  # restarts and releases for the next job
        self._task: asyncio.Task | None = None
        self._active = False  # generating (playing, or answering in respond mode)
        self._answer_end: int | None = None  # step where the current answer ends
        self._phrase: list[tuple[float, int, int]] = []  # input notes: (beat, pitch, velocity)
        self._last_input_beat = -math.inf
        self._last_settings: Settings | None = None
        self._sent: deque[float] = deque(maxlen=2000)
        self.notes_sent = 0
        self.gen_s = 0.0  # engine time spent generating
        self.gen_steps = 0  # steps generated

    # -- set-up ---------------------------------------------------------------------
    async def load(self) -> None:
        device = self.rt.engine.device

        def load() -> tuple[Any, dict]:
            model, card = load_music_model(self.spec, device)
            MusicSampler(model).next_event()  # warm-up
            return model, card

        self.card = await asyncio.wrap_future(self.rt.engine.load_once(self.engine_key, load))
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
        self.density = add(FloatParam(f"{p}/density", 0.0, "more notes (> 0) or fewer (< 0): "
                                      "log-odds added to note-ons", lo=-4, hi=4))
        self.key = add(ChoiceParam(f"{p}/key", "any", "steer towards this key's scale",
                                   choices=KEYS))
        self.key_strength = add(FloatParam(f"{p}/key_strength", 3.0, "how hard the key steers",
                                           lo=0, hi=10))
        self.transpose = add(IntParam(f"{p}/transpose", 0, "semitones", lo=-24, hi=24))
        self.style = add(ChoiceParam(f"{p}/style", self.styles[0], "style token of the model",
                                     choices=tuple(self.styles)))
        self.play = add(BoolParam(f"{p}/play", True, "start and stop the voice"))
        self.channel = add(IntParam(f"{p}/channel", 1, "MIDI channel", lo=1, hi=16))
        self.velocity = add(FloatParam(f"{p}/velocity", 1.0, "velocity scale", lo=0, hi=2))
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
        registry.watch(self.style.path, lambda c: self._restart_soon(None))
        registry.watch(self.prime.path, lambda c: self._restart_soon(
            (None, _melody(c.value, 0.5, self.gen.spb if self.gen else 12))))
        for param in (self.key, self.transpose, self.channel, self.delivery):
            registry.watch(param.path, lambda c: self._release_soon())
        registry.watch(self.play.path, lambda c: self._set_active(c.value and not
                                                                  self.respond.value))
        registry.watch(self.respond.path, lambda c: self._set_active(
            self.play.value and not c.value))
        registry.watch(self.panic.path, lambda c: self.panic_now())

    def routes(self) -> dict[str, Any]:
        """OSC addresses this voice handles that are not parameters."""
        return {f"/{self.name}/in/note": self._osc_input,
                f"/{self.name}/panic": lambda args, sender: self.rt.registry.set(
                    self.panic.path, True, source="osc")}

    def _open_midi(self, spec: str) -> None:
        try:
            self.midi.open(spec or None)
        except MidiError as e:
            raise ParamError(f"/{self.name}/midi_port: {e}") from None

    # -- life cycle -------------------------------------------------------------------
    def begin(self) -> None:
        self.gen = MusicGen(self.rt.engine.models[self.engine_key], self.name, self.rt.seed)
        self._task = asyncio.get_running_loop().create_task(self._ticker())
        self._set_active(self.play.value and not self.respond.value)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._active = False
        self.all_off()
        for _ in range(50):  # the sender confirms the note-offs it sent: MIDI follows
            if not self._notes:
                break
            await asyncio.sleep(0.01)
        with self._lock:
            left, self._notes = self._notes, {}
        for h in left.values():  # a sender that is gone: end them here
            if h.sounding:
                self.midi.note_off(h.ch, h.note.pitch)
        self.midi.close()
        if self.midi_in is not None:
            self.midi_in.close()

    def _set_active(self, on: bool) -> None:
        self.all_off()
        self._answer_end = None
        self._active = bool(on)
        if on:
            self._ops.append(("restart", None))
        self._poke()

    def _restart_soon(self, arg: tuple[int | None, list[Event]] | None) -> None:
        self.all_off()
        self._ops.append(("restart", arg))
        self._poke()

    def _release_soon(self) -> None:
        self.all_off()
        self._ops.append(("release", None))
        self._poke()

    def panic_now(self) -> None:
        """All notes off: every sounding note, then every pitch, over OSC and MIDI."""
        offs = [build_message(f"/{self.name}/noteoff", [p]).dgram for p in range(128)]
        self.all_off(then=offs)
        self.midi.all_notes_off(self.channel.value)
        self._ops.append(("release", None))
        self._poke()

    def all_off(self, then: list[bytes] | None = None) -> None:
        """Drop every queued delivery and end every sounding note now (never a hanging note)."""
        with self._lock:  # no note of the old epoch reaches the sender after this
            self._epoch += 1
            # The sender ends what it has started and confirms each ("cut"): MIDI follows.
            self.sender.cancel(self.name, then)
            # Notes not yet confirmed stay: an "on" may be on its way; _purge drops the rest.

    # -- the event loop: a ticker posts generation jobs ------------------------------------
    def _poke(self) -> None:
        if self.gen is not None:
            self.rt.engine.post(("music", self.name), self._job)

    async def _ticker(self) -> None:
        while True:
            beat_s = 60.0 / self.clock.bpm
            await asyncio.sleep(min(0.05, self.lookahead * beat_s / 4))
            if self.respond.value and self.play.value:
                self._check_phrase_end()
            if self._active or self._ops:
                self._poke()
            self._purge()

    def _purge(self) -> None:
        """Forget notes cancelled before they started (their time has passed unconfirmed)."""
        old = Fraction(math.floor(self.clock.beat_at()) - 1)
        with self._lock:
            gone = [i for i, h in self._notes.items()
                    if not h.sounding and h.epoch != self._epoch and h.start < old]
            for i in gone:
                del self._notes[i]

    def _snapshot(self) -> Settings:
        return Settings(self.temperature.value, self.top_p.value, self.density.value,
                        self.key.value, self.key_strength.value, self.transpose.value)

    # -- the engine thread ------------------------------------------------------------------
    def _job(self) -> None:
        gen = self.gen
        assert gen is not None
        epoch = self._epoch
        spb = gen.spb
        # After a restart, new notes start late enough for this job to finish generating them
        # and the sender to get them ahead of their bundles' lead, even on a busy machine.
        margin = (TIMETAG_LEAD_S + RESTART_MARGIN_S) * self.clock.bpm / 60.0
        soon = math.ceil((self.clock.beat_at() + margin) * spb)
        while self._ops:
            op, arg = self._ops.popleft()
            if op == "restart" or gen.sampler is None:
                at = arg[0] if arg and arg[0] is not None else soon
                self._log(gen.restart(max(at, soon), self.style.value, arg[1] if arg else None))
            else:
                self._log(gen.release(soon))
        if not self._active:
            return
        if gen.sampler is None:
            self._log(gen.restart(soon, self.style.value))
        if gen.cursor < soon - spb:  # fell far behind (a long stall): skip ahead, never burst
            self._log(gen.release(soon))
        settings = self._snapshot()
        if settings != self._last_settings:
            self._last_settings = settings
            self._log({"op": "settings", **asdict(settings)})
        until = math.ceil((self.clock.beat_at() + self.lookahead) * spb)
        if self._answer_end is not None:
            until = min(until, self._answer_end)
        t0 = time.perf_counter()
        c0 = gen.cursor
        notes = gen.run(settings, until, self._answer_end)
        if self._answer_end is not None and gen.cursor >= self._answer_end:
            notes += gen.close_all(self._answer_end)  # the answer ends here: so do its notes
            self._log({"op": "close", "step": self._answer_end})
            self._active = False
            self._answer_end = None
        self.gen_s += time.perf_counter() - t0
        self.gen_steps += gen.cursor - c0
        for note in sorted(notes, key=lambda n: (n.start, n.id)):  # a late one still goes in order
            self._schedule(note, epoch)

    def _log(self, record: dict[str, Any]) -> None:
        """Write a generation record (the replay follows them) at the current event count."""
        if self.recorder is not None and self.gen is not None:
            self.recorder.write({"type": "gen", "voice": self.name, "event": self.gen.events,
                                 "restarts": self.gen.restarts, **record})

    # -- delivery: the sender process sends OSC and confirms; the rest follows it -------------
    def _schedule(self, note: GenNote, epoch: int) -> None:
        """Hand a note to the sender, its OSC messages built here (on the engine thread)."""
        spb = self.gen.spb if self.gen else 12
        start, end = Fraction(note.start, spb), Fraction(note.end, spb)
        vel = max(1, min(127, round(note.velocity * self.velocity.value)))
        version = self.clock.version  # read before the map it describes
        dur = self.clock.seconds_at(end) - self.clock.seconds_at(start)
        on = [build_message(f"/{self.name}/noteon", [note.pitch, vel]).dgram,
              build_message(f"/{self.name}/note", [note.pitch, vel, float(dur)]).dgram]
        off = build_message(f"/{self.name}/noteoff", [note.pitch]).dgram
        timetag = self.delivery.value == "timetag"
        with self._lock:
            if epoch != self._epoch:
                return  # generated before a flush: never heard
            self._notes[note.id] = Handed(note, vel, self.channel.value, start, end, epoch)
            self.sender.note(self.name, note.id, start, end, on, off, timetag, TIMETAG_LEAD_S,
                             (f"/{self.name}/note", note.pitch, vel), version)

    def _on_sent(self, kind: str, note_id: int) -> None:
        """The sender's confirmation (its reader thread): MIDI, WebSocket and the recorder
        follow exactly what went out over OSC, so they never disagree at a cancel."""
        with self._lock:
            h = self._notes.get(note_id)
            if h is None:
                return
            if kind == "on":
                h.sounding = True
            else:
                del self._notes[note_id]
        if kind == "on":
            self._started(h)
        elif h.sounding:
            self.midi.note_off(h.ch, h.note.pitch)
            if kind == "cut" and self.recorder is not None:
                self.recorder.write({"type": "note_cut", "voice": self.name, "id": note_id,
                                     "t": self.recorder.t()})

    def _started(self, h: Handed) -> None:
        self.midi.note_on(h.ch, h.note.pitch, h.vel)
        t0, t1 = self.clock.seconds_at(h.start), self.clock.seconds_at(h.end)
        self._sent.append(time.monotonic())
        self.notes_sent += 1
        self.rt.events.publish_threadsafe("notes", {
            "op": "note", "voice": self.name, "pitch": h.note.pitch, "velocity": h.vel,
            "duration": round(t1 - t0, 6), "time": self.clock.origin_epoch + t0,
            "beat": float(h.start), "channel": h.ch})
        if self.recorder is not None:
            self.recorder.note(voice=self.name, id=h.note.id, pitch=h.note.pitch, velocity=h.vel,
                               channel=h.ch, t=round(t0, 6), dur=round(t1 - t0, 6),
                               beat=str(h.start), beats=str(h.end - h.start))

    # -- input notes: call and response -----------------------------------------------------
    def _osc_input(self, args: list[Any], sender: tuple[str, int]) -> None:
        path = f"/{self.name}/in/note"
        if not 2 <= len(args) <= 3 or not all(isinstance(a, (int, float)) and not isinstance(a, bool)
                                              for a in args):
            raise ParamError(f"{path}: {args!r} refused, expected pitch velocity [duration]")
        pitch, vel = args[0], args[1]
        if not float(pitch).is_integer() or not 0 <= pitch <= 127:
            raise ParamError(f"{path}: pitch {pitch!r} refused, expected an integer 0-127")
        if not 0 <= vel <= 127:
            raise ParamError(f"{path}: velocity {vel!r} refused, expected 0-127")
        self.input_note(int(pitch), int(vel), "osc")

    def _midi_input(self, msg: Any) -> None:
        """mido's callback thread: hand note-ons to the event loop."""
        if msg.type == "note_on" and msg.velocity > 0:
            self.rt.loop.call_soon_threadsafe(self.input_note, msg.note, msg.velocity, "midi")

    def input_note(self, pitch: int, velocity: int, source: str) -> None:
        """A note played to the voice (velocity 0 is a note-off and is only recorded)."""
        beat = self.clock.beat_at()
        if self.recorder is not None:
            self.recorder.write({"type": "input", "t": self.recorder.t(), "voice": self.name,
                                 "pitch": pitch, "velocity": velocity, "beat": round(beat, 6),
                                 "source": source})
        if velocity == 0 or not self.respond.value or not self.play.value:
            return
        if self._active:  # the performer plays over an answer: the answer yields
            self._set_active(False)
        self._phrase.append((beat, pitch, velocity))
        self._phrase = self._phrase[-MAX_PRIME:]
        self._last_input_beat = beat

    def _check_phrase_end(self) -> None:
        if not self._phrase or self._active:
            return
        now = self.clock.beat_at()
        if now - self._last_input_beat < self.phrase_gap.value:
            return
        phrase, self._phrase = self._phrase, []
        spb = self.gen.spb if self.gen else 12
        length = self.answer_beats.value or max(1.0, math.ceil(now - phrase[0][0]))
        at = math.ceil(now + (TIMETAG_LEAD_S + RESTART_MARGIN_S) * self.clock.bpm / 60.0) * spb
        self.all_off()
        self._answer_end = at + int(length * spb)
        self._active = True
        self._ops.append(("restart", (at, _phrase_events(phrase, spb))))
        self._poke()

    # -- status -----------------------------------------------------------------------------
    def events_per_s(self) -> float:
        now = time.monotonic()
        recent = [t for t in list(self._sent) if t > now - 10.0]
        return round(len(recent) / 10.0, 3) if recent else 0.0

    def status(self) -> dict[str, Any]:
        beats = self.gen_steps / (self.gen.spb if self.gen else 12)
        music_s = beats * 60.0 / self.clock.bpm
        out = {
            "kind": self.kind, "model": self.model,
            "trained": bool(self.card.get("trained", False)),
            "events_per_s": self.events_per_s(), "notes": self.notes_sent,
            "style": self.style.value, "playing": self._active,
            "respond": self.respond.value, "delivery": self.delivery.value,
            "lookahead_beats": self.lookahead, "midi": self.midi.status(),
            "gen_speed_x": round(music_s / self.gen_s, 1) if self.gen_s > 0 else None,
            "sounding": sum(h.sounding for h in list(self._notes.values())),
            "queued": sum(not h.sounding and h.epoch == self._epoch
                          for h in list(self._notes.values())),
        }
        if not out["trained"]:
            out["note"] = "UNTRAINED model: expect random notes, not music"
        return out


class MidiPortParam(StringParam):
    """A MIDI port spec: opening it is part of validation, so a port that fails is refused."""

    def __init__(self, path: str, default: str, doc: str, opener: Any) -> None:
        self.opener = None
        super().__init__(path, default, doc, max_len=200)
        self.opener = opener

    def validate(self, value: Any) -> str:
        spec = super().validate(value)
        if self.opener is not None:
            self.opener(spec)
        return spec


def _melody(pitches: tuple[int, ...], beats_each: float, spb: int) -> list[Event]:
    step = max(1, round(beats_each * spb))
    out: list[Event] = []
    for p in pitches:
        out += [Event("note_on", p), Event("time_shift", step), Event("note_off", p)]
    return out


def _phrase_events(phrase: list[tuple[float, int, int]], spb: int) -> list[Event]:
    """Input notes (beat, pitch, velocity) -> events on the step grid, each note to the next."""
    out: list[Event] = []
    for i, (beat, pitch, vel) in enumerate(phrase):
        nxt = phrase[i + 1][0] if i + 1 < len(phrase) else beat + 0.5
        steps = max(1, round((nxt - beat) * spb))
        out += [Event("velocity", vel), Event("note_on", pitch)]
        while steps > 0:
            out.append(Event("time_shift", min(steps, spb)))
            steps -= spb
        out.append(Event("note_off", pitch))
    return out


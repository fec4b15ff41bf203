"""Note delivery: a music voice's notes go to the OSC note sender; MIDI, WebSocket and the
recorder follow the sender's confirmations, so they never disagree about what sounded."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from live.io.midi import MidiOut
from live.io.osc import build_message
from live.io.sender import NoteCmd, beat_of
from live.runtime import Runtime
from live.voices.music_gen import PlayedNote

TIMETAG_LEAD_S = 0.05  # timetag bundles leave this long before they are due


@dataclass
class Handed:
    """A note handed to the sender and not yet ended."""

    note: PlayedNote
    vel: int
    ch: int
    start: Fraction
    end: Fraction
    flush: int = 0  # the voice's flush count when it was handed over
    sounding: bool = False  # the sender has started it


class NoteDelivery:
    """One voice's notes between the engine thread, the sender's reader thread and the loop."""

    def __init__(self, voice: str, rt: Runtime, midi: MidiOut) -> None:
        self.voice = voice
        self.rt = rt
        self.clock = rt.clock
        self.midi = midi
        self._lock = threading.Lock()  # the handed notes and the flush count
        self.flushes = 0  # bumped by every flush; notes generated before one are dropped
        self._notes: dict[int, Handed] = {}  # handed to the sender, by note id
        self._sent: deque[float] = deque(maxlen=2000)
        self.notes_sent = 0
        rt.note_sender.on_sent(voice, self._on_sent)
        self.heard: Callable[[Handed], None] | None = None  # each note as it starts (analysis)

    def flush(self, then: list[bytes] | None = None) -> None:
        """Drop every queued delivery and end every sounding note now (never a hanging note)."""
        with self._lock:  # no note generated before this reaches the sender after it
            self.flushes += 1
            # The sender ends what it has started and confirms each ("cut"): MIDI follows.
            self.rt.note_sender.cancel(self.voice, then)
            # Notes not yet confirmed stay: an "on" may be on its way; purge() drops the rest.

    def panic(self, channel: int) -> None:
        """Every sounding note off, then a note-off for every pitch, over OSC and MIDI."""
        self.flush([build_message(f"/{self.voice}/noteoff", [p]).dgram for p in range(128)])
        self.midi.all_notes_off(channel)

    def purge(self) -> None:
        """Forget notes cancelled before they started (their time has passed unconfirmed)."""
        old = Fraction(math.floor(self.clock.beat_at()) - 1)
        with self._lock:
            gone = [i for i, h in self._notes.items()
                    if not h.sounding and h.flush != self.flushes and h.start < old]
            for i in gone:
                del self._notes[i]

    def hand(self, note: PlayedNote, flush: int, channel: int, timetag: bool,
             part: int | None = None) -> None:
        """Hand a note to the sender, its OSC messages built here (on the engine thread).

        A note of a part (voices dealt into parts) also sends `/VOICE/part part pitch` first.
        """
        start, end, vel = note.start, note.end, note.velocity
        version = self.clock.version  # read before the map it describes
        dur = self.clock.seconds_at(end) - self.clock.seconds_at(start)
        address = f"/{self.voice}/note"
        on = [build_message(f"/{self.voice}/noteon", [note.pitch, vel]).dgram,
              build_message(address, [note.pitch, vel, float(dur)]).dgram]
        if part is not None:
            on.insert(0, build_message(f"/{self.voice}/part", [part, note.pitch]).dgram)
        off = build_message(f"/{self.voice}/noteoff", [note.pitch]).dgram
        with self._lock:
            if flush != self.flushes:
                return  # generated before a flush: never heard
            self._notes[note.id] = Handed(note, vel, channel, start, end, flush)
            self.rt.note_sender.note(NoteCmd(
                self.voice, note.id, beat_of(start), beat_of(end), on, off, timetag,
                TIMETAG_LEAD_S, (address, note.pitch, vel), version))

    def _on_sent(self, kind: str, note_id: int) -> None:
        """The sender's confirmation (its reader thread): "on", "off" or "cut"."""
        with self._lock:
            h = self._notes.get(note_id)
            if h is None:
                return
            if kind == "on":
                h.sounding = True
            else:
                del self._notes[note_id]
        recorder = self.rt.recorder
        if kind == "on":
            self._started(h)
        elif h.sounding:
            self.midi.note_off(h.ch, h.note.pitch)
            if kind == "cut" and recorder is not None:
                recorder.write({"type": "note_cut", "voice": self.voice, "id": note_id,
                                "t": recorder.t()})

    def _started(self, h: Handed) -> None:
        self.midi.note_on(h.ch, h.note.pitch, h.vel)
        if self.heard is not None:
            self.heard(h)
        t0, t1 = self.clock.seconds_at(h.start), self.clock.seconds_at(h.end)
        self._sent.append(time.monotonic())
        self.notes_sent += 1
        self.rt.events.publish_threadsafe("notes", {
            "op": "note", "voice": self.voice, "pitch": h.note.pitch, "velocity": h.vel,
            "duration": round(t1 - t0, 6), "time": self.clock.origin_unix + t0,
            "beat": float(h.start), "channel": h.ch})
        recorder = self.rt.recorder
        if recorder is not None:
            recorder.note(voice=self.voice, id=h.note.id, pitch=h.note.pitch, velocity=h.vel,
                          channel=h.ch, t=round(t0, 6), dur=round(t1 - t0, 6),
                          beat=str(h.start), beats=str(h.end - h.start))

    def waiting(self) -> bool:
        """Whether any handed note is not yet confirmed ended."""
        return bool(self._notes)

    def end_left_over(self) -> None:
        """At stop, with the sender gone: end here what MIDI still has sounding."""
        with self._lock:
            left, self._notes = self._notes, {}
        for h in left.values():
            if h.sounding:
                self.midi.note_off(h.ch, h.note.pitch)

    def counts(self) -> dict[str, int]:
        """Notes sounding now, and queued (handed, not yet started)."""
        notes = list(self._notes.values())
        return {"sounding": sum(h.sounding for h in notes),
                "queued": sum(not h.sounding and h.flush == self.flushes for h in notes)}

    def events_per_s(self) -> float:
        """Notes started per second over the last 10 s."""
        now = time.monotonic()
        recent = [t for t in list(self._sent) if t > now - 10.0]
        return round(len(recent) / 10.0, 3) if recent else 0.0

"""The recorder: events.jsonl, text.txt and performance.mid for a whole performance.

Every line of events.jsonl is written and flushed as it happens, by a writer thread (so the
scheduler never waits on a disk). performance.mid is rewritten atomically about once a second
and at the end, so a killed process leaves a file that parses, at most a second short; the
events alone rebuild it (`python -m live.record.replay DIR`).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import pretty_midi

from live.clock import Segment
from live.params import Change

log = logging.getLogger("livegen.recorder")

MIDI_EVERY_S = 1.0
MIDI_NOTES_PER_S = 20_000  # rewrite performance.mid at most once per this many notes a second
RESOLUTION = 480  # MIDI ticks per beat


def midi_from_events(events: list[dict[str, Any]]) -> pretty_midi.PrettyMIDI:
    """Build the MIDI file of a performance from its recorded events (tempo map and notes)."""
    tempo: list[tuple[Fraction, float, float]] = []  # (beat, seconds, bpm)
    notes: dict[str, dict[int, list[float]]] = {}  # voice -> note id -> [pitch, vel, start, end, ch]
    for ev in events:
        kind = ev.get("type")
        if kind == "tempo":
            beat = Fraction(ev["beat"])
            tempo = [s for s in tempo if s[0] < beat] + [(beat, float(ev["t"]), float(ev["bpm"]))]
        elif kind == "note":
            notes.setdefault(ev["voice"], {})[ev["id"]] = [
                ev["pitch"], ev["velocity"], ev["t"], ev["t"] + ev["dur"], ev.get("channel", 1)]
        elif kind == "note_cut":
            note = notes.get(ev["voice"], {}).get(ev["id"])
            if note is not None:
                note[3] = max(note[2] + 1e-3, min(note[3], ev["t"]))
    first_bpm = tempo[0][2] if tempo else 120.0
    pm = pretty_midi.PrettyMIDI(resolution=RESOLUTION, initial_tempo=first_bpm)
    if tempo:
        # pretty_midi keeps its tempo map private; (tick, seconds per tick) pairs are its form.
        pm._tick_scales = [(int(round(b * RESOLUTION)), 60.0 / (bpm * RESOLUTION))
                           for b, _, bpm in tempo]
        pm._tick_scales[0] = (0, pm._tick_scales[0][1])
        pm._update_tick_to_time(int(round(tempo[-1][0] * RESOLUTION)) + 1)
    for voice, by_id in notes.items():
        channel = int(next(iter(by_id.values()))[4]) if by_id else 1
        inst = pretty_midi.Instrument(program=0, is_drum=channel == 10, name=voice)
        for pitch, vel, start, end, _ in by_id.values():
            inst.notes.append(pretty_midi.Note(velocity=int(vel), pitch=int(pitch),
                                               start=float(start), end=float(end)))
        inst.notes.sort(key=lambda n: (n.start, n.pitch))
        pm.instruments.append(inst)
    return pm


def write_midi(pm: pretty_midi.PrettyMIDI, path: Path) -> None:
    """Write a MIDI file atomically: a reader never sees half of one."""
    tmp = path.with_name(path.name + ".tmp")
    pm.write(str(tmp))
    tmp.replace(path)


def read_events(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Every complete line of an events.jsonl; and how many lines were torn (a killed writer)."""
    events, torn = [], 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                torn += 1
    return events, torn


class Recorder:
    """Writes a performance into a folder; every method is safe from any thread and never blocks."""

    def __init__(self, folder: str | Path, origin_unix: float, header: dict[str, Any]) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.origin_unix = origin_unix
        self._events = open(self.folder / "events.jsonl", "w", encoding="utf-8")
        self._text = open(self.folder / "text.txt", "w", encoding="utf-8")
        self._queue: queue.SimpleQueue[tuple[str, Any] | None] = queue.SimpleQueue()
        self._midi_events: list[dict[str, Any]] = []  # tempo and notes, for the MIDI file
        self._midi_dirty = True
        self.notes = 0
        self.lines = 0
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._closed = False
        self.write({"type": "header", **header})
        self._thread.start()

    def t(self, unix: float | None = None) -> float:
        """Seconds since the clock's origin."""
        return round((time.time() if unix is None else unix) - self.origin_unix, 6)

    def rebase(self, origin_unix: float) -> None:
        self.origin_unix = origin_unix

    # -- what is recorded ---------------------------------------------------------
    def write(self, event: dict[str, Any]) -> None:
        if not self._closed:
            self._queue.put(("event", event))

    def control(self, change: Change) -> None:
        """A registry listener: every applied control change, with its stamp and source."""
        value = list(change.value) if isinstance(change.value, tuple) else change.value
        self.write({"type": "param", "t": self.t(change.time), "path": change.path,
                    "value": value, "stamp": change.stamp, "source": change.source})

    def tempo(self, seg: Segment) -> None:
        self.write({"type": "tempo", "t": round(seg.ticks / 2**32, 9), "beat": str(seg.beat),
                    "bpm": float(seg.bpm)})

    def note(self, **fields: Any) -> None:
        self.write({"type": "note", **fields})

    def text(self, voice: str, kind: str, text: str, t: float, restarts: int = 0) -> None:
        self.write({"type": "text", "t": t, "voice": voice, "kind": kind, "text": text,
                    "restarts": restarts})
        if kind == "char":
            self._queue.put(("text", text))

    # -- the writer thread -----------------------------------------------------------
    def _run(self) -> None:
        last_midi = time.monotonic()
        while True:
            try:
                item = self._queue.get(timeout=MIDI_EVERY_S / 2)
            except queue.Empty:
                item = ("idle", None)
            if item is None:
                break
            kind, payload = item
            try:
                if kind == "event":
                    self._events.write(json.dumps(payload, separators=(",", ":")) + "\n")
                    self._events.flush()
                    self.lines += 1
                    if payload.get("type") in ("tempo", "note", "note_cut"):
                        self._midi_events.append(payload)
                        self._midi_dirty = True
                        self.notes += payload["type"] == "note"
                elif kind == "text":
                    self._text.write(payload)
                    self._text.flush()
                # A long recording (an installation, for weeks) is rewritten less often: the
                # cost grows with its length; events.jsonl keeps every note meanwhile.
                every = max(MIDI_EVERY_S, self.notes / MIDI_NOTES_PER_S)
                if self._midi_dirty and time.monotonic() - last_midi >= every:
                    self._write_midi()
                    last_midi = time.monotonic()
            except (OSError, ValueError):
                log.exception("recording into %s failed; recording stops", self.folder)
                return
        self._write_midi()

    def _write_midi(self) -> None:
        write_midi(midi_from_events(self._midi_events), self.folder / "performance.mid")
        self._midi_dirty = False

    def close(self, timeout: float = 3.0) -> None:
        """Write what is queued, the final MIDI file, and close."""
        if self._closed:
            return
        self.write({"type": "end", "t": self.t()})
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)
        self._events.close()
        self._text.close()

    def status(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "lines": self.lines, "notes": self.notes}

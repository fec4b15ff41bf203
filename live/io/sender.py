"""The OSC note sender: a small child process that sends every timed OSC message when it is due.

Why a process: in the server, a thread that must send a note on time first needs the GIL, and
on a busy 2-core machine the thread holding it (the event loop, an encoder, the engine) may
itself be waiting for a core; that costs milliseconds. The child has its own interpreter, a
scheduler thread at real-time priority where the OS allows, and nothing else to do.

The server writes commands to the child's stdin (the named tuples below, as length-prefixed
marshal of their name and fields, between two copies of the same interpreter); the child writes
JSON status lines to stdout.
When the server goes away, even by SIGKILL, the child reads end-of-file, ends every sounding
note, and exits: never a hanging note.
"""

from __future__ import annotations

import json
import logging
import marshal
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import IO, Any, NamedTuple

from live.clock import Clock, Segment
from live.io.osc import UdpFanout, build_message, bundle_dgrams, parse_target
from live.scheduler import Scheduler

log = logging.getLogger("livegen.sender")

Beat = tuple[int, int]  # a Fraction as (numerator, denominator): marshal knows no Fractions
SegmentFields = tuple[int, int, int, int, int]  # a Segment: beat n/d, ticks, bpm n/d
HEADER = struct.Struct(">I")


def beat_of(b: Fraction) -> Beat:
    """A Fraction as marshal can carry it."""
    return (b.numerator, b.denominator)


# -- the commands on the pipe, each defined once ------------------------------------------------
class NoteCmd(NamedTuple):
    """Queue a note of `owner`: its on-messages at beat `on`, its off-message at beat `off`."""

    owner: str
    note_id: int
    on: Beat
    off: Beat
    on_dgrams: list[bytes]
    off_dgram: bytes
    timetag: bool  # send as bundles stamped with the due time, `lead_s` early
    lead_s: float
    full: tuple[str, int, int]  # (address, pitch, velocity) of the last on-message, to rebuild
    version: int  # the server clock's tempo-map version the duration was computed with


class TempoCmd(NamedTuple):
    """The server clock's origin and tempo map."""

    origin_mono: float
    origin_unix: float
    segments: list[SegmentFields]
    version: int


class CancelCmd(NamedTuple):
    """Drop the owner's queued messages, end its sounding notes, then send `then`."""

    owner: str
    then: list[bytes]


class BeatsCmd(NamedTuple):
    """Send /clock/beat (and /clock/bar every beats_per_bar) from the next beat on."""

    beats_per_bar: int


class StatsCmd(NamedTuple):
    """Answer with a JSON line of figures."""


class QuitCmd(NamedTuple):
    """End every sounding note and exit."""


Command = NoteCmd | TempoCmd | CancelCmd | BeatsCmd | StatsCmd | QuitCmd
COMMANDS: dict[str, type[Command]] = {c.__name__: c for c in
                                      (NoteCmd, TempoCmd, CancelCmd, BeatsCmd, StatsCmd, QuitCmd)}


def encode_command(cmd: Command) -> bytes:
    """A command as one length-prefixed marshal record (marshal takes plain tuples only)."""
    data = marshal.dumps((type(cmd).__name__, *cmd))
    return HEADER.pack(len(data)) + data


def decode_command(record: tuple) -> Command:
    """The command a record names; ValueError for a name or field count that does not fit."""
    kind = COMMANDS.get(record[0]) if record else None
    if kind is None:
        raise ValueError(f"unknown command {record[:1]!r}")
    try:
        return kind(*record[1:])
    except TypeError as e:
        raise ValueError(f"command {record[0]}: {e}") from None


# -- the server's side ------------------------------------------------------------------------
class NoteSender:
    """Starts the child and sends it commands; every method is safe from any thread."""

    def __init__(self, targets: Sequence[tuple[str, int]]) -> None:
        self.targets = list(targets)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "live.io.sender", *(f"{h}:{p}" for h, p in self.targets)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[2])  # where `live` imports from, whoever runs us
        self._lock = threading.Lock()
        self._broken = False
        self.latest: dict[str, Any] = {}
        self.handlers: dict[str, Callable[[str, int], None]] = {}
        self._reader = threading.Thread(target=self._read, name="sender-status", daemon=True)
        self._reader.start()

    def on_sent(self, owner: str, handler: Callable[[str, int], None]) -> None:
        """Call handler(kind, note id) for each note of owner the child has started ("on"),
        ended ("off") or ended early on a cancel ("cut"): what went out, and nothing else."""
        self.handlers[owner] = handler

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "note" in msg:
                kind, owner, note_id = msg["note"]
                handler = self.handlers.get(owner)
                if handler is not None:
                    try:
                        handler(kind, note_id)
                    except Exception:
                        log.exception("handling a sent note of %s failed", owner)
            else:
                self.latest = msg

    def _write(self, cmd: Command) -> None:
        data = encode_command(cmd)
        with self._lock:
            if self._broken:
                return
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError) as e:
                self._broken = True
                log.error("the OSC note sender process is gone (%s); notes stop going out over "
                          "OSC", e)

    def tempo(self, clock: Clock) -> None:
        """Give the child the clock's origin and tempo map (call after every change)."""
        segs = [(s.beat.numerator, s.beat.denominator, s.ticks, s.bpm.numerator,
                 s.bpm.denominator) for s in clock.segments]
        self._write(TempoCmd(clock.origin_mono, clock.origin_unix, segs, clock.version))

    def beats(self, beats_per_bar: int) -> None:
        """Send /clock/beat (and /clock/bar) on every beat from now on."""
        self._write(BeatsCmd(beats_per_bar))

    def note(self, cmd: NoteCmd) -> None:
        """Queue a note; `full` rebuilds the last on-message, the one that carries the duration,
        if the tempo map has changed since `version`."""
        self._write(cmd)

    def cancel(self, owner: str, then: list[bytes] | None = None) -> None:
        """Drop the owner's queued messages, end its sounding notes, then send `then`."""
        self._write(CancelCmd(owner, then or []))

    def stats(self) -> dict[str, Any]:
        """The child's latest figures (asked for again here, answered within a moment)."""
        self._write(StatsCmd())
        return self.latest

    def close(self, timeout: float = 2.0) -> None:
        self._write(QuitCmd())
        with self._lock:
            self._broken = True
            try:
                if self.proc.stdin is not None:
                    self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- the child's side -----------------------------------------------------------------------------
class Child:
    """The child's state: OSC socket, clock copy, scheduler and the notes sounding per owner."""

    def __init__(self, targets: list[tuple[str, int]]) -> None:
        self.out = UdpFanout(targets)
        self.send = self.out.send_raw
        self.clock = Clock()
        self.scheduler = Scheduler(self.clock)
        self.lock = threading.Lock()
        self.sounding: dict[tuple[str, int], tuple[bytes, int, bool]] = {}  # off, on ntp, timetag
        self.cancels: dict[str, int] = {}  # per owner, counts its cancels
        self.beats_per_bar = 4
        self.server_version = 0  # the server clock's tempo-map version our copy matches

    def now_ntp(self) -> int:
        return self.clock.origin_ntp + self.clock.now_ticks()

    def apply(self, cmd: Command) -> bool:
        """Carry out one command; False means quit."""
        match cmd:
            case NoteCmd():
                self.note(cmd)
            case CancelCmd(owner, then):
                self.cancel(owner, then)
            case TempoCmd(mono, unix, segs, version):
                self.clock.load(mono, unix, tuple(
                    Segment(Fraction(bn, bd), ticks, Fraction(pn, pd))
                    for bn, bd, ticks, pn, pd in segs))
                self.server_version = version
            case BeatsCmd(beats_per_bar):
                self.beats_per_bar = beats_per_bar
                if not self.scheduler.pending("clock"):
                    nxt = max(0, int(self.clock.beat_at()) + 1)
                    self.scheduler.at_beat(Fraction(nxt), "clock", lambda due: self.beat(nxt), prio=2)
            case StatsCmd():
                out = {"sent": self.out.sent, "failed": self.out.failed,
                       "sounding": len(self.sounding), **self.scheduler.stats()}
                with self.lock:  # one writer at a time on stdout
                    sys.stdout.write(json.dumps(out) + "\n")
                    sys.stdout.flush()
            case QuitCmd():
                return False
        return True

    def beat(self, n: int) -> None:
        self.send(build_message("/clock/beat", [n]).dgram)
        if n % self.beats_per_bar == 0:
            self.send(build_message("/clock/bar", [n // self.beats_per_bar]).dgram)
        self.scheduler.at_beat(Fraction(n + 1), "clock", lambda due: self.beat(n + 1), prio=2)

    def note(self, cmd: NoteCmd) -> None:
        """Queue a note's start and end on the scheduler."""
        owner, note_id, on_dgrams, off_dgram, timetag = (cmd.owner, cmd.note_id, list(cmd.on_dgrams),
                                                         cmd.off_dgram, cmd.timetag)
        on_b, off_b, full = Fraction(*cmd.on), Fraction(*cmd.off), cmd.full
        key = (owner, note_id)
        cancels = self.cancels.get(owner, 0)
        lead = cmd.lead_s if timetag else 0.0

        def start(due: float) -> None:
            with self.lock:
                if self.cancels.get(owner, 0) != cancels:
                    return  # cancelled while it waited to go out
                if self.server_version != cmd.version:  # a tempo change: the duration is stale
                    dur = self.clock.seconds_at(off_b) - self.clock.seconds_at(on_b)
                    on_dgrams[-1] = build_message(full[0], [full[1], full[2], float(dur)]).dgram
                if timetag:
                    ntp = self.clock.ntp_at(on_b)
                    self.send(bundle_dgrams(ntp, on_dgrams))
                else:
                    ntp = 0  # only a bundled note-on needs its time remembered
                    for d in on_dgrams:
                        self.send(d)
                self.sounding[key] = (off_dgram, ntp, timetag)
                self.confirm("on", owner, note_id)

        def end(due: float) -> None:
            with self.lock:
                if self.sounding.pop(key, None) is None:
                    return
                if timetag:
                    self.send(bundle_dgrams(self.clock.ntp_at(off_b), [off_dgram]))
                else:
                    self.send(off_dgram)
                self.confirm("off", owner, note_id)

        # At one instant: note-offs first, so that a re-attack of the same pitch sounds.
        self.scheduler.at_beat(on_b, owner, start, lead_s=lead, measure=True, prio=1)
        self.scheduler.at_beat(off_b, owner, end, lead_s=lead, prio=0)

    def cancel(self, owner: str, then: list[bytes]) -> None:
        self.scheduler.cancel(owner)
        with self.lock:
            self.cancels[owner] = self.cancels.get(owner, 0) + 1
            self._end_all(owner)
            for d in then:
                self.send(d)

    def _end_all(self, owner: str | None) -> None:
        now = self.now_ntp()
        for key in [k for k in self.sounding if owner is None or k[0] == owner]:
            off, on_ntp, timetag = self.sounding.pop(key)
            # A bundled note-on may still wait at the receiver: its note-off must come after.
            self.send(bundle_dgrams(max(now, on_ntp + 1), [off]) if timetag else off)
            self.confirm("cut", *key)

    def confirm(self, kind: str, owner: str, note_id: int) -> None:
        """Tell the server what went out (it drives MIDI, WebSocket and the recorder from it)."""
        try:
            sys.stdout.write(json.dumps({"note": [kind, owner, note_id]}) + "\n")
            sys.stdout.flush()
        except (OSError, ValueError):  # the server is gone: nobody to tell
            pass

    def shutdown(self) -> None:
        self.scheduler.stop()
        with self.lock:
            self._end_all(None)


def read_commands(stream: IO[bytes]) -> Iterator[tuple]:
    """The records on the pipe, until it closes."""
    while True:
        head = stream.read(HEADER.size)
        if len(head) < HEADER.size:
            return
        (n,) = HEADER.unpack(head)
        data = stream.read(n)
        if len(data) < n:
            return
        yield marshal.loads(data)


def main(argv: list[str]) -> int:
    """The child: `python -m live.io.sender HOST:PORT...`, commands on stdin until it closes."""
    # Ctrl-C in a terminal (and `timeout`, and some supervisors) signal the whole process
    # group: the server decides when we stop, and its pipe closing tells us even if it dies.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    child = Child([parse_target(arg) for arg in argv])
    child.scheduler.start()
    try:
        for record in read_commands(sys.stdin.buffer):
            try:
                if not child.apply(decode_command(record)):
                    break
            except Exception:  # a bad command must not end the notes of every other voice
                log.exception("OSC sender: command %r failed", record[:1])
    finally:
        child.shutdown()
        time.sleep(0.01)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

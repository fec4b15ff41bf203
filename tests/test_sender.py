"""The OSC note sender: its pipe format in process, and a real child process sending notes, beats
and cuts to a real UDP socket on loopback, with its confirmations back to the server's side."""

from __future__ import annotations

import io
import math
import threading
import time
from collections.abc import Callable, Iterator
from fractions import Fraction

import pytest

from live.clock import Clock
from live.io.osc import build_message
from live.io.sender import (
    BeatsCmd,
    CancelCmd,
    Command,
    NoteCmd,
    NoteSender,
    QuitCmd,
    StatsCmd,
    TempoCmd,
    beat_of,
    decode_command,
    encode_command,
    read_commands,
)
from tests.livetools import OscSink, Received, started_clock

OWNER = "music"
WAIT_S = 5.0  # the longest any one wait here may take
LATE_S = 0.5  # how late a message may arrive on a busy machine and still count as on time
EARLY_S = 1e-3  # float rounding of the due time: nothing is sent before it is due

NOTE = NoteCmd(OWNER, 7, (25, 2), (51, 4), [b"/music/noteon\x00\x00\x00,ii\x00", b"x"],
               b"/music/noteoff\x00\x00", True, 0.05, ("/music/note", 60, 100), 3)
COMMANDS: list[Command] = [
    NOTE,
    TempoCmd(12345.678, 1_700_000_000.25, [(0, 1, 0, 120, 1), (17, 4, 9_000_000_000, 180, 1)], 2),
    CancelCmd(OWNER, [b"/music/noteoff\x00\x00,i\x00\x00\x00\x00\x00<"]),
    CancelCmd("text", []),
    BeatsCmd(3),
    StatsCmd(),
    QuitCmd(),
]


# -- the pipe format --------------------------------------------------------------------------
@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: type(c).__name__)
def test_every_command_round_trips_through_the_pipe_format(cmd: Command) -> None:
    (record,) = list(read_commands(io.BytesIO(encode_command(cmd))))
    back = decode_command(record)
    assert type(back) is type(cmd) and back == cmd
    assert back._asdict() == cmd._asdict()


def test_commands_on_one_stream_come_back_in_order_and_a_torn_tail_ends_it() -> None:
    stream = b"".join(encode_command(c) for c in COMMANDS)
    assert [decode_command(r) for r in read_commands(io.BytesIO(stream))] == COMMANDS
    # A pipe cut short mid-record (a server killed while writing) ends the stream, no error.
    torn = stream + encode_command(NOTE)[:-3]
    assert [decode_command(r) for r in read_commands(io.BytesIO(torn))] == COMMANDS
    assert list(read_commands(io.BytesIO(encode_command(NOTE)[:2]))) == []


@pytest.mark.parametrize(("record", "words"), [
    (("NopeCmd", 1), ["unknown command", "NopeCmd"]),
    (("noteCmd",), ["unknown command"]),  # names are exact
    (("QuitCmd", 1), ["QuitCmd"]),  # too many fields
    (("StatsCmd", None), ["StatsCmd"]),
    (("BeatsCmd",), ["BeatsCmd"]),  # too few
    (("NoteCmd", *NOTE[:-1]), ["NoteCmd"]),
    (("TempoCmd", 1.0, 2.0, [], 0, "extra"), ["TempoCmd"]),
    (("CancelCmd", OWNER), ["CancelCmd"]),
    ((), ["unknown command"]),
])
def test_decode_refuses_an_unknown_name_or_a_wrong_field_count(record: tuple,
                                                               words: list[str]) -> None:
    with pytest.raises(ValueError) as e:
        decode_command(record)
    for word in words:
        assert word in str(e.value), (word, str(e.value))


# -- a real child process ---------------------------------------------------------------------
class Confirmations:
    """The handler given to on_sent: keeps every (kind, note id) the child confirms."""

    def __init__(self) -> None:
        self.got: list[tuple[str, int]] = []
        self._cond = threading.Condition()

    def __call__(self, kind: str, note_id: int) -> None:
        with self._cond:
            self.got.append((kind, note_id))
            self._cond.notify_all()

    def wait_for(self, item: tuple[str, int], timeout: float = WAIT_S) -> None:
        with self._cond:
            ok = self._cond.wait_for(lambda: item in self.got, timeout)
        assert ok, f"no {item} confirmed within {timeout} s; got {self.got}"

    def of(self, note_id: int) -> list[str]:
        with self._cond:
            return [kind for kind, i in self.got if i == note_id]


Start = Callable[..., tuple[Clock, NoteSender, Confirmations]]


@pytest.fixture(name="start_sender")
def start_sender_fixture(sink: OscSink) -> Iterator[Start]:
    """Starts a NoteSender child aimed at `sink`, with a started clock; closes it after the test."""
    senders: list[NoteSender] = []

    def start(bpm: float = 120.0) -> tuple[Clock, NoteSender, Confirmations]:
        clock = started_clock(bpm)
        sender = NoteSender([("127.0.0.1", sink.port)])
        senders.append(sender)
        confirmed = Confirmations()
        sender.on_sent(OWNER, confirmed)
        sender.tempo(clock)  # the tempo first: every note is timed by it
        # The child answers stats once it is up and has read the tempo before them.
        deadline = time.monotonic() + 20  # a cold interpreter on a busy machine
        while not sender.stats():
            assert sender.proc.poll() is None, "the sender child exited"
            assert time.monotonic() < deadline, "the sender child never answered"
            time.sleep(0.05)
        return clock, sender, confirmed

    yield start
    for sender in senders:
        if sender.proc.poll() is None:
            sender.close()


def beat_ahead(clock: Clock, seconds: float) -> Fraction:
    """The first quarter beat at least `seconds` from now."""
    return Fraction(math.ceil((clock.beat_at() + seconds * clock.bpm / 60) * 4), 4)


def note_cmd(clock: Clock, note_id: int, pitch: int, on: Fraction, off: Fraction,
             velocity: int = 100, timetag: bool = False, lead_s: float = 0.0) -> NoteCmd:
    """A note as the music voice hands it over (live/voices/music_delivery.py)."""
    version = clock.version
    dur = clock.seconds_at(off) - clock.seconds_at(on)
    address = f"/{OWNER}/note"
    return NoteCmd(OWNER, note_id, beat_of(on), beat_of(off),
                   [build_message(f"/{OWNER}/noteon", [pitch, velocity]).dgram,
                    build_message(address, [pitch, velocity, float(dur)]).dgram],
                   build_message(f"/{OWNER}/noteoff", [pitch]).dgram, timetag, lead_s,
                   (address, pitch, velocity), version)


def one(sink: OscSink, address: str, pitch: int) -> Received:
    """The single message to `address` about `pitch`."""
    got = [r for r in sink.of(address) if r.args[0] == pitch]
    assert len(got) == 1, (address, pitch, got)
    return got[0]


def assert_on_time(r: Received, due: float) -> None:
    assert due - EARLY_S <= r.at < due + LATE_S, (r, r.at - due)


def test_a_note_goes_out_when_due_a_cancel_cuts_and_close_ends_the_child(sink, start_sender) -> None:
    clock, sender, confirmed = start_sender(120.0)  # half a second a beat

    # A note: its two on-messages when it is due, its off-message at its end, both confirmed.
    on = beat_ahead(clock, 0.3)
    off = on + Fraction(1, 2)
    sender.note(note_cmd(clock, 1, 60, on, off, velocity=90))
    confirmed.wait_for(("off", 1))
    sink.wait_for(lambda: sink.count("/music/noteoff") >= 1, timeout=WAIT_S)
    noteon, note, noteoff = (one(sink, a, 60) for a in
                             ("/music/noteon", "/music/note", "/music/noteoff"))
    assert noteon.args == [60, 90] and noteoff.args == [60]
    assert note.args[:2] == [60, 90] and note.args[2] == pytest.approx(0.25, rel=1e-6)
    assert noteon.timetag is None and noteoff.timetag is None  # plain messages, not bundles
    assert_on_time(noteon, clock.mono_at(on))
    assert_on_time(note, clock.mono_at(on))
    assert_on_time(noteoff, clock.mono_at(off))
    assert confirmed.of(1) == ["on", "off"]

    # A cancel ends the sounding note at once ("cut"), drops the queued one, then sends `then`.
    on2 = beat_ahead(clock, 0.3)
    off2 = on2 + 4  # two seconds: the cancel comes long before
    on3 = on2 + 1
    sender.note(note_cmd(clock, 2, 62, on2, off2))
    sender.note(note_cmd(clock, 3, 64, on3, on3 + Fraction(1, 2)))
    confirmed.wait_for(("on", 2))
    sender.cancel(OWNER, [build_message("/test/after_cancel", [1]).dgram])
    confirmed.wait_for(("cut", 2))
    sink.wait_for(lambda: sink.count("/test/after_cancel") == 1, timeout=WAIT_S)
    cut = one(sink, "/music/noteoff", 62)
    assert cut.at < clock.mono_at(off2) - 0.5  # early: it did not wait for its end
    items = list(sink.items)
    assert items.index(one(sink, "/test/after_cancel", 1)) > items.index(cut)
    time.sleep(max(0.0, clock.mono_at(on3) - time.monotonic()) + 0.3)
    assert not [r for r in sink.of("/music/noteon") if r.args[0] == 64]  # dropped
    assert confirmed.of(2) == ["on", "cut"] and confirmed.of(3) == []
    assert len(sink.of("/music/noteoff")) == 2  # the cut note's own end never went out

    # The owner plays on after a cancel.
    on4 = beat_ahead(clock, 0.2)
    sender.note(note_cmd(clock, 4, 65, on4, on4 + Fraction(1, 4)))
    confirmed.wait_for(("off", 4))
    assert_on_time(one(sink, "/music/noteon", 65), clock.mono_at(on4))
    stats = sender.stats()
    assert {"sent", "failed", "sounding", "delivered"} <= set(stats)

    # close() ends the child, and the child ends what still sounds: never a hanging note.
    on5 = beat_ahead(clock, 0.2)
    sender.note(note_cmd(clock, 5, 67, on5, on5 + 8))
    confirmed.wait_for(("on", 5))
    sender.close()
    assert sender.proc.returncode == 0
    sink.wait_for(lambda: any(r.args[0] == 67 for r in sink.of("/music/noteoff")), timeout=WAIT_S)
    confirmed.wait_for(("cut", 5))
    on6 = beat_ahead(clock, 0.1)
    sender.note(note_cmd(clock, 6, 69, on6, on6 + 1))  # after close: ignored, nothing raised
    time.sleep(max(0.0, clock.mono_at(on6) - time.monotonic()) + 0.3)
    assert [r.args[0] for r in sink.of("/music/noteon")] == [60, 62, 65, 67]
    assert confirmed.of(6) == []


def test_timetag_notes_go_early_as_bundles_stamped_with_their_exact_time(sink, start_sender) -> None:
    clock, sender, confirmed = start_sender(120.0)
    lead = 0.1
    on = beat_ahead(clock, 0.4)
    off = on + Fraction(3, 4)
    sender.note(note_cmd(clock, 1, 72, on, off, timetag=True, lead_s=lead))
    confirmed.wait_for(("off", 1))
    sink.wait_for(lambda: sink.count("/music/noteoff") == 1, timeout=WAIT_S)
    noteon, note, noteoff = (one(sink, a, 72) for a in
                             ("/music/noteon", "/music/note", "/music/noteoff"))
    # Exactly the NTP value of the beat, not near it; sent `lead` ahead of it.
    assert noteon.timetag == note.timetag == clock.ntp_at(on)
    assert noteoff.timetag == clock.ntp_at(off)
    assert noteon.at == note.at  # one bundle
    assert_on_time(noteon, clock.mono_at(on) - lead)
    assert_on_time(noteoff, clock.mono_at(off) - lead)
    assert note.args == [72, 100, pytest.approx(0.375, rel=1e-6)]


def test_a_tempo_change_after_handing_a_note_moves_it_and_rebuilds_its_duration(
        sink, start_sender) -> None:
    clock, sender, confirmed = start_sender(120.0)
    on = beat_ahead(clock, 0.4)
    off = on + 1
    sender.note(note_cmd(clock, 1, 48, on, off))  # half a second at 120 bpm
    seg = clock.set_bpm(60.0)  # what the server does on /clock/bpm: the change, then the map
    sender.tempo(clock)
    assert seg.beat <= on
    confirmed.wait_for(("off", 1))
    sink.wait_for(lambda: sink.count("/music/noteoff") == 1, timeout=WAIT_S)
    note, noteoff = one(sink, "/music/note", 48), one(sink, "/music/noteoff", 48)
    assert note.args[2] == pytest.approx(1.0, rel=1e-6)  # a beat at 60 bpm, not the 0.5 handed
    assert_on_time(note, clock.mono_at(on))
    assert_on_time(noteoff, clock.mono_at(off))


def test_beats_and_bars_go_out_on_every_beat(sink, start_sender) -> None:
    clock, sender, _ = start_sender(600.0)  # a tenth of a second a beat
    sender.beats(3)
    sink.wait_for(lambda: sink.count("/clock/beat") >= 8, timeout=WAIT_S)
    sender.close()
    time.sleep(0.1)  # the last datagrams are in flight on loopback
    beats = sink.of("/clock/beat")
    numbers = [r.args[0] for r in beats]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    for r in beats:
        assert_on_time(r, clock.mono_at(Fraction(r.args[0])))
    bars = [r.args[0] for r in sink.of("/clock/bar")]
    assert bars == [n // 3 for n in numbers if n % 3 == 0] and len(bars) >= 2

"""MIDI through mido: an output port (virtual where the OS allows, named otherwise) and an input.

A machine without a MIDI system (no ALSA sequencer, no python-rtmidi) gets one clear message
and the voice plays on over OSC and WebSocket.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import mido

log = logging.getLogger("livegen.midi")


class MidiError(Exception):
    """A MIDI port cannot be opened; the message says which and why."""


def describe_failure(name: str, e: BaseException) -> str:
    """Why a MIDI port did not open, and what to do about it."""
    if isinstance(e, ImportError):
        return (f"MIDI port {name!r} cannot open: no MIDI system here ({e}); install "
                "python-rtmidi and run where ALSA, CoreMIDI or WinMM exists, or leave midi_port "
                "out of the patch")
    return f"MIDI port {name!r} cannot open: {type(e).__name__}: {e}"


def open_output(spec: str) -> mido.ports.BaseOutput:
    """'virtual' or 'virtual:NAME' opens a virtual port; anything else names an existing port."""
    virtual = spec == "virtual" or spec.startswith("virtual:")
    name = (spec.partition(":")[2] or "livegen") if virtual else spec
    try:
        return mido.open_output(name, virtual=virtual)
    except Exception as e:  # backends raise OSError, IOError, ImportError, rtmidi errors...
        raise MidiError(describe_failure(spec, e)) from None


def open_input(spec: str, callback: Callable[[mido.Message], None]) -> mido.ports.BaseInput:
    """Open a MIDI input (virtual or named) whose messages go to callback on mido's thread."""
    virtual = spec == "virtual" or spec.startswith("virtual:")
    name = (spec.partition(":")[2] or "livegen in") if virtual else spec
    try:
        return mido.open_input(name, virtual=virtual, callback=callback)
    except Exception as e:
        raise MidiError(describe_failure(spec, e)) from None


class MidiOut:
    """One output port shared by the scheduler thread and the event loop; sends never raise."""

    def __init__(self) -> None:
        self.port: mido.ports.BaseOutput | None = None
        self.spec: str | None = None
        self.problem: str | None = None
        self.sent = 0
        self.failed = 0
        self._lock = threading.Lock()

    def open(self, spec: str | None) -> None:
        """Open spec (None or '' closes); raises MidiError and keeps the current port."""
        port = open_output(spec) if spec else None
        with self._lock:
            old, self.port, self.spec, self.problem = self.port, port, spec or None, None
        if old is not None:
            self._close(old)

    def fail(self, message: str) -> None:
        self.problem = message

    def send(self, msg: mido.Message) -> None:
        with self._lock:
            if self.port is None:
                return
            try:
                self.port.send(msg)
                self.sent += 1
            except Exception as e:  # a port that vanished must not stop the voice
                self.failed += 1
                if self.failed == 1:
                    log.warning("MIDI send to %s failed: %s", self.spec, e)

    def note_on(self, channel: int, pitch: int, velocity: int) -> None:
        self.send(mido.Message("note_on", channel=channel - 1, note=pitch, velocity=velocity))

    def note_off(self, channel: int, pitch: int) -> None:
        self.send(mido.Message("note_off", channel=channel - 1, note=pitch, velocity=0))

    def all_notes_off(self, channel: int) -> None:
        self.send(mido.Message("control_change", channel=channel - 1, control=123, value=0))

    def _close(self, port: mido.ports.BaseOutput) -> None:
        try:
            port.close()
        except Exception as e:
            log.debug("closing MIDI port: %s", e)

    def close(self) -> None:
        with self._lock:
            port, self.port = self.port, None
        if port is not None:
            self._close(port)

    def status(self) -> dict[str, Any] | str:
        if self.port is not None:
            return {"port": self.spec, "sent": self.sent, "failed": self.failed}
        return self.problem or "off"

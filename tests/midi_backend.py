"""A mido backend for tests: output ports that log every message to $LIVEGEN_TEST_MIDI_LOG.

Use it with MIDO_BACKEND=tests.midi_backend; a port whose name starts with 'fail' cannot open.
Inputs play what the test appends to $LIVEGEN_TEST_MIDI_IN.
"""

from __future__ import annotations

import os
import threading

import mido.ports


def get_devices(**kwargs) -> list[dict]:
    return [{"name": "livegen test synth", "is_input": False, "is_output": True}]


class Output(mido.ports.BaseOutput):
    """Writes each message as one line (mido's text form), flushed at once."""

    def _open(self, virtual: bool = False, **kwargs) -> None:
        if self.name and self.name.startswith("fail"):
            raise OSError(f"no such MIDI port: {self.name!r}")
        self._file = open(os.environ["LIVEGEN_TEST_MIDI_LOG"], "a", encoding="utf-8")

    def _send(self, msg: mido.Message) -> None:
        self._file.write(str(msg) + "\n")
        self._file.flush()

    def _close(self) -> None:
        self._file.close()


class Input(mido.ports.BaseInput):
    """Plays each line appended to $LIVEGEN_TEST_MIDI_IN (mido's text form) to the callback."""

    def _open(self, callback=None, **kwargs) -> None:
        if self.name and self.name.startswith("fail"):
            raise OSError(f"no such MIDI port: {self.name!r}")
        self._callback = callback
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        path = os.environ["LIVEGEN_TEST_MIDI_IN"]
        seen = 0
        while not self._stop.wait(0.02):
            try:
                with open(path, encoding="utf-8") as f:
                    lines = f.read().splitlines()
            except FileNotFoundError:
                continue
            for line in lines[seen:]:
                if self._callback is not None:
                    self._callback(mido.Message.from_str(line))
            seen = len(lines)

    def _close(self) -> None:
        self._stop.set()


class IOPort(mido.ports.IOPort):
    pass

"""MIDI out through mido, in process: the messages a port is sent, a closed port, a port that
cannot open."""

from __future__ import annotations

import mido
import pytest

from live.io.midi import MidiError, MidiOut, open_output


class ListPort(mido.ports.BaseOutput):
    """An output port that keeps what it is sent."""

    def _open(self, **kwargs) -> None:
        self.sent: list[mido.Message] = []

    def _send(self, msg: mido.Message) -> None:
        self.sent.append(msg)


def test_midi_out_messages_and_failures() -> None:
    out = MidiOut()
    out.port, out.spec = ListPort("test"), "test"
    out.note_on(3, 60, 100)
    out.note_off(3, 60)
    out.all_notes_off(3)
    sent = out.port.sent
    assert [(m.type, m.channel) for m in sent] == [("note_on", 2), ("note_off", 2),
                                                    ("control_change", 2)]
    assert sent[2].control == 123
    out.close()
    out.note_on(1, 60, 100)  # closed: nothing raised, nothing sent
    assert out.port is None
    # No MIDI system here (no python-rtmidi, no ALSA): a clear message, not a traceback.
    with pytest.raises(MidiError) as e:
        open_output("virtual")
    assert "cannot open" in str(e.value)

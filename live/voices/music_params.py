"""The music voice's own parameter types: phrases of pitches and MIDI ports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from live.params import Param, ParamError, StringParam
from models.music_rnn import NAMES

MAX_PRIME = 64  # pitches in a prime phrase
_TONICS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
KEYS = ("any", *_TONICS, *(n + "m" for n in _TONICS))


def parse_pitch(text: str) -> int:
    """'60', 'C4', 'F#3', 'Bb5' -> a MIDI pitch (C4 = 60)."""
    if text.lstrip("-").isdigit():
        return int(text)
    name = text[0].upper()
    if name not in NAMES:
        raise ValueError(f"{text!r} is not a pitch")
    rest = text[1:]
    shift = 0
    while rest[:1] in ("#", "b"):
        shift += 1 if rest[0] == "#" else -1
        rest = rest[1:]
    if not rest.lstrip("-").isdigit():
        raise ValueError(f"{text!r} is not a pitch (expected an octave number, as in C4)")
    return NAMES[name] + shift + 12 * (int(rest) + 1)


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


class MidiPortParam(StringParam):
    """A MIDI port spec: opening it is part of validation, so a port that fails is refused."""

    def __init__(self, path: str, default: str, doc: str, opener: Callable[[str], None]) -> None:
        self.opener: Callable[[str], None] | None = None  # not while the default is set
        super().__init__(path, default, doc, max_len=200)
        self.opener = opener

    def validate(self, value: Any) -> str:
        spec = super().validate(value)
        if self.opener is not None:
            self.opener(spec)
        return spec

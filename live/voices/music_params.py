"""The music voice's own parameter types: phrases of pitches and MIDI ports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from live.params import ChoiceParam, Param, ParamError, StringParam
from models.music_rnn import NAMES

MAX_PRIME = 64  # pitches in a prime phrase
_TONICS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
KEYS = ("auto", "any", *_TONICS, *(n + "m" for n in _TONICS))
_MODES = {"": "major", "maj": "major", "major": "major", "m": "minor", "min": "minor",
          "minor": "minor"}


def key_name(text: str) -> str:
    """'D minor', 'd min', 'Dm', 'Eb major', 'D#m', 'auto', 'any' -> its name in KEYS ('Dm')."""
    t = " ".join(str(text).split())
    if t.lower() in ("auto", "any"):
        return t.lower()
    if not t or t[0].upper() not in NAMES:
        raise ValueError(f"{text!r} is not a key")
    pc, rest = NAMES[t[0].upper()], t[1:]
    while rest[:1] in ("#", "b"):
        pc += 1 if rest[0] == "#" else -1
        rest = rest[1:]
    mode = _MODES.get(rest.strip().lower())
    if mode is None:
        raise ValueError(f"{text!r}: unknown mode {rest.strip()!r}, expected major or minor")
    return _TONICS[pc % 12] + ("m" if mode == "minor" else "")


def parse_key(name: str) -> tuple[int, str] | None:
    """A key's (tonic pitch class, 'major' or 'minor'); None for 'auto' and 'any'."""
    name = key_name(name)
    if name in ("auto", "any"):
        return None
    minor = name.endswith("m")
    return _TONICS.index(name[:-1] if minor else name), "minor" if minor else "major"


class KeyParam(ChoiceParam):
    """A key to hold the notes in: one of KEYS, or the same key written out ('D minor')."""

    def validate(self, value: Any) -> str:
        if isinstance(value, (list, tuple)) and len(value) == 1:
            value = value[0]
        if isinstance(value, str):
            try:
                value = key_name(value)
            except ValueError:
                pass  # refused below with the list of keys
        return super().validate(value)


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

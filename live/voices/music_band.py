"""Playing with a band: the chord a performer sends or plays, and the instrument of each style."""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations
from typing import Any

from live.params import ParamError, StringParam
from live.voices.music_params import parse_pitch
from models.music_rnn import NAMES

# General MIDI programs (0-based, as program-change messages carry them) for each style: organ
# for the chorales, a choir for the Renaissance polyphony, fiddle and flute for the folk tunes,
# piano for the rags and the classical sonatas. A patch's `program = N` overrides them.
STYLE_PROGRAMS = {"bach": 19, "palestrina": 52, "monteverdi": 52, "folk": 73, "irish": 110,
                  "classical": 0, "joplin": 0}
DEFAULT_PROGRAM = 0  # acoustic grand piano, for a style the table does not know

QUALITIES: dict[str, tuple[int, ...]] = {
    "": (0, 4, 7), "m": (0, 3, 7), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10), "6": (0, 4, 7, 9), "m6": (0, 3, 7, 9), "dim": (0, 3, 6),
    "dim7": (0, 3, 6, 9), "aug": (0, 4, 8), "sus2": (0, 2, 7), "sus4": (0, 5, 7), "5": (0, 7),
}
NO_CHORD = ("", "none", "off")
CHORD_WINDOW_BEATS = 0.25  # notes played this close together make one chord
MIN_CHORD_NOTES = 3


def program_for(style: str, override: int) -> int:
    """The GM program a voice plays a style on: the patch's override (0-127) or the style's."""
    return override if override >= 0 else STYLE_PROGRAMS.get(style, DEFAULT_PROGRAM)


def _pitch_class(token: str) -> int:
    """'C', 'F#', 'Bb' (no octave), 'C4' or a MIDI number -> a pitch class."""
    if token[:1].upper() in NAMES and not any(ch.isdigit() for ch in token):
        token += "4"
    pitch = parse_pitch(token)
    if not 0 <= pitch <= 127:
        raise ValueError(f"pitch {token!r} is outside 0-127")
    return pitch % 12


def chord_pitch_classes(text: str) -> tuple[int, ...]:
    """'Am', 'G7', 'F#m7', 'Bbmaj7', 'C E G', '60 64 67' or 'none' -> sorted pitch classes."""
    text = text.strip()
    if text.lower() in NO_CHORD:
        return ()
    if " " in text or "," in text or text.isdigit():
        return tuple(sorted({_pitch_class(t) for t in text.replace(",", " ").split()}))
    root, rest = text[:1].upper(), text[1:]
    if root not in NAMES:
        raise ValueError(f"{text!r} is not a chord")
    shift = 0
    while rest[:1] in ("#", "b"):
        shift += 1 if rest[0] == "#" else -1
        rest = rest[1:]
    if rest == "min":
        rest = "m"
    if rest not in QUALITIES:
        raise ValueError(f"{text!r}: unknown chord quality {rest!r}, expected one of "
                         + ", ".join(repr(q) for q in QUALITIES))
    tonic = NAMES[root] + shift
    return tuple(sorted({(tonic + d) % 12 for d in QUALITIES[rest]}))


class ChordParam(StringParam):
    """A chord for the voice to harmonise with: a name (Am, G7), notes (C E G) or 'none'."""

    def __init__(self, path: str, doc: str) -> None:
        super().__init__(path, "none", doc, max_len=64)

    def validate(self, value: Any) -> str:
        text = super().validate(value)
        try:
            chord_pitch_classes(text)
        except ValueError as e:
            raise ParamError(f"{self.path}: {e}; expected a chord name like Am, G7, F#m7, "
                             "notes like 'C E G', or none") from None
        return text.strip()


class ChordListener:
    """Notes played to a voice that is not answering: three or more together make a chord."""

    def __init__(self) -> None:
        self.notes: list[tuple[float, int]] = []  # (beat, pitch) of recent note-ons

    def add(self, beat: float, pitch: int) -> str | None:
        """One note-on; the chord it completes as note names ('C E G'), or None."""
        self.notes = [(b, p) for b, p in self.notes if beat - b <= CHORD_WINDOW_BEATS]
        self.notes.append((beat, pitch))
        classes = sorted({p % 12 for _, p in self.notes})
        if len(classes) < MIN_CHORD_NOTES:
            return None
        names = {v: k for k, v in NAMES.items()}
        sharps = {1: "C#", 3: "Eb", 6: "F#", 8: "Ab", 10: "Bb"}
        return " ".join(names.get(pc) or sharps[pc] for pc in classes)


PART_CENTRES = (72, 65, 57, 48)  # where soprano, alto, tenor and bass start: MIDI pitches


class PartAllocator:
    """Deals a voice's notes into parts (0 the top), each part kept near its last pitch.

    The model writes one stream of notes; a chorale played on four channels needs each note in a
    part. The notes that start together go, highest to the highest, to the free parts (none of
    their notes sounding) that keep the lines nearest their last pitches; with too few free
    parts, the rest go to the nearest parts.
    """

    def __init__(self, parts: int) -> None:
        self.parts = parts
        self.last = [PART_CENTRES[min(k, 3)] - 12 * max(0, k - 3) for k in range(parts)]
        self.until = [Fraction(-1)] * parts  # when each part's sounding note ends

    def chord(self, start: Fraction, notes: list[tuple[int, Fraction]]) -> list[int]:
        """Parts for notes (pitch, end) that start together at `start`, in their order."""
        order = sorted(range(len(notes)), key=lambda i: -notes[i][0])
        free = [k for k in range(self.parts) if self.until[k] <= start]
        placed = order[:len(free)]
        best: tuple[int, ...] = ()
        best_cost = None
        for chosen in combinations(free, len(placed)):  # in part order: top note, top part
            cost = sum(abs(self.last[k] - notes[i][0]) for k, i in zip(chosen, placed, strict=True))
            if best_cost is None or cost < best_cost:
                best, best_cost = chosen, cost
        out = [0] * len(notes)
        for k, i in zip(best, placed, strict=True):
            out[i] = k
        for i in order[len(free):]:
            out[i] = min(range(self.parts), key=lambda k: abs(self.last[k] - notes[i][0]))
        for i, k in enumerate(out):
            self.last[k], self.until[k] = notes[i][0], max(self.until[k], notes[i][1])
        return out

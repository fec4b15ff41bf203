"""Call and response: the phrase a performer plays to a music voice, and when it has ended."""

from __future__ import annotations

import math
from typing import Any

from live.params import ParamError
from live.voices.music_params import MAX_PRIME


def parse_input_note(path: str, args: list[Any]) -> tuple[int, int]:
    """OSC arguments `pitch velocity [duration]` -> (pitch, velocity), or a ParamError."""
    if not 2 <= len(args) <= 3 or not all(isinstance(a, (int, float)) and not isinstance(a, bool)
                                          for a in args):
        raise ParamError(f"{path}: {args!r} refused, expected pitch velocity [duration]")
    pitch, vel = args[0], args[1]
    if not float(pitch).is_integer() or not 0 <= pitch <= 127:
        raise ParamError(f"{path}: pitch {pitch!r} refused, expected an integer 0-127")
    if not 0 <= vel <= 127:
        raise ParamError(f"{path}: velocity {vel!r} refused, expected 0-127")
    return int(pitch), int(vel)


class PhraseListener:
    """Collects input notes (beat, pitch, velocity); a gap of silence ends the phrase."""

    def __init__(self) -> None:
        self.phrase: list[tuple[float, int, int]] = []
        self.last_beat = -math.inf

    def add(self, beat: float, pitch: int, velocity: int) -> None:
        """One note-on played to the voice."""
        self.phrase.append((beat, pitch, velocity))
        self.phrase = self.phrase[-MAX_PRIME:]
        self.last_beat = beat

    def take_if_ended(self, now: float, gap_beats: float) -> list[tuple[float, int, int]] | None:
        """The phrase, once `gap_beats` of silence have followed it; None while it goes on."""
        if not self.phrase or now - self.last_beat < gap_beats:
            return None
        phrase, self.phrase = self.phrase, []
        return phrase


def answer_length(phrase: list[tuple[float, int, int]], now: float, answer_beats: float) -> float:
    """Beats the answer lasts: as set, or as long as the phrase was (at least one beat)."""
    return answer_beats or max(1.0, math.ceil(now - phrase[0][0]))

"""Features of each line a text voice completes: words per line and whether it rhymes."""

from __future__ import annotations

import re
from dataclasses import dataclass

VOWELS = "aeiouy"
RANGES: dict[str, tuple[float, float]] = {"words": (0, 40), "rhyme": (0, 1)}


def rhyme_key(word: str) -> str:
    """The end of a word from its last vowel group on ("night" -> "ight", "day" -> "ay")."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return ""
    i = len(w) - 1
    while i >= 0 and w[i] not in VOWELS:  # the closing consonants
        i -= 1
    while i > 0 and w[i - 1] in VOWELS:  # the whole vowel group
        i -= 1
    return w[max(i, 0):]


@dataclass
class TextAnalyser:
    """Remembers the last line ends, to flag a rhyme with either of the two lines before."""

    ends: tuple[str, str] = ("", "")

    def line(self, text: str) -> dict[str, object]:
        words = re.findall(r"[A-Za-z']+", text)
        key = rhyme_key(words[-1]) if words else ""
        last = words[-1].lower() if words else ""
        rhymes = bool(key) and any(key == e for e in self.ends) and len(key) >= 2
        self.ends = (self.ends[1], key)
        return {"words": float(len(words)), "rhyme": 1.0 if rhymes else 0.0, "last_word": last}

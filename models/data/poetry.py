"""A verse corpus for the poetry text model, from the files of Debian's `fortunes` package.

    python -m models.data poetry --out data/poetry          # songs-poems and literature
    python -m models.data poetry --file songs-poems --out data/poetry

Each fortune (entries split by `%` lines) is kept when it reads as verse: at least two lines,
its lines short (verse, not wrapped prose), every character in the alphabet of the
`shakespeare` model after quotes and dashes are folded to it (so that model can be fine-tuned
on it). Attributions (`-- Author`) and indentation are dropped; blank lines stay as stanza
breaks; one blank line separates poems. Poems are ordered by a hash of their text, so the
last 10% (the held-out part for models.train) is a random sample of poems, not one author.
OUT/poetry.txt is the text; OUT/manifest.json the source files with their sha256, the
licence that /usr/share/doc/fortunes/copyright gives them, the counts and the command.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shlex
import unicodedata
from pathlib import Path
from typing import Any

from models.data.licences import package_licence
from models.datasets import sha256_of

PACKAGE = "fortunes"
FORTUNE_DIR = Path("/usr/share/games/fortunes")
DEFAULT_FILES = ("songs-poems", "literature")
# The characters of the shakespeare model (its card's vocab), the alphabet of the output.
ALPHABET = set("\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
FOLD = str.maketrans({'"': "'", "`": "'", "\u2018": "'", "\u2019": "'", "\u201c": "'",
                      "\u201d": "'", "\u2014": "-", "\u2013": "-", "(": "", ")": "",
                      "[": "", "]": "", "_": "", "*": ""})
MAX_VERSE_LINE = 60  # prose in the fortune files is wrapped at ~72 columns; verse lines are shorter
LICENCE_NOTE = (
    "fortunes (Debian 1:1.99.1-7.3): /usr/share/doc/fortunes/copyright gives the BSD licence of "
    "the fortune program and names no licence for the data files; the package's Notes file says "
    "the quotations were 'collected haphazardly' and are used as fair use, not for profit. The "
    "poems are short quotations of many authors, some of them still in copyright (e.g. "
    "J. R. R. Tolkien, Robert W. Service): research and non-commercial use. The text is not "
    "shipped in the repository; the model trained on it is.")


class BuildError(Exception):
    """A fortune file that is missing or yields no verse."""


def entries(text: str) -> list[str]:
    """The fortunes of a fortune file: the text between `%` lines."""
    return [e for e in re.split(r"^%\s*$", text, flags=re.M) if e.strip()]


def clean(entry: str) -> str | None:
    """One fortune as verse in ALPHABET, or None when it is not verse or not in the alphabet."""
    text = unicodedata.normalize("NFKD", entry).translate(FOLD)
    lines: list[str] = []
    for raw in text.splitlines():
        if re.match(r"^\s*--\s*\S", raw) or re.match(r"^\s+-- ", raw):
            break  # an attribution: the poem is over (what follows is its source)
        if "\t" in raw.strip():
            return None  # columns side by side: not one poem
        line = " ".join(raw.split())
        if line or (lines and lines[-1]):
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    verse = [ln for ln in lines if ln]
    if len(verse) < 2 or max(len(ln) for ln in verse) > MAX_VERSE_LINE:
        return None
    out = "\n".join(lines)
    if not set(out) <= ALPHABET:
        return None
    return out


def poem_order(poem: str) -> str:
    """The key that orders poems: a hash of the text (a fixed, author-blind shuffle)."""
    return hashlib.sha256(poem.encode()).hexdigest()


def build(files: list[str], out: Path, fortune_dir: Path = FORTUNE_DIR,
          command: str = "") -> dict[str, Any]:
    """Write OUT/poetry.txt and OUT/manifest.json; the manifest."""
    licences = package_licence(PACKAGE)
    poems: dict[str, str] = {}
    sources = []
    for name in files:
        path = fortune_dir / name
        if not path.is_file():
            raise BuildError(f"fortune file not found: {path} (apt-get install {PACKAGE})")
        raw = entries(path.read_text(encoding="utf-8", errors="replace"))
        kept = 0
        for e in raw:
            poem = clean(e)
            if poem is not None and poem not in poems.values():
                poems[poem_order(poem)] = poem
                kept += 1
        lic = licences.for_file(str(path))
        sources.append({"file": str(path), "package": PACKAGE, "sha256": sha256_of(path),
                        "fortunes": len(raw), "poems_kept": kept,
                        "licence": lic["licence"] if lic["matched"] != "none" else LICENCE_NOTE,
                        "copyright_file": lic["copyright_file"]})
    if not poems:
        raise BuildError(f"no verse found in {', '.join(files)}")
    text = "\n\n".join(poems[k] for k in sorted(poems)) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "poetry.txt").write_text(text, encoding="utf-8")
    manifest = {"what": "verse from the fortunes package, one blank line between poems",
                "sources": sources, "poems": len(poems), "chars": len(text),
                "lines": sum(1 for ln in text.splitlines() if ln),
                "sha256": sha256_of(out / "poetry.txt"), "licence": LICENCE_NOTE,
                "alphabet": "the shakespeare model's vocab", "order": "sha256 of each poem",
                "command": command}
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.replace(out / "manifest.json")
    return manifest


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of `python -m models.data poetry`."""
    ap.add_argument("--file", action="append", dest="files", metavar="NAME",
                    help=f"a fortune file in {FORTUNE_DIR} (default: {', '.join(DEFAULT_FILES)})")
    ap.add_argument("--out", required=True, type=Path, help="output folder (poetry.txt, manifest.json)")


def main(args: argparse.Namespace, argv: list[str]) -> None:
    """Build the corpus and print its manifest's counts."""
    files = args.files or list(DEFAULT_FILES)
    try:
        man = build(files, args.out, command="python -m models.data " + shlex.join(argv))
    except BuildError as e:
        raise SystemExit(f"error: {e}") from None
    print(json.dumps({k: man[k] for k in ("poems", "chars", "lines", "sha256")}))

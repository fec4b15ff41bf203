"""Data files that ship in the repository (models/data/), each checked against its sha256 once.

A clone has everything that evaluation needs: `tinyshakespeare.txt` (the text model's data)
and `music_heldout.npz` (the music model's held-out pieces and n-gram baseline counts).
Their source, licence and checksums are in models/data/README.md.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
TINYSHAKESPEARE = DATA_DIR / "tinyshakespeare.txt"
MUSIC_HELDOUT = DATA_DIR / "music_heldout.npz"

# file name -> sha256 of the shipped bytes (models/data/README.md says where they come from)
SHA256: dict[str, str] = {
    "tinyshakespeare.txt": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    "music_heldout.npz": "ee88461a52157663aa047e6df223d8b6cb1bcbf6eed642b3b0503d3c709125ce",
}

_verified: set[Path] = set()


class DataError(ValueError):
    """A shipped data file is missing or its bytes differ from the recorded sha256."""


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def shipped_name(path: str | Path) -> str | None:
    """The name in SHA256 when path is one of the shipped files, else None."""
    p = Path(path).resolve()
    return p.name if p.parent == DATA_DIR and p.name in SHA256 else None


def verify(path: str | Path) -> Path:
    """Check a shipped file against its recorded sha256 (once per process); other paths pass.

    Raises DataError with what to do when the file is missing or was changed.
    """
    p = Path(path).resolve()
    name = shipped_name(p)
    if name is None or p in _verified:
        return p
    if not p.is_file():
        raise DataError(f"shipped data file missing: {p} (restore it: git checkout -- {_rel(p)})")
    got = sha256_of(p)
    if got != SHA256[name]:
        raise DataError(
            f"shipped data file {p} was changed: sha256 {got}, expected {SHA256[name]} "
            f"(models/data/README.md); restore it with `git checkout -- {_rel(p)}`, "
            "or pass your own file with --data")
    _verified.add(p)
    return p


def _rel(p: Path) -> str:
    try:
        return str(p.relative_to(DATA_DIR.parent.parent))
    except ValueError:
        return str(p)

"""The music21 corpus parsed once into a cached note array, and its event encoding.

The cache (.npz, no pickle) holds notes, not events, so that transposition and
the event vocabulary can change without parsing again. music21 is imported only
when the cache is built: training reads the array alone.

    python -m models.music_data --out .cache/music21_notes.npz   # build or resume
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_CACHE = Path(__file__).resolve().parent.parent / ".cache" / "music21_notes.npz"
TICKS_PER_BEAT = 12  # cache resolution: 1/12 of a quarter note covers 16ths and triplets

# style -> (corpus folders, file suffixes, cap on pieces). Order matters: the parse
# goes round-robin over styles so that a partial cache already has every style.
COLLECTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...], int]] = {
    "bach": (("bach",), (".mxl", ".xml"), 450),
    "folk": (("essenFolksong",), (".abc",), 2500),
    "irish": (("ryansMammoth", "oneills1850"), (".abc",), 1500),
    "palestrina": (("palestrina",), (".krn",), 700),
    "monteverdi": (("monteverdi",), (".mxl",), 60),
    "classical": (("mozart", "haydn", "beethoven"), (".mxl", ".krn"), 60),
    "joplin": (("joplin",), (".mxl",), 5),
}
LICENCE_NOTE = (
    "music21 corpus (corpus/license.txt): encodings distributed with the permission of "
    "their encoders; works out of copyright in the US or licensed for use; some encodings "
    "are for non-commercial use only - see the licences in the individual files/folders."
)


@dataclass
class NoteCorpus:
    """Notes of many pieces: notes[piece_start[i]:piece_start[i+1]] belong to piece i."""

    notes: np.ndarray  # (N, 4) int32: pitch, start tick, duration ticks, velocity (0 = unmarked)
    piece_start: np.ndarray  # (P+1,) int64
    piece_style: np.ndarray  # (P,) int16, index into styles
    piece_ids: list[str]
    styles: list[str]
    failed: dict[str, int]  # style -> pieces that failed to parse
    ticks_per_beat: int = TICKS_PER_BEAT

    def __len__(self) -> int:
        return len(self.piece_ids)

    def piece(self, i: int) -> np.ndarray:
        return self.notes[self.piece_start[i] : self.piece_start[i + 1]]

    def is_val(self, i: int) -> bool:
        """Held-out split: 5% of pieces chosen by a hash of their id (stable as the cache grows)."""
        return int(hashlib.md5(self.piece_ids[i].encode()).hexdigest(), 16) % 20 == 0

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(self.styles, 0)
        for s in self.piece_style:
            out[self.styles[int(s)]] += 1
        return out


def save_corpus(nc: NoteCorpus, path: str | Path) -> None:
    """Write the cache atomically (np.savez, arrays of str and int only)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(
        tmp,
        notes=nc.notes.astype(np.int32),
        piece_start=nc.piece_start.astype(np.int64),
        piece_style=nc.piece_style.astype(np.int16),
        piece_ids=np.array(nc.piece_ids, dtype=str),
        styles=np.array(nc.styles, dtype=str),
        failed_styles=np.array(list(nc.failed), dtype=str),
        failed_counts=np.array(list(nc.failed.values()), dtype=np.int64),
        ticks_per_beat=np.array(nc.ticks_per_beat),
    )
    tmp.replace(path)


def load_corpus(path: str | Path) -> NoteCorpus:
    """Read a cache written by save_corpus; clear errors when missing or empty."""
    path = Path(path)
    if path.is_dir():
        path = path / "music21_notes.npz"
    if not path.is_file():
        raise FileNotFoundError(
            f"music cache not found: {path} (build it: python -m models.music_data --out {path})"
        )
    try:
        z = np.load(path, allow_pickle=False)
        nc = NoteCorpus(
            notes=z["notes"],
            piece_start=z["piece_start"],
            piece_style=z["piece_style"],
            piece_ids=[str(s) for s in z["piece_ids"]],
            styles=[str(s) for s in z["styles"]],
            failed={str(k): int(v) for k, v in zip(z["failed_styles"], z["failed_counts"], strict=True)},
            ticks_per_beat=int(z["ticks_per_beat"]),
        )
    except (OSError, KeyError, ValueError) as e:
        raise ValueError(f"music cache {path} is unreadable: {e}") from None
    if len(nc) == 0:
        raise ValueError(f"music cache {path} holds no pieces")
    return nc


# ----------------------------------------------------------------------------- parsing


def _corpus_root() -> Path:
    import music21

    return Path(music21.__file__).resolve().parent / "corpus"


def list_items(root: Path | None = None, collections: dict | None = None) -> dict[str, list[str]]:
    """Every piece per style as 'folder/file' or 'folder/file#k' (k-th tune of an abc book)."""
    root = root or _corpus_root()
    rng = random.Random(0)
    out: dict[str, list[str]] = {}
    for style, (folders, suffixes, cap) in (collections or COLLECTIONS).items():
        items: list[str] = []
        for folder in folders:
            for f in sorted((root / folder).rglob("*")):
                if f.suffix not in suffixes or not f.is_file():
                    continue
                rel = str(f.relative_to(root))
                if f.suffix == ".abc":
                    text = f.read_text(encoding="latin-1")
                    n = len(re.findall(r"(?m)^X:", text))
                    items += [f"{rel}#{k}" for k in range(n)] if n > 1 else [rel]
                else:
                    items.append(rel)
        rng.shuffle(items)
        out[style] = items[:cap]
    return out


_abc_cache: dict[str, tuple[str, list[str]]] = {}


def _abc_tune(path: Path, k: int) -> str:
    """The k-th tune of an abc book, with the book's header lines before the first X:."""
    key = str(path)
    if key not in _abc_cache:
        parts = re.split(r"(?m)^(?=X:)", path.read_text(encoding="latin-1"))
        _abc_cache.clear()  # one book at a time is enough: items of a book are read together
        _abc_cache[key] = (parts[0], parts[1:])
    header, tunes = _abc_cache[key]
    return header + tunes[k]


def score_notes(score, tpb: int = TICKS_PER_BEAT) -> list[tuple[int, int, int, int]]:
    """(pitch, start tick, duration ticks, velocity) of every sounding note; ties merged."""
    from music21 import chord, dynamics, note

    out: list[tuple[int, int, int, int]] = []
    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    for part in parts:
        flat = part.flatten().stripTies()
        vel = 0  # unmarked until a dynamic appears: the encoder picks a default
        for el in flat.getElementsByClass([note.Note, chord.Chord, dynamics.Dynamic]):
            if isinstance(el, dynamics.Dynamic):
                if el.volumeScalar is not None:
                    vel = int(round(el.volumeScalar * 127))
                continue
            dur = int(round(float(el.quarterLength) * tpb))
            if dur <= 0:  # grace notes
                continue
            start = int(round(float(el.getOffsetInHierarchy(flat)) * tpb))
            v = el.volume.velocity if el.volume.velocity is not None else vel
            for p in el.pitches:
                out.append((int(p.midi), start, dur, int(v)))
    out.sort(key=lambda t: (t[1], t[0]))
    return out


def parse_item(item: str, root: Path) -> list[tuple[int, int, int, int]]:
    from music21 import converter

    rel, _, k = item.partition("#")
    path = root / rel
    if k:
        score = converter.parseData(_abc_tune(path, int(k)), format="abc")
    else:
        score = converter.parse(str(path))
    if hasattr(score, "scores") and len(score.scores):  # an Opus: keep the first score
        score = score.scores[0]
    notes = score_notes(score)
    if not notes:
        raise ValueError("no notes")
    return notes


def build_cache(out: Path, max_minutes: float = 60.0, root: Path | None = None,
                collections: dict | None = None) -> NoteCorpus:
    """Parse round-robin over styles, saving every minute; resumes from an existing cache."""
    root = root or _corpus_root()
    collections = collections or COLLECTIONS
    styles = list(collections)
    notes: list[np.ndarray] = []
    ids: list[str] = []
    piece_style: list[int] = []
    failed: dict[str, int] = dict.fromkeys(styles, 0)
    failed_ids: set[str] = set()
    if out.is_file():
        old = load_corpus(out)
        for i in range(len(old)):
            notes.append(old.piece(i))
            ids.append(old.piece_ids[i])
            piece_style.append(styles.index(old.styles[old.piece_style[i]]))
        failed.update(old.failed)
    done = set(ids)
    todo = list_items(root, collections)
    queue = _round_robin([[(s, it) for it in todo[s] if it not in done] for s in styles])
    print(f"music cache: {len(done)} pieces cached, {len(queue)} to parse", flush=True)
    t0 = last_save = time.time()

    def snapshot() -> NoteCorpus:
        starts = np.cumsum([0] + [len(n) for n in notes]).astype(np.int64)
        arr = np.concatenate(notes).astype(np.int32) if notes else np.zeros((0, 4), np.int32)
        return NoteCorpus(arr, starts, np.array(piece_style, np.int16), list(ids), styles,
                          dict(failed))

    for n_done, (style, item) in enumerate(queue):
        if item in failed_ids:
            continue
        try:
            ns = parse_item(item, root)
            notes.append(np.array(ns, dtype=np.int32).reshape(-1, 4))
            ids.append(item)
            piece_style.append(styles.index(style))
        except Exception as e:  # music21 raises many kinds; a bad file is skipped and counted
            failed[style] += 1
            failed_ids.add(item)
            print(f"skip {item}: {type(e).__name__}: {str(e)[:80]}", flush=True)
        if time.time() - last_save > 60:
            save_corpus(snapshot(), out)
            last_save = time.time()
            print(f"[{time.time() - t0:.0f}s] {n_done + 1}/{len(queue)} parsed, "
                  f"{len(ids)} pieces, failed {sum(failed.values())}", flush=True)
        if time.time() - t0 > max_minutes * 60:
            print("time budget reached; rerun to continue", flush=True)
            break
    nc = snapshot()
    save_corpus(nc, out)
    print(f"music cache written: {out} {nc.counts()} failed={nc.failed}", flush=True)
    return nc


def _round_robin(lists: list[list]) -> list:
    out = []
    for i in range(max((len(x) for x in lists), default=0)):
        out += [x[i] for x in lists if i < len(x)]
    return out


# ----------------------------------------------------------------------------- event encoding


@dataclass(frozen=True)
class EventVocab:
    """Token layout: NOTE_ON[128] NOTE_OFF[128] TIME_SHIFT[max_shift] VELOCITY[n_vel] STYLE[n]."""

    n_styles: int
    max_shift: int = 12  # in steps; 12 steps of 1/12 beat = up to one beat per token
    n_velocity: int = 16

    @property
    def on0(self) -> int:
        return 0

    @property
    def off0(self) -> int:
        return 128

    @property
    def shift0(self) -> int:
        return 256

    @property
    def vel0(self) -> int:
        return 256 + self.max_shift

    @property
    def style0(self) -> int:
        return self.vel0 + self.n_velocity

    @property
    def size(self) -> int:
        return self.style0 + self.n_styles

    def kind(self, tok: int) -> tuple[str, int]:
        """Token -> (kind, value); value is a pitch, steps, a velocity (1-127) or a style index."""
        if tok < 128:
            return "note_on", tok
        if tok < 256:
            return "note_off", tok - 128
        if tok < self.vel0:
            return "time_shift", tok - self.shift0 + 1
        if tok < self.style0:
            return "velocity", self.bin_velocity(tok - self.vel0)
        return "style", tok - self.style0

    def velocity_bin(self, v: int) -> int:
        return min(self.n_velocity - 1, max(0, int(v) * self.n_velocity // 128))

    def bin_velocity(self, b: int) -> int:
        return int((b + 0.5) * 128 / self.n_velocity)


def encode_notes(notes: np.ndarray, vocab: EventVocab, style: int, tick_div: int,
                 transpose: int = 0, default_velocity: int = 80) -> np.ndarray:
    """Notes (pitch, start, dur, vel) in cache ticks -> event tokens, starting with the style.

    tick_div converts cache ticks to model steps (1 when the model uses 12 steps per beat).
    Offs come before ons at the same time so a repeated pitch re-attacks cleanly.
    """
    evs: list[tuple[int, int, int, int]] = []  # (time, order, pitch, velocity)
    for p, s, d, v in notes:
        p = int(p) + transpose
        if not 0 <= p < 128:
            continue
        s0 = int(s) // tick_div
        s1 = max(s0 + 1, (int(s) + int(d)) // tick_div)
        evs.append((s0, 1, p, int(v) or default_velocity))
        evs.append((s1, 0, p, 0))
    evs.sort()
    toks = [vocab.style0 + style]
    t = 0
    vel_bin = -1
    sounding: dict[int, int] = {}  # pitch -> ons not yet closed, so doubled voices stay balanced
    for time_, order, p, v in evs:
        gap = time_ - t
        while gap > 0:
            step = min(gap, vocab.max_shift)
            toks.append(vocab.shift0 + step - 1)
            gap -= step
        t = time_
        if order == 0:
            sounding[p] -= 1
            if sounding[p] == 0:
                toks.append(vocab.off0 + p)
        else:
            b = vocab.velocity_bin(v)
            if b != vel_bin:
                toks.append(vocab.vel0 + b)
                vel_bin = b
            if sounding.get(p, 0) > 0:  # unison in two voices: one attack is enough
                sounding[p] += 1
                continue
            sounding[p] = 1
            toks.append(vocab.on0 + p)
    return np.array(toks, dtype=np.int16)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Parse the music21 corpus once into a note cache.")
    ap.add_argument("--out", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--max-minutes", type=float, default=60.0)
    args = ap.parse_args(argv)
    build_cache(args.out, args.max_minutes)


if __name__ == "__main__":
    sys.exit(main())

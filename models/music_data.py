"""The music21 corpus parsed once into a cached note array, and its event encoding.

The cache (.npz, no pickle) holds notes, not events, so that transposition and
the event vocabulary can change without parsing again. music21 is imported only
when the cache is built: training reads the array alone.

    python -m models.music_data --out .cache/music21_notes.npz   # build or resume (20-25 min)
    python -m models.music_data --heldout models/data/music_heldout.npz  # the shipped eval set

Training builds the full cache by itself on first use (ensure_cache, with a progress bar).
Evaluation needs only the held-out pieces and the n-gram counts of the training pieces:
models/data/music_heldout.npz ships them (models/data/README.md).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
class NgramCounts:
    """Unigram and bigram counts of the event tokens of a corpus's training pieces.

    A held-out cache carries them instead of the training pieces, so that the n-gram
    baselines of evaluation come out as they do from the full cache. They hold for one
    event vocabulary only: key = (n_styles, max_shift, n_velocity, steps_per_beat).
    """

    key: tuple[int, int, int, int]
    uni: np.ndarray  # (V,) int64: how often each token follows another (targets)
    pairs: np.ndarray  # (K, 3) int64: previous token, next token, count (the nonzero bigrams)
    train_pieces: int

    def dense(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """(unigram counts (V,), bigram counts (V, V)) as float arrays."""
        big = np.zeros((size, size))
        big[self.pairs[:, 0], self.pairs[:, 1]] = self.pairs[:, 2]
        return self.uni.astype(float), big


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
    complete: bool = True  # False while a build is under way or was cut short
    ngram: NgramCounts | None = None  # held-out caches: counts of the training pieces

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
    arrays: dict[str, Any] = {
        "notes": nc.notes.astype(np.int32),
        "piece_start": nc.piece_start.astype(np.int64),
        "piece_style": nc.piece_style.astype(np.int16),
        "piece_ids": np.array(nc.piece_ids, dtype=str),
        "styles": np.array(nc.styles, dtype=str),
        "failed_styles": np.array(list(nc.failed), dtype=str),
        "failed_counts": np.array(list(nc.failed.values()), dtype=np.int64),
        "ticks_per_beat": np.array(nc.ticks_per_beat),
        "complete": np.array(nc.complete),
    }
    if nc.ngram is not None:
        arrays |= {"ngram_key": np.array(nc.ngram.key, dtype=np.int64),
                   "ngram_uni": nc.ngram.uni.astype(np.int64),
                   "ngram_pairs": nc.ngram.pairs.astype(np.int64),
                   "ngram_train_pieces": np.array(nc.ngram.train_pieces)}
    _write_npz(tmp, arrays)
    tmp.replace(path)


def _write_npz(path: Path, arrays: dict[str, Any]) -> None:
    """np.savez_compressed with fixed zip timestamps: the same arrays give the same bytes."""
    import io
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, a in arrays.items():
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(a), allow_pickle=False)
            zf.writestr(info, buf.getvalue())
    path.chmod(0o644)


def load_corpus(path: str | Path) -> NoteCorpus:
    """Read a cache written by save_corpus; clear errors when missing or empty."""
    path = Path(path)
    if path.is_dir():
        path = path / "music21_notes.npz"
    if not path.is_file():
        raise FileNotFoundError(
            f"music cache not found: {path} (build it: python -m models.music_data --out {path})"
        )
    from models.datasets import verify

    verify(path)  # the shipped held-out cache: checked against its sha256 once
    try:
        z = np.load(path, allow_pickle=False)
        ngram = None
        if "ngram_key" in z:
            k = [int(x) for x in z["ngram_key"]]
            ngram = NgramCounts((k[0], k[1], k[2], k[3]), z["ngram_uni"], z["ngram_pairs"],
                                int(z["ngram_train_pieces"]))
        nc = NoteCorpus(
            notes=z["notes"],
            piece_start=z["piece_start"],
            piece_style=z["piece_style"],
            piece_ids=[str(s) for s in z["piece_ids"]],
            styles=[str(s) for s in z["styles"]],
            failed={str(k): int(v) for k, v in zip(z["failed_styles"], z["failed_counts"], strict=True)},
            ticks_per_beat=int(z["ticks_per_beat"]),
            complete=bool(z["complete"]) if "complete" in z else True,  # older caches: no flag
            ngram=ngram,
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
    """The notes of one corpus item ('folder/file' or 'folder/book.abc#k')."""
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
                collections: dict | None = None, progress: bool = True) -> NoteCorpus:
    """Parse round-robin over styles, saving every minute; resumes from an existing cache.

    progress: a tqdm bar over the pieces to parse (else a log line a minute). The cache
    is marked complete when every piece was tried within max_minutes.
    """
    from tqdm import tqdm

    root = root or _corpus_root()
    collections = collections or COLLECTIONS
    styles = list(collections)
    b = _Builder(styles)
    if out.is_file():
        b.add_old(load_corpus(out))
    todo = list_items(root, collections)
    queue = _round_robin([[(s, it) for it in todo[s] if it not in b.done] for s in styles])
    print(f"music cache: {len(b.done)} pieces cached, {len(queue)} to parse into {out}", flush=True)
    t0 = last_save = time.time()
    bar = tqdm(total=len(queue), desc="music21 corpus", unit="piece", disable=not progress,
               mininterval=1.0, dynamic_ncols=True)
    complete = True
    for n_done, (style, item) in enumerate(queue):
        msg = b.parse(style, item, root)
        if msg and progress:
            bar.write(msg)
        elif msg:
            print(msg, flush=True)
        bar.update(1)
        bar.set_postfix(pieces=len(b.ids), failed=sum(b.failed.values()), refresh=False)
        if time.time() - last_save > 60:
            save_corpus(b.snapshot(False), out)
            last_save = time.time()
            if not progress:
                print(f"[{time.time() - t0:.0f}s] {n_done + 1}/{len(queue)} parsed, "
                      f"{len(b.ids)} pieces, failed {sum(b.failed.values())}", flush=True)
        if time.time() - t0 > max_minutes * 60 and n_done + 1 < len(queue):
            complete = False
            print("time budget reached; rerun to continue", flush=True)
            break
    bar.close()
    nc = b.snapshot(complete)
    save_corpus(nc, out)
    print(f"music cache written: {out} {nc.counts()} failed={nc.failed}", flush=True)
    return nc


class _Builder:
    """The pieces parsed so far by build_cache."""

    def __init__(self, styles: list[str]) -> None:
        self.styles = styles
        self.notes: list[np.ndarray] = []
        self.ids: list[str] = []
        self.piece_style: list[int] = []
        self.failed: dict[str, int] = dict.fromkeys(styles, 0)
        self.done: set[str] = set()

    def add_old(self, old: NoteCorpus) -> None:
        for i in range(len(old)):
            self.notes.append(old.piece(i))
            self.ids.append(old.piece_ids[i])
            self.piece_style.append(self.styles.index(old.styles[old.piece_style[i]]))
        self.failed.update(old.failed)
        self.done = set(self.ids)

    def parse(self, style: str, item: str, root: Path) -> str | None:
        """Parse one item into the lists; a message when it failed (skipped and counted)."""
        try:
            ns = parse_item(item, root)
        except Exception as e:  # music21 raises many kinds; a bad file is skipped and counted
            self.failed[style] += 1
            return f"skip {item}: {type(e).__name__}: {str(e)[:80]}"
        self.notes.append(np.array(ns, dtype=np.int32).reshape(-1, 4))
        self.ids.append(item)
        self.piece_style.append(self.styles.index(style))
        return None

    def snapshot(self, complete: bool) -> NoteCorpus:
        starts = np.cumsum([0] + [len(n) for n in self.notes]).astype(np.int64)
        arr = (np.concatenate(self.notes).astype(np.int32) if self.notes
               else np.zeros((0, 4), np.int32))
        return NoteCorpus(arr, starts, np.array(self.piece_style, np.int16), list(self.ids),
                          self.styles, dict(self.failed), complete=complete)


def ensure_cache(path: Path = DEFAULT_CACHE, progress: bool = True, root: Path | None = None,
                 collections: dict | None = None) -> Path:
    """The full note cache at path, built (or a cut-short build resumed) on first use.

    Building parses the music21 corpus once (root and collections: build_cache's), with
    a progress bar; later runs read the .npz in a second.
    """
    path = Path(path)
    if path.is_file() and load_corpus(path).complete:
        return path
    try:
        import music21  # noqa: F401
    except ImportError:
        raise FileNotFoundError(
            f"music cache not found: {path}, and music21 is not installed to build it "
            "(pip install -e '.[train]'), or pass --data CACHE.npz") from None
    print(f"music cache {path} is {'incomplete' if path.is_file() else 'not there yet'}: "
          "parsing the music21 corpus once (20-25 minutes; it resumes if stopped)", flush=True)
    build_cache(path, max_minutes=math.inf, root=root, collections=collections, progress=progress)
    return path


def ngram_counts(nc: NoteCorpus, vocab: EventVocab, steps_per_beat: int) -> NgramCounts:
    """Counts of the event tokens of nc's training pieces (those not held out)."""
    tick_div = nc.ticks_per_beat // steps_per_beat
    uni = np.zeros(vocab.size, np.int64)
    big = np.zeros((vocab.size, vocab.size), np.int64)
    n = 0
    for i in range(len(nc)):
        if nc.is_val(i):
            continue
        s = encode_notes(nc.piece(i), vocab, int(nc.piece_style[i]), tick_div).astype(np.int64)
        np.add.at(uni, s[1:], 1)
        np.add.at(big, (s[:-1], s[1:]), 1)
        n += 1
    prev, nxt = np.nonzero(big)
    pairs = np.stack([prev, nxt, big[prev, nxt]], axis=1).astype(np.int64)
    key = (vocab.n_styles, vocab.max_shift, vocab.n_velocity, steps_per_beat)
    return NgramCounts(key, uni, pairs, n)


def heldout_corpus(nc: NoteCorpus, max_shift: int = 12, n_velocity: int = 16,
                   steps_per_beat: int = 12) -> NoteCorpus:
    """The held-out pieces of a full cache, with the n-gram counts of its training pieces.

    The vocabulary arguments are the music model's (MusicConfig defaults, the shipped
    `corpus` model's); evaluation refuses counts made for another vocabulary.
    """
    if not nc.complete:
        raise ValueError("the full cache is incomplete: finish it first (python -m models.music_data)")
    vocab = EventVocab(len(nc.styles), max_shift, n_velocity)
    keep = [i for i in range(len(nc)) if nc.is_val(i)]
    pieces = [nc.piece(i) for i in keep]
    return NoteCorpus(
        notes=np.concatenate(pieces).astype(np.int32),
        piece_start=np.cumsum([0] + [len(p) for p in pieces]).astype(np.int64),
        piece_style=nc.piece_style[keep].astype(np.int16),
        piece_ids=[nc.piece_ids[i] for i in keep], styles=list(nc.styles), failed=dict(nc.failed),
        ticks_per_beat=nc.ticks_per_beat, complete=True,
        ngram=ngram_counts(nc, vocab, steps_per_beat))


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
    """Build (or resume) the full cache, or write the held-out cache from it."""
    ap = argparse.ArgumentParser(prog="python -m models.music_data",
                                 description="Parse the music21 corpus once into a note cache.")
    ap.add_argument("--out", type=Path, default=DEFAULT_CACHE, help="the full cache")
    ap.add_argument("--max-minutes", type=float, default=60.0)
    ap.add_argument("--quiet", action="store_true", help="log lines instead of a progress bar")
    ap.add_argument("--heldout", type=Path, metavar="NPZ",
                    help="write the held-out pieces of the full cache (--out) and the n-gram "
                         "counts of its training pieces to NPZ (models/data/music_heldout.npz)")
    args = ap.parse_args(argv)
    if args.heldout:
        nc = load_corpus(ensure_cache(args.out, progress=not args.quiet))
        held = heldout_corpus(nc)
        save_corpus(held, args.heldout)
        from models.datasets import sha256_of

        print(f"held-out cache written: {args.heldout} ({len(held)} of {len(nc)} pieces, "
              f"{held.notes.shape[0]} notes, {args.heldout.stat().st_size} bytes, "
              f"sha256 {sha256_of(args.heldout)})")
        return
    build_cache(args.out, args.max_minutes, progress=not args.quiet)


if __name__ == "__main__":
    main()

"""Fill devdata/ with everything the GPU box trains on, so it needs no music21 or network.

    python -m models.prepare_devdata [--out devdata]

Writes devdata/music21_notes.npz (the parsed corpus cache), devdata/skimage_images.npz
(the default images, short side <= 512 px) and devdata/tinyshakespeare.txt.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from models.images import load_images, save_npz
from models.jobs import DEFAULT_TEXT
from models.music_data import DEFAULT_CACHE, load_corpus

ROOT = Path(__file__).resolve().parent.parent
LIMIT_MB = 40


def main(argv: list[str] | None = None) -> None:
    """Copy the music cache, the images (as one .npz) and the text into devdata/."""
    ap = argparse.ArgumentParser(prog="python -m models.prepare_devdata")
    ap.add_argument("--out", type=Path, default=ROOT / "devdata")
    ap.add_argument("--music-cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--text", type=Path, default=DEFAULT_TEXT)
    ap.add_argument("--images", default="skimage")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    nc = load_corpus(args.music_cache)  # checks it reads back
    shutil.copyfile(args.music_cache, args.out / "music21_notes.npz")
    print(f"music: {len(nc)} pieces {nc.counts()} failed={nc.failed}")
    ims = load_images(args.images)
    save_npz(ims, args.out / "skimage_images.npz")
    print(f"images: {len(ims.images)} ({', '.join(ims.names)}), skipped {len(ims.skipped)}")
    shutil.copyfile(args.text, args.out / "tinyshakespeare.txt")
    total = sum(f.stat().st_size for f in args.out.iterdir() if f.is_file())
    for f in sorted(args.out.iterdir()):
        print(f"  {f.name}: {f.stat().st_size / 1e6:.1f} MB")
    print(f"devdata: {total / 1e6:.1f} MB in {args.out}")
    if total > LIMIT_MB * 1e6:
        raise SystemExit(f"devdata is over {LIMIT_MB} MB")


if __name__ == "__main__":
    main()

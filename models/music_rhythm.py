"""Where in the beat each style's notes start: the groove prior beside a music model.

The event RNN moves time on by relative shifts and keeps no count of the beat, so a long
performance drifts off its metre (onsets on odd twelfths of the beat). The live generator
reweights the time shifts among themselves by where each lands: by how often the style's
training pieces start a note there. This module measures that and writes it beside the weights:

    python -m models.music_rhythm corpus --data .cache/music21_notes.npz

writes models/weights/corpus.rhythm.json from the training pieces only (the held-out pieces,
which models/data/music_heldout.npz ships, stay out of it so the figures against them hold).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from models.music_data import NoteCorpus, load_corpus
from models.weights import WEIGHTS_DIR, load_card, paths

FLOOR = 1e-3  # the least share a position keeps: never barred outright
MAX_PENALTY = 4.0  # the rarest position's weight against the commonest's, at groove 1 (log)


def onset_shares(nc: NoteCorpus, steps_per_beat: int) -> dict[str, list[float]]:
    """Per style: the share of training-piece onsets at each step of the beat."""
    counts = {s: np.zeros(steps_per_beat) for s in nc.styles}
    tick_div = nc.ticks_per_beat // steps_per_beat
    for i in range(len(nc)):
        if nc.is_val(i):
            continue
        starts = nc.piece(i)[:, 1] // tick_div % steps_per_beat
        counts[nc.styles[int(nc.piece_style[i])]] += np.bincount(starts, minlength=steps_per_beat)
    return {s: [round(float(x), 5) for x in c / max(c.sum(), 1.0)] for s, c in counts.items()
            if c.sum() > 0}


def groove_weights(shares: list[float]) -> np.ndarray:
    """Log-weights of a time shift by the step it lands on: 0 for the commonest, down to -4."""
    w = np.log(np.maximum(np.asarray(shares, dtype=float), FLOOR))
    return np.clip(w - w.max(), -MAX_PENALTY, 0.0)


def rhythm_path(name: str) -> Path:
    """NAME.rhythm.json beside a music model's weights."""
    st, _ = paths(name)
    return st.with_name(st.stem + ".rhythm.json")


def for_model(name: str) -> dict[str, np.ndarray]:
    """The groove weights per style beside a model, or {} where it has none (or it is unreadable)."""
    try:
        data = json.loads(rhythm_path(name).read_text())
        return {s: groove_weights(v) for s, v in data["onsets"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    p = argparse.ArgumentParser(prog="python -m models.music_rhythm", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="the music model's weights name (writes NAME.rhythm.json)")
    p.add_argument("--data", required=True, help="the full note cache the model trained on "
                   "(python -m models.music_data builds it from music21's corpus)")
    p.add_argument("--out-dir", default=str(WEIGHTS_DIR))
    args = p.parse_args(argv)
    card = load_card(args.name)
    if card.get("kind") != "music":
        raise SystemExit(f"{args.name} is a {card.get('kind')} model, not a music one")
    spb = int(card["arch"]["steps_per_beat"])
    nc = load_corpus(args.data)
    if all(nc.is_val(i) for i in range(len(nc))):
        raise SystemExit(f"{args.data} holds no training pieces (a held-out cache?): pass the full one")
    out: dict[str, Any] = {
        "model": args.name, "steps_per_beat": spb, "onsets": onset_shares(nc, spb),
        "source": {"data": Path(args.data).name, "sha256": hashlib.sha256(
            Path(args.data).read_bytes()).hexdigest(), "pieces": "training pieces only (not is_val)",
            "command": f"python -m models.music_rhythm {args.name} --data {args.data}"}}
    path = Path(args.out_dir) / f"{Path(args.name).stem}.rhythm.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({"written": str(path), "styles": list(out["onsets"])}))


if __name__ == "__main__":
    main()

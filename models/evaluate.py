"""Held-out figures of shipped weights: python -m models.evaluate NAME [--json].

GAN: sliced Wasserstein distance on Laplacian-pyramid patches vs held-out crops,
beside real-vs-real and an untrained generator. Music: validation cross-entropy
per event beside unigram and bigram baselines, pitch-class and key figures.
Text: validation nats per character on the last 10% of the text. Strokes: nats per
held-out point beside a Gaussian + pen-bigram baseline (the card's data set, or data/strokes
built again from the Debian packages).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from models import metrics
from models.gan import ImageGenerator
from models.music_rnn import MusicRNN
from models.strokes import StrokeRNN
from models.text_rnn import TextRNN
from models.weights import WeightsError, apply_bar, load

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"gan": ("gap_closed", ">=", 0.8), "music": ("vs_bigram", ">=", 0.3),
           "text": ("val_nats_per_char", "<=", 1.55), "strokes": ("nll_gain", ">=", 0.25)}


def resolve_data(card: dict[str, Any], override: str | None) -> str:
    """The data a card was trained on, or what ships when that path is not on this machine.

    Music falls back to models/data/music_heldout.npz (the held-out pieces and the training
    pieces' n-gram counts), text to models/data/tinyshakespeare.txt (the poetry corpus is
    built again from the fortunes package), images to skimage.
    """
    if override:
        return override
    from models.datasets import MUSIC_HELDOUT, TINYSHAKESPEARE

    data = card.get("data", {})
    path = data.get("path") or data.get("source") or ""
    kind = card["kind"]
    if path == "skimage" or (path and Path(path).exists()):
        return path
    if kind == "text" and str(data.get("built_by", "")).startswith("python -m models.data poetry"):
        from models.data import poetry  # built again from Debian's fortunes when not here

        try:
            poetry.build(list(poetry.DEFAULT_FILES), Path(path).parent, command=data["built_by"])
        except poetry.BuildError as e:
            raise FileNotFoundError(f"the verse of this model is not here: {e}") from None
        return path
    if kind == "strokes":  # built again from the Debian packages when not here
        from models.jobs import DEFAULT_STROKES

        return str(DEFAULT_STROKES)
    if kind == "gan":
        if "skimage" in path:
            return "skimage"
        raise FileNotFoundError(f"images {path!r} of this model are not here: pass --data")
    return str(MUSIC_HELDOUT if kind == "music" else TINYSHAKESPEARE)


def evaluate(name: str, data: str | None = None, device: str = "cpu",
             quick: bool = False) -> dict[str, Any]:
    """Figures of NAME on held-out data; quick uses fewer samples (for tests)."""
    model, card = load(name, device)
    kind = card["kind"]
    src = resolve_data(card, data)
    t0 = time.time()
    out: dict[str, Any]
    if isinstance(model, ImageGenerator):
        from models.images import load_images

        out = metrics.gan_metrics(model, load_images(src), n=64 if quick else 512, device=device)
    elif isinstance(model, MusicRNN):
        from models.music_data import load_corpus

        out = metrics.music_metrics(model, load_corpus(src), device,
                                    samples_per_style=1 if quick else 4,
                                    events=100 if quick else 400)
    elif isinstance(model, TextRNN):
        from models.jobs import read_text

        ids = torch.tensor(model.encode(read_text(src)), dtype=torch.long)
        n = int(0.9 * len(ids))  # the training convention: first 90% train, last 10% val
        out = metrics.text_metrics(model, ids[:n], ids[n:], device)
    elif isinstance(model, StrokeRNN):
        from models.jobs import DEFAULT_STROKES, load_strokes, split_strokes, stroke_metrics

        ds = load_strokes(Path(src), built_by_default=Path(src) == DEFAULT_STROKES)
        train, held = split_strokes(len(ds))
        out = stroke_metrics(model, [ds.drawing(i) for i in train], [ds.drawing(i) for i in held],
                             [int(ds.classes[i]) for i in held], torch.device(device))
    else:
        raise WeightsError(f"model {name!r} of kind {kind!r} has no evaluation")
    key, op, target = TARGETS[kind]
    ok = out[key] >= target if op == ">=" else out[key] <= target
    graded = apply_bar({"kind": kind, "metrics": out})
    return {"name": name, "kind": kind, "data": src, **out,
            "target": f"{key} {op} {target}", "target_met": bool(ok),
            "below_bar": graded.get("below_bar"), "bar": graded.get("bar", {}).get("note"),
            "eval_time_s": round(time.time() - t0, 1)}


def main(argv: list[str] | None = None) -> None:
    """Print the figures of one model (and a JSON line with --json)."""
    ap = argparse.ArgumentParser(prog="python -m models.evaluate", description=__doc__.splitlines()[0])
    ap.add_argument("name", help="weights NAME (models/weights/NAME.*) or a path to either file")
    ap.add_argument("--data", help="override the data the card names")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", action="store_true", help="one JSON object on the last line")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        res = evaluate(args.name, args.data, args.device)
    except (WeightsError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    for k, v in res.items():
        print(f"{k:>24}: {v}")
    if args.json:
        print(json.dumps(res))


if __name__ == "__main__":
    main()

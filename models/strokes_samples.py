"""Completions of held-out drawings by a stroke model: `python -m models.strokes_samples`.

    python -m models.strokes_samples --model glyphs --data data/strokes \
        --out docs/samples/glyphs_completed.png --class futural --class greek --n 8

Each tile is a held-out drawing (every 20th, as in training) of one class: its first strokes,
up to half its points, fed to the model as a prime (grey, as the drawing voice's /draw/prime is),
and what the model draws from there until it ends the drawing (black), over the real drawing
(light blue). A class has few held-out drawings (4 or 5 a font): a row goes round them again
with another seed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from models.data import strokes as data
from models.jobs import split_strokes
from models.strokes import StrokeRNN, StrokeSampler
from models.weights import WeightsError, load

Point = tuple[float, float, int]
REAL, PRIME, DRAWN = (170, 200, 255), (140, 140, 140), (0, 0, 0)


def points(s5: np.ndarray) -> list[Point]:
    """Stroke-5 rows as absolute (x, y, pen) points: pen 1 drawn to the next, 0 lifted, 2 end."""
    pos = data.absolute(s5)
    return [(float(x), float(y), 2 if r[4] else 1 if r[2] else 0) for (x, y), r in zip(pos, s5, strict=True)]


def prime_of(drawing: list[Point]) -> list[Point]:
    """The drawing's first strokes up to half its points (at least its first stroke), ending
    with the pen lifted."""
    ends = [i for i, p in enumerate(drawing) if p[2] != 1]
    half = len(drawing) // 2
    cut = max([e for e in ends if e < half] or ends[:1])
    return [(x, y, 1 if k < cut else 0) for k, (x, y, _) in enumerate(drawing[:cut + 1])]


def complete(model: StrokeRNN, prime: list[Point], cls: int, seed: int, temperature: float,
             max_points: int = 250) -> list[Point]:
    """What the model draws after the prime, until its end point (or max_points)."""
    s = StrokeSampler(model, cls, seed=seed)
    s.prime(prime)
    out: list[Point] = []
    for _ in range(max_points):
        out.append(s.next_point(temperature))
        if out[-1][2] == 2:
            break
    return out


def tile(real: list[Point], prime: list[Point], drawn: list[Point], cell: int,
         label: str = "") -> Image.Image:
    """One drawing's tile: the real drawing, the prime over it, the model's lines on top."""
    im = Image.new("RGB", (cell, cell), "white")
    d = ImageDraw.Draw(im)
    o, span = cell * 0.1, cell * 0.8

    def lines(pts: list[Point], colour: tuple[int, int, int], width: int) -> None:
        for (x0, y0, p0), (x1, y1, _) in zip(pts, pts[1:], strict=False):
            if p0 == 1:
                d.line([(o + x0 * span, o + y0 * span), (o + x1 * span, o + y1 * span)],
                       fill=colour, width=width)

    lines(real, REAL, 3)
    lines(prime, PRIME, 2)
    lines(prime[-1:] + drawn, DRAWN, 2)  # the prime's last point lifted: no line to the first
    if label:
        d.text((3, 2), label, fill=(160, 0, 0))
    d.rectangle([0, 0, cell - 1, cell - 1], outline=(225, 225, 225))
    return im


def completion_grid(model: StrokeRNN, ds: data.StrokeSet, classes: list[str], n: int, seed: int,
                    temperature: float, cell: int = 96) -> Image.Image:
    """A row of n completions per class, of that class's held-out drawings."""
    _, held = split_strokes(len(ds))
    img = Image.new("RGB", (cell * n, cell * len(classes)), "white")
    for row, name in enumerate(classes):
        k = ds.class_names.index(name)
        mine = [i for i in held if ds.classes[i] == k]
        if not mine:
            raise ValueError(f"class {name!r} has no held-out drawing")
        cls = model.cfg.classes.index(name) if model.cfg.classes else 0
        for col in range(n):
            real = points(ds.drawing(mine[col % len(mine)]))
            prime = prime_of(real)
            drawn = complete(model, prime, cls, seed + 1000 * row + col, temperature)
            img.paste(tile(real, prime, drawn, cell, name if col == 0 else ""), (col * cell, row * cell))
    return img


def main(argv: list[str] | None = None) -> None:
    """The command line: the grid into --out."""
    ap = argparse.ArgumentParser(prog="python -m models.strokes_samples", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="glyphs")
    ap.add_argument("--data", default="data/strokes", help="the data set it was trained on")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--class", dest="classes", action="append", help="a row; default every class")
    ap.add_argument("--n", type=int, default=8, help="completions a row")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--temperature", type=float, default=0.3)
    args = ap.parse_args(argv)
    try:
        ds = data.load(args.data)
        model, _ = load(args.model, "cpu")
    except (WeightsError, FileNotFoundError) as e:
        raise SystemExit(f"error: {e}") from None
    if not isinstance(model, StrokeRNN):
        raise SystemExit(f"error: {args.model} is not a stroke model")
    classes = args.classes or ds.class_names
    unknown = [c for c in classes
               if c not in ds.class_names or (model.cfg.classes and c not in model.cfg.classes)]
    if unknown:
        raise SystemExit(f"error: class {unknown[0]!r} is not in both the model and the data")
    try:
        completion_grid(model, ds, classes, args.n, args.seed, args.temperature).save(args.out)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()

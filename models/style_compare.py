"""Which feature network makes the better style loss: `python -m models.style_compare [--json]`.

Each candidate runs the same Gatys optimisation (models/style_features.gatys: same steps, same
weights, same held-out content crops, same style images), and a judge that belongs to neither
scores what comes out: the sliced Wasserstein distance of 7x7 Laplacian-pyramid patches
(models/metrics.swd, the GAN's measure) to crops of the style image (lower: more of the style)
and to the content crop itself (lower: more of the picture kept).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from bench.machine import info
from models.images import CropSampler, ImageSet
from models.metrics import swd
from models.style_features import PerceptualLoss, RandomFeatures, feature_net, gatys
from models.style_train import DEFAULT_STYLES, content_images, load_styles, split_content

CANDIDATES: dict[str, Any] = {
    "random (4 stages, 48-256 filters, 3-40 px)": lambda: RandomFeatures(),
    "random, one stage (384 filters, 3 px)": lambda: RandomFeatures(widths=(384,), content_stage=0),
}


def style_crops(image: torch.Tensor, n: int, side: int) -> torch.Tensor:
    """n random side-px crops of one (1, 3, H, W) style image (the judge's reference)."""
    ims = ImageSet([((image[0] + 1) * 127.5).round().byte()], ["style"])
    return CropSampler(ims, side, "cpu", min_frac=0.5).sample(n, torch.Generator().manual_seed(7))


def judge(features: nn.Module, content: torch.Tensor, styles: list[torch.Tensor], steps: int,
          content_weight: float) -> dict[str, float]:
    """Mean SWD to the style and to the content of Gatys outputs under one feature net."""
    loss = PerceptualLoss(features, 1.0, content_weight, 0.0)
    to_style, to_content = [], []
    for image in styles:
        targets = [g.expand(len(content), -1, -1) for g in loss.style_grams(image)]
        out = gatys(loss, content, targets, steps=steps)
        to_style.append(swd(out, style_crops(image, len(content), content.shape[-1])))
        to_content.append(swd(out, content))
    return {"swd_to_style": round(sum(to_style) / len(to_style), 2),
            "swd_to_content": round(sum(to_content) / len(to_content), 2)}


def compare(images: int, side: int, steps: int, content_weight: float,
            extra: list[str] | None = None) -> dict[str, Any]:
    """Every candidate (and each --features spec in extra) judged on the same content crops and
    style images, beside the input itself."""
    torch.set_num_threads(1)
    _, styles, _ = load_styles(DEFAULT_STYLES)
    _, held = split_content(content_images(None))
    content = CropSampler(held, side, "cpu").sample(images, torch.Generator().manual_seed(20_004))
    input_row = {"swd_to_style": round(sum(swd(content, style_crops(s, images, side))
                                           for s in styles) / len(styles), 2), "swd_to_content": 0.0}
    rows: dict[str, Any] = {"input itself": input_row}
    candidates = dict(CANDIDATES) | {spec: (lambda s=spec: feature_net(s)) for spec in extra or []}
    for name, make in candidates.items():
        t0 = time.time()
        rows[name] = judge(make(), content, styles, steps, content_weight) | {
            "seconds": round(time.time() - t0, 1)}
    return {"rows": rows, "images": images, "side": side, "gatys_steps": steps,
            "content_weight": content_weight, "styles": len(styles)}


def main(argv: list[str] | None = None) -> None:
    """Print the machine and each candidate's figures."""
    ap = argparse.ArgumentParser(prog="python -m models.style_compare",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--side", type=int, default=128)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--content-weight", type=float, default=0.3)
    ap.add_argument("--features", action="append", default=[],
                    help="another candidate (trained:PATH, vgg19:PATH); --only-extra for it alone")
    ap.add_argument("--only-extra", action="store_true", help="skip the built-in candidates")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    if args.only_extra:
        CANDIDATES.clear()
    res = compare(args.images, args.side, args.steps, args.content_weight, args.features) | {
        "machine": info("cpu")}
    for name, row in res["rows"].items():
        print(f"{name:45s} SWD to style {row['swd_to_style']:8.2f}  to content "
              f"{row['swd_to_content']:8.2f}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()

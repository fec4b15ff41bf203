"""A feature net we train ourselves, for the style loss comparison (models/style_compare.py).

    python -m models.style_feature_train --out runs/style/features_rot.safetensors --max-minutes 8

The random net's architecture (models/style_features.RandomFeatures), started from its random
filters and trained on our content images to tell which way up a crop is (rotation by 0, 90,
180 or 270 degrees, Gidaris et al. 2018: a label that needs no annotation). `--features
trained:PATH` then uses it in the style loss.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file
from tqdm import tqdm

from models.images import CropSampler
from models.style_features import RandomFeatures
from models.style_train import content_images, split_content


def rotation_batch(x: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Each crop turned by k x 90 degrees, and k."""
    k = torch.randint(4, (len(x),), generator=gen)
    return torch.stack([torch.rot90(im, int(r), (1, 2)) for im, r in zip(x, k, strict=True)]), k


def train(out: Path, minutes: float, side: int = 64, batch: int = 16, seed: int = 0) -> dict[str, float]:
    """Train the features and a linear head for `minutes`; save the features' weights."""
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(seed)
    features = RandomFeatures()
    features.requires_grad_(True).train()
    head = nn.Linear(features.widths[-1], 4)
    opt = torch.optim.Adam([*features.parameters(), *head.parameters()], lr=1e-3)
    train_ims, _ = split_content(content_images(None))
    crops = CropSampler(train_ims, side, "cpu")
    t_end, steps, acc = time.time() + minutes * 60, 0, 0.0
    bar = tqdm(total=round(minutes * 60), unit="s", desc="features:rotation")
    t0 = time.time()
    while time.time() < t_end:
        x, k = rotation_batch(crops.sample(batch, gen), gen)
        logits = head(features(x)[-1].mean((2, 3)))  # (B, 4)
        loss = F.cross_entropy(logits, k)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        steps += 1
        acc = 0.98 * acc + 0.02 * float((logits.argmax(1) == k).float().mean())
        bar.set_postfix(step=steps, loss=f"{loss.item():.3f}", acc=f"{acc:.2f}", refresh=False)
        bar.update(round(time.time() - t0) - bar.n)
    bar.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in features.state_dict().items()}, str(out))
    return {"steps": steps, "accuracy_ema": round(acc, 3)}


def main(argv: list[str] | None = None) -> None:
    """Train and save."""
    ap = argparse.ArgumentParser(prog="python -m models.style_feature_train",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--max-minutes", type=float, default=8.0)
    args = ap.parse_args(argv)
    print(train(args.out, args.max_minutes), flush=True)


if __name__ == "__main__":
    main()

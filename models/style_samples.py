"""Sample sheets of a style network: `python -m models.style_samples --model styles`.

Writes a grid (rows: held-out inputs and a GAN frame; columns: the input, then each style, the
style images along the top) and a morph strip (one input through every style in turn, the mix
sliding between neighbours) into docs/samples/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from live.voices.kit import load_model
from live.voices.style import untrained_style_net
from models import weights
from models.images import CropSampler, load_images
from models.style import StyleNet, one_hot, stylise_pixels
from models.style_train import DEFAULT_STYLES, ROOT, content_images, load_styles, split_content

TILE = 128


def to_pixels(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) uint8."""
    return x.add(1).mul(127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1)


def inputs(tile: int) -> torch.Tensor:
    """(N, H, W, 3) uint8: held-out content crops, two photographs and a frame of the GAN."""
    _, held = split_content(content_images(None))
    gen = torch.Generator().manual_seed(11)
    picks = [CropSampler(held, tile, "cpu").sample(3, gen)]
    photos = load_images("skimage")
    keep = [i for i, n in enumerate(photos.names) if n in ("chelsea.png", "coffee.png")]
    photos.images = [photos.images[i] for i in keep]
    picks.append(CropSampler(photos, tile, "cpu", min_frac=0.9).sample(2, gen))
    try:
        gan, _ = weights.load("textures")
        with torch.no_grad():
            frame = gan(torch.randn(1, 128, generator=torch.Generator().manual_seed(7)))
        picks.append(torch.nn.functional.interpolate(frame, size=(tile, tile), mode="bicubic").clamp(-1, 1))
    except Exception:  # no GAN shipped: the crops alone
        pass
    return to_pixels(torch.cat(picks))


def sheet(rows: list[list[np.ndarray]]) -> Image.Image:
    """Tiles (each (H, W, 3)) in rows, 4 px apart on white, in 256 colours."""
    h, w = rows[0][0].shape[:2]
    cols = max(len(r) for r in rows)
    out = Image.new("RGB", (cols * (w + 4) + 4, len(rows) * (h + 4) + 4), "white")
    for i, row in enumerate(rows):
        for j, tile in enumerate(row):
            out.paste(Image.fromarray(np.ascontiguousarray(tile)), (4 + j * (w + 4), 4 + i * (h + 4)))
    return out.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)  # small PNGs


def style_tile(image: torch.Tensor, tile: int) -> np.ndarray:
    """A style image fitted into a white tile."""
    im = Image.fromarray(to_pixels(image)[0].numpy())
    im.thumbnail((tile, tile))
    out = Image.new("RGB", (tile, tile), "white")
    out.paste(im, ((tile - im.size[0]) // 2, (tile - im.size[1]) // 2))
    return np.asarray(out)


def main(argv: list[str] | None = None) -> None:
    """Write the grid and the morph strip."""
    ap = argparse.ArgumentParser(prog="python -m models.style_samples", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="styles")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "samples")
    ap.add_argument("--morph-steps", type=int, default=4, help="frames from one style to the next")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    model, _ = load_model("style", {"model": args.model}, torch.device("cpu"), untrained_style_net)
    assert isinstance(model, StyleNet)
    names = model.cfg.styles
    _, images, _ = load_styles(DEFAULT_STYLES)
    n = len(names)
    pics = inputs(TILE)
    with torch.inference_mode():
        rows = [[np.full((TILE, TILE, 3), 255, np.uint8)] + [style_tile(im, TILE) for im in images[:n]]]
        for p in pics:
            batch = p[None].expand(n, -1, -1, -1)
            styled = stylise_pixels(model, batch, torch.tensor([one_hot(s, n) for s in range(n)]))
            rows.append([p.numpy()] + [s.numpy() for s in styled])
        sheet(rows).save(args.out / f"{args.model}.png", optimize=True)
        mixes = []
        for s in range(n - 1):
            for k in range(args.morph_steps):
                t = k / args.morph_steps
                mixes.append([(1 - t) if i == s else t if i == s + 1 else 0.0 for i in range(n)])
        mixes.append(one_hot(n - 1, n))
        picture = pics[min(3, len(pics) - 1)]  # the cat, a photograph with detail
        strip = stylise_pixels(model, picture[None].expand(len(mixes), -1, -1, -1), torch.tensor(mixes))
        sheet([[picture.numpy()] + [s.numpy() for s in strip]]).save(
            args.out / f"{args.model}_morph.png", optimize=True)
    print(f"wrote {args.out / f'{args.model}.png'} and {args.out / f'{args.model}_morph.png'}")


if __name__ == "__main__":
    main()

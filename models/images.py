"""Image data for the GAN: a folder, an .npz of arrays, or scikit-image's photographs.

A folder that `python -m models.data images` built has a manifest.json: its licences go into
the card, and its crop_min (crops of 80-100% of each already square image) into the sampler.

Images stay whole in memory (uint8); batches are random crops, rescaled to the
model resolution with antialiasing, and flipped, so a dozen photographs give an
endless stream of texture patches.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

# RGB photographs and textures shipped inside skimage/data (greyscale ones become RGB).
SKIMAGE_DEFAULT = (
    "astronaut.png", "brick.png", "chelsea.png", "coffee.png", "color.png", "grass.png",
    "gravel.png", "hubble_deep_field.jpg", "ihc.png", "motorcycle_left.png", "retina.jpg",
    "rocket.jpg",
)
SKIMAGE_LICENCE = "scikit-image data (skimage/data/README.txt): public domain or CC0/CC-BY images"
SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
MAX_SIDE = 512  # images are shrunk to this short side when loaded: bigger adds little


@dataclass
class ImageSet:
    """Images for training (each (3, H, W) uint8), their names, what was skipped, the source."""

    images: list[torch.Tensor]  # each (3, H, W) uint8
    names: list[str]
    skipped: list[str] = field(default_factory=list)  # unreadable files, with the reason
    source: str = ""
    crop_min: float = 0.25  # smallest random crop, a fraction of the short side
    manifest: dict[str, Any] | None = None  # a built data set's manifest.json


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest.json of a data set `python -m models.data images` built, else None."""
    mp = folder / "manifest.json"
    if not mp.is_file():
        return None
    try:
        man = json.loads(mp.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"data set manifest {mp} is unreadable: {e}") from None
    return man if isinstance(man, dict) else None


def licence_summary(ims: ImageSet) -> str | dict[str, Any]:
    """What the card says about the licence of the images."""
    if ims.manifest is not None:
        return {"by_licence": ims.manifest.get("summary", {}).get("by_licence", {}),
                "sources": ims.manifest.get("sources", []),
                "per_image": str(Path(ims.source) / "manifest.json")}
    if ims.source.startswith("skimage") or "skimage" in ims.source:
        return SKIMAGE_LICENCE
    return "see the source of the images"


def _to_rgb(a: np.ndarray) -> np.ndarray:
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"unsupported image shape {a.shape}")
    return np.ascontiguousarray(a[:, :, :3])


def _shrink(img, min_side: int):
    """A PIL image whose short side is at most MAX_SIDE (and not below min_side)."""
    from PIL import Image

    s = min(img.size)
    if s > MAX_SIDE:
        f = MAX_SIDE / s
        img = img.resize((round(img.size[0] * f), round(img.size[1] * f)), Image.Resampling.LANCZOS)
    return img


def load_images(data: str | Path | None, min_side: int = 64) -> ImageSet:
    """Read every image under a folder, an .npz of HxWx3 arrays, or 'skimage' (the default)."""
    from PIL import Image, UnidentifiedImageError

    if data is None or str(data) == "skimage":
        import skimage

        root = Path(skimage.__file__).parent / "data"
        files = [root / n for n in SKIMAGE_DEFAULT if (root / n).is_file()]
        source = "skimage"
        manifest = None
    else:
        p = Path(data)
        if p.suffix == ".npz" and p.is_file():
            return _load_npz(p, min_side)
        if not p.is_dir():
            raise FileNotFoundError(f"image data not found: {p} (a folder, an .npz or 'skimage')")
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES)
        source = str(p)
        manifest = read_manifest(p)
    images, names, skipped = [], [], []
    for f in files:
        try:
            with Image.open(f) as im:
                im.load()
                img = _shrink(im.convert("RGB"), min_side)
            if min(img.size) < min_side:
                raise ValueError(f"smaller than {min_side} px")
            images.append(torch.from_numpy(_to_rgb(np.array(img))).permute(2, 0, 1).contiguous())
            names.append(f.name)
        except (UnidentifiedImageError, OSError, ValueError) as e:
            skipped.append(f"{f.name}: {type(e).__name__}: {e}")
    if not images:
        raise ValueError(f"no readable images in {source} ({len(files)} files, "
                         f"{len(skipped)} unreadable)")
    if manifest is None:
        return ImageSet(images, names, skipped, source)
    return ImageSet(images, names, skipped, source, float(manifest.get("crop_min", 0.25)), manifest)


def _load_npz(p: Path, min_side: int) -> ImageSet:
    z = np.load(p, allow_pickle=False)
    images, names, skipped = [], [], []
    for k in sorted(z.files):
        a = z[k]
        if a.dtype != np.uint8 or min(a.shape[:2]) < min_side:
            skipped.append(f"{k}: not a uint8 image of at least {min_side} px")
            continue
        images.append(torch.from_numpy(_to_rgb(a)).permute(2, 0, 1).contiguous())
        names.append(k)
    if not images:
        raise ValueError(f"no usable images in {p}")
    return ImageSet(images, names, skipped, str(p))


def save_npz(ims: ImageSet, path: str | Path) -> None:
    """Write the (already shrunk) images as one .npz of HxWx3 uint8 arrays."""
    buf = io.BytesIO()
    # Any: numpy's stubs would check a key of **arrays against savez_compressed's allow_pickle
    arrays: dict[str, Any] = {f"{i:03d}_{n}": im.permute(1, 2, 0).numpy()
                              for i, (im, n) in enumerate(zip(ims.images, ims.names, strict=True))}
    np.savez_compressed(buf, **arrays)
    Path(path).write_bytes(buf.getvalue())


class CropSampler:
    """Random square crops (side between res and the image's short side), resized to res."""

    def __init__(self, ims: ImageSet, res: int, device: str | torch.device = "cpu",
                 min_frac: float | None = None) -> None:
        self.images = [im.to(device) for im in ims.images]
        self.res = res
        self.device = device
        # smallest crop, as a fraction of the short side (default: what the image set says)
        self.min_frac = ims.crop_min if min_frac is None else min_frac

    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """(n, 3, res, res) float in [-1, 1]; all randomness from gen (CPU generator)."""
        r = torch.rand(n, 4, generator=gen)
        which = torch.randint(len(self.images), (n,), generator=gen)
        out = []
        for j in range(n):
            im = self.images[int(which[j])]
            h, w = im.shape[1:]
            short = min(h, w)
            lo = min(short, max(self.res // 2, int(self.min_frac * short)))
            side = int(lo + r[j, 0] * (short - lo))
            y = int(r[j, 1] * (h - side + 1))
            x = int(r[j, 2] * (w - side + 1))
            crop = im[:, y : y + side, x : x + side].unsqueeze(0).float()
            if side != self.res:
                crop = F.interpolate(crop, size=(self.res, self.res), mode="bilinear",
                                     antialias=side > self.res, align_corners=False)
            if r[j, 3] < 0.5:
                crop = crop.flip(3)
            out.append(crop)
        return torch.cat(out).div_(127.5).sub_(1.0).clamp_(-1, 1)

"""A learned embedding of frames for analysis: PCA of a generator's training images.

`python -m models.embed NAME --data DATA` fits it on centre crops of the images NAME was
trained on and writes models/weights/NAME.embed.npz: the mean and the first components of
32x32 thumbnails, each training image's coordinates and its name. The live analysis then
gives every frame its coordinates (`embedding`) and the training image it is most like
(`nearest`), e.g. "this frame is most like brick.png".
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models.images import load_images
from models.weights import WEIGHTS_DIR, paths

SIDE = 32  # thumbnails are SIDE x SIDE x 3
COMPONENTS = 8


def thumbnail(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) uint8 or float in [0, 255] -> (B, 3*SIDE*SIDE) float32 in [0, 1]."""
    x = F.interpolate(images.float(), size=(SIDE, SIDE), mode="area") / 255.0
    return x.flatten(1).numpy()


def thumbnail_pixels(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (3*SIDE*SIDE,) float32 in [0, 1], as thumbnail() does."""
    return thumbnail(torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None])[0]


@dataclass
class Embedding:
    """PCA coordinates of a thumbnail and the nearest training image."""

    mean: np.ndarray  # (D,)
    components: np.ndarray  # (COMPONENTS, D), orthonormal rows
    coords: np.ndarray  # (N, COMPONENTS) of the training images
    names: list[str]

    def __call__(self, pixels: np.ndarray) -> tuple[list[float], str, float]:
        """(coordinates, the nearest training image's name, its distance) of one frame."""
        return self.place(thumbnail_pixels(pixels))

    def place(self, thumb: np.ndarray) -> tuple[list[float], str, float]:
        """(coordinates, the nearest training image's name, its distance) of a thumbnail
        (3*SIDE*SIDE,) in [0, 1], channels first as thumbnail() makes it."""
        c = self.components @ (thumb - self.mean)
        diff = self.coords - c
        d = np.sqrt((diff * diff).sum(1))
        i = int(np.argmin(d))
        return [round(float(x), 4) for x in c], self.names[i], round(float(d[i]), 4)

    @classmethod
    def load(cls, path: Path) -> Embedding:
        with np.load(path, allow_pickle=False) as z:
            return cls(z["mean"].astype(np.float32), z["components"].astype(np.float32),
                       z["coords"].astype(np.float32), json.loads(str(z["names"])))


def for_model(name: str) -> Embedding | None:
    """The embedding beside a generator's weights (NAME.embed.npz), or None if it has none."""
    st, _ = paths(name)
    path = st.with_name(st.stem + ".embed.npz")
    try:
        return Embedding.load(path) if path.is_file() else None
    except (OSError, ValueError, KeyError):
        return None


def fit(data: str, crops_per_image: int = 1) -> Embedding:
    """PCA of the centre crops of a data set's images."""
    ims = load_images(data)
    thumbs = []
    for im in ims.images:
        h, w = im.shape[1:]
        s = min(h, w)
        y, x = (h - s) // 2, (w - s) // 2
        thumbs.append(thumbnail(im[None, :, y:y + s, x:x + s])[0])
    X = np.stack(thumbs)
    mean = X.mean(0)
    _, _, vt = np.linalg.svd(X - mean, full_matrices=False)
    comps = vt[:COMPONENTS]
    return Embedding(mean, comps, (X - mean) @ comps.T, list(ims.names))


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    p = argparse.ArgumentParser(prog="python -m models.embed", description=__doc__)
    p.add_argument("name", help="the generator's weights name (the file is NAME.embed.npz)")
    p.add_argument("--data", default="skimage", help="its training data (a folder or skimage)")
    p.add_argument("--out-dir", default=str(WEIGHTS_DIR))
    args = p.parse_args(argv)
    emb = fit(args.data)
    out = Path(args.out_dir) / f"{args.name}.embed.npz"
    np.savez_compressed(out, mean=emb.mean.astype(np.float16), components=emb.components.astype(np.float16),
                        coords=emb.coords.astype(np.float16), names=json.dumps(emb.names))
    print(json.dumps({"embedding": str(out), "images": len(emb.names), "components": COMPONENTS,
                      "bytes": out.stat().st_size}))


if __name__ == "__main__":
    main()

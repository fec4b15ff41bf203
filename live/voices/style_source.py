"""Where a style voice's pictures come from: another visual stream's frames, or still images.

`/NAME/source` is a voice's name (a visual, input or another style voice: its frames are tapped
as they are rendered, before encoding) or `image:PATH` (a still image, or a folder of them
played as a slideshow at /NAME/slide_s seconds an image).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from live.params import StringParam

IMAGE_PREFIX = "image:"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
VISUAL_KINDS = ("visual", "input", "style")  # voices whose frames can be styled
MIN_SIDE, MAX_SIDE = 8, 1024  # frame sides the network takes (512 px on a CPU is slow already)
MAX_IMAGES = 256  # a slideshow folder's images, at most


class FrameTap:
    """Sits in a source voice's outputs list: keeps a reference to its newest raw frame."""

    def __init__(self) -> None:
        self.latest: tuple[np.ndarray, int] | None = None  # (H, W, 3) uint8 and its stamp
        self.frames = 0

    def wants_frames(self) -> bool:
        """Always: the style voice needs pixels, not the GPU's JPEG."""
        return True

    def offer(self, pixels: np.ndarray, seq: int, stamp: int, render_us: int) -> None:
        """A rendered frame of the source (its renderer's thread); never blocks."""
        self.latest = (pixels, stamp)
        self.frames += 1


def size_problem(shape: tuple[int, ...]) -> str | None:
    """Why a frame of this shape cannot be styled, or None."""
    if len(shape) != 3 or shape[2] != 3:
        return f"a frame of shape {shape} is not (H, W, 3) RGB"
    h, w = shape[:2]
    if not (MIN_SIDE <= h <= MAX_SIDE and MIN_SIDE <= w <= MAX_SIDE):
        return f"a {w}x{h} frame is refused: sides must be {MIN_SIDE} to {MAX_SIDE} px"
    return None


def read_still(path: Path, longest: int) -> np.ndarray:
    """An image file as (H, W, 3) uint8, its longest side scaled to `longest`; ValueError."""
    try:
        with Image.open(path) as im:
            rgb = im.convert("RGB")
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"{path} is not a readable image: {e}") from None
    k = longest / max(rgb.size)
    rgb = rgb.resize((max(MIN_SIDE, round(rgb.size[0] * k)), max(MIN_SIDE, round(rgb.size[1] * k))),
                     Image.Resampling.LANCZOS)
    return np.asarray(rgb)


@dataclass
class Slideshow:
    """Still images shown one after another, `seconds` each (one image: a still)."""

    images: list[np.ndarray]
    names: list[str]
    started: float = field(default_factory=time.monotonic)

    def current(self, seconds: float) -> tuple[np.ndarray, int]:
        """The image due now and its index."""
        k = int((time.monotonic() - self.started) / max(seconds, 1e-3)) % len(self.images)
        return self.images[k], k


def open_slideshow(spec: str, longest: int) -> Slideshow:
    """`image:PATH` (a file or a folder of images) as a slideshow; ValueError saying why not."""
    path = Path(spec[len(IMAGE_PREFIX):]).expanduser()
    if path.is_dir():
        files = sorted(f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)[:MAX_IMAGES]
        if not files:
            raise ValueError(f"folder {path} has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    elif path.is_file():
        files = [path]
    else:
        raise ValueError(f"no image or folder at {path}")
    return Slideshow([read_still(f, longest) for f in files], [f.name for f in files])


Voices = Callable[[], dict[str, Any]]  # the running voices by name


def source_problem(value: str, own: str, voices: Voices) -> str | None:
    """Why `value` cannot be a style voice's source, or None (image paths are checked on use)."""
    if value.startswith(IMAGE_PREFIX):
        return None
    if value == own:
        return "a voice cannot style its own frames"
    known = voices()
    usable = [n for n, v in known.items() if v.kind in VISUAL_KINDS and n != own]
    if value not in known:
        return (f"no voice named {value!r}; visual voices: {', '.join(usable) or 'none'}, "
                f"or {IMAGE_PREFIX}PATH (an image or a folder)")
    kind = known[value].kind
    if kind not in VISUAL_KINDS:
        return (f"voice {value!r} is a {kind} voice, not a visual one; visual voices: "
                f"{', '.join(usable) or 'none'}, or {IMAGE_PREFIX}PATH")
    return None


@dataclass
class SourceParam(StringParam):
    """A style voice's source: a visual voice's name or image:PATH, refused unless usable."""

    check: Callable[[str], str | None] | None = None  # why a value is refused, or None

    def validate(self, value: Any) -> str:
        text = super().validate(value)
        problem = self.check(text) if self.check is not None else None
        if problem is not None:
            raise self.refuse(value, f"a visual voice's name or {IMAGE_PREFIX}PATH ({problem})")
        return text

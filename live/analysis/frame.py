"""Features of one rendered frame, cheap enough for every frame (under 1 ms at 128 px).

The frame is sampled to 128x128 and summed in blocks once: 64x64 luma (brightness,
contrast, entropy, edges), 32x32 colour (hue, saturation, colourfulness, symmetry, motion)
and 16x16 for the palette. Every value is in a fixed range (RANGES), so a mapping can scale
it without knowing the image. The work is a few dozen numpy calls on small arrays, so their
count and kind set the cost, not the pixels: sums, not means (a mean costs three sums here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

HUE_BINS = 12
PALETTE = 5  # dominant colours
RANGES: dict[str, tuple[float, float]] = {
    "brightness": (0, 1), "contrast": (0, 0.5), "colourfulness": (0, 200), "saturation": (0, 1),
    "edges": (0, 1), "entropy": (0, 1), "symmetry_lr": (0, 1), "symmetry_tb": (0, 1),
    "motion": (0, 1), "motion_x": (-1, 1), "motion_y": (-1, 1),
}
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
SIDE = 128  # frames are sampled to this before the block sums
EDGE = 0.05  # a luma gradient (per pixel of 64) that counts as an edge
SQRT3 = float(np.sqrt(3.0))


def sample(pixels: np.ndarray, side: int = SIDE) -> np.ndarray:
    """(H, W, 3) uint8 -> (side, side, 3) float32 in 0..255, every pixel when H = W = side
    (every n-th when they are n x side)."""
    h, w = pixels.shape[:2]
    if h % side == 0 and w % side == 0:
        pixels = pixels[::h // side, ::w // side]
    else:
        pixels = pixels[(np.arange(side) * h) // side][:, (np.arange(side) * w) // side]
    return pixels.astype(np.float32)


def pool(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(128, 128, 3) float32 0..255 -> luma (64, 64) and colour planes (3, 32, 32), both in
    [0, 1] (exact block means: 2x2 for the luma, 4x4 for the colour)."""
    pairs = pixels.reshape(64, 2, SIDE * 3)
    rows = pairs[:, 0] + pairs[:, 1]  # (64, 384): 2-row sums, contiguous
    luma_rows = rows.reshape(64, SIDE, 3) @ (LUMA / (4 * 255.0))
    luma = luma_rows[:, 0::2] + luma_rows[:, 1::2]
    quads = rows.reshape(32, 2, SIDE * 3)
    cols = (quads[:, 0] + quads[:, 1]).reshape(32, 32, 4, 3)
    colour = (cols[:, :, 0] + cols[:, :, 1] + cols[:, :, 2] + cols[:, :, 3]) * (1 / (16 * 255.0))
    return luma, np.ascontiguousarray(colour.transpose(2, 0, 1))


def mean(a: np.ndarray) -> float:
    """The mean of every element (a sum is several times cheaper than ndarray.mean here)."""
    return float(a.sum()) / a.size


def std(a: np.ndarray) -> float:
    """The population standard deviation of every element (about the mean, not from the sum of
    squares, which loses a flat frame's zero to rounding)."""
    d = a - mean(a)
    return float(np.sqrt(mean(d * d)))


def colourfulness(r: np.ndarray, g: np.ndarray, b: np.ndarray) -> float:
    """Hasler and Süsstrunk (2003), from planes in [0, 1] on the 0-255 scale:
    sigma_rgyb + 0.3 mu_rgyb."""
    rg, yb = r - g, 0.5 * (r + g) - b
    sigma = np.hypot(std(rg), std(yb))
    mu = np.hypot(mean(rg), mean(yb))
    return 255.0 * float(sigma + 0.3 * mu)


def hue_saturation(r: np.ndarray, g: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel of three planes: hue in [0, 1), the angle of the opponent axes (the circle
    HSV's hexagon approximates; red 0, green 1/3, blue 2/3), and HSV saturation in [0, 1]."""
    mx = np.maximum(np.maximum(r, g), b)
    mn = np.minimum(np.minimum(r, g), b)
    sat = (mx - mn) / np.maximum(mx, 1e-6)
    hue = np.arctan2(SQRT3 * (g - b), 2 * r - g - b) * (1 / (2 * np.pi))
    return hue % 1.0, sat


def palette(px: np.ndarray, start: np.ndarray | None = None, k: int = PALETTE,
            iterations: int = 4) -> np.ndarray:
    """(N, 3) colours -> (k, 3) dominant ones, most common first, by k-means: from `start`
    (the last frame's palette, where one step a frame keeps up with a moving picture) or from
    luminance quantiles (also when a colour of `start` has no pixels left, as after a cut)."""
    if start is None:
        order = np.argsort(px @ LUMA, kind="stable")
        centres = px[order[((np.arange(k) + 0.5) * len(px) / k).astype(int)]]
    else:
        centres = start
    with_one = np.concatenate([px, np.ones((len(px), 1), px.dtype)], 1)  # (N, 4): sums and counts at once
    onehot = np.empty((len(px), k), px.dtype)
    counts = np.zeros(k, px.dtype)
    for _ in range(iterations):
        # the squared distance less |px|^2, which the argmin does not need
        label = ((centres * centres).sum(1) - 2 * (px @ centres.T)).argmin(1)
        np.equal(label[:, None], np.arange(k), out=onehot)
        totals = onehot.T @ with_one  # (k, 4)
        counts = totals[:, 3]
        if not counts.all():
            if start is not None:
                return palette(px, None, k)
            centres = np.where(counts[:, None] > 0, totals[:, :3] / np.maximum(counts, 1)[:, None], centres)
        else:
            centres = totals[:, :3] / counts[:, None]
    return centres[np.argsort(-counts, kind="stable")]


def dft_matrix(n: int) -> np.ndarray:
    """(n, n) complex64 DFT matrix: W @ X @ W is X's 2-D DFT (two small matmuls beat an FFT
    call's overhead at 32x32)."""
    k = np.arange(n)
    return np.exp(-2j * np.pi * np.outer(k, k) / n).astype(np.complex64)


DFT32 = dft_matrix(32)


def spectrum(image: np.ndarray) -> np.ndarray:
    """The 2-D DFT of a (32, 32) image."""
    return DFT32 @ image.astype(np.complex64) @ DFT32


def peak_shift(before: np.ndarray, after: np.ndarray) -> tuple[float, float]:
    """The translation between two (32, 32) images from their spectra, by phase correlation,
    in fractions of the side (-0.5..0.5)."""
    cross = after * np.conj(before)
    inverse = DFT32.conj()
    corr = (inverse @ (cross / np.maximum(np.abs(cross), 1e-9)) @ inverse).real
    n = len(corr)
    y, x = divmod(int(np.argmax(corr)), n)
    return ((x + n // 2) % n - n // 2) / n, ((y + n // 2) % n - n // 2) / n


@dataclass
class FrameAnalyser:
    """Features of each frame of one stream; remembers the last one for motion."""

    previous: np.ndarray | None = None  # 32x32 luma of the last frame
    frames: int = 0
    last: dict[str, Any] = field(default_factory=dict)
    colour: np.ndarray | None = None  # the last frame's (3, 32, 32) block means, for the embedding
    _spectrum: tuple[np.ndarray, np.ndarray] | None = None  # (the luma it is of, its DFT)
    _palette: np.ndarray | None = None  # the last frame's, where this one's k-means starts

    def __call__(self, pixels: np.ndarray) -> dict[str, Any]:
        luma, rgb = pool(sample(pixels))  # (64, 64), (3, 32, 32)
        self.colour = rgb
        r, g, b = rgb
        hue, sat = hue_saturation(r, g, b)
        hist = np.bincount((hue * HUE_BINS).astype(np.intp).ravel() % HUE_BINS, weights=sat.ravel(),
                           minlength=HUE_BINS)
        lum_hist = np.bincount(np.minimum((luma * 32).astype(np.intp), 31).ravel(), minlength=32)
        p = lum_hist[lum_hist > 0] * (1.0 / luma.size)
        gx = luma[1:-1, 2:] - luma[1:-1, :-2]  # central differences: twice the gradient
        gy = luma[2:, 1:-1] - luma[:-2, 1:-1]
        edges = np.count_nonzero(gx * gx + gy * gy > 4 * EDGE * EDGE) / gx.size
        small = LUMA[0] * r + LUMA[1] * g + LUMA[2] * b  # (32, 32)
        motion, mx, my = 0.0, 0.0, 0.0
        now = None
        if self.previous is not None:
            motion = mean(np.abs(small - self.previous))
            if motion > 1e-3:
                now = spectrum(small)
                kept = self._spectrum
                before = kept[1] if kept is not None and kept[0] is self.previous else spectrum(self.previous)
                sx, sy = peak_shift(before, now)
                mx, my = 2 * sx, 2 * sy  # to -1..1
        self.previous = small
        self._spectrum = (small, now) if now is not None else None
        self.frames += 1
        rows = rgb[:, 0::2] + rgb[:, 1::2]  # (3, 16, 32)
        px16 = ((rows[:, :, 0::2] + rows[:, :, 1::2]) * 0.25).reshape(3, -1).T  # (256, 3)
        self._palette = palette(px16, self._palette, iterations=4 if self._palette is None else 1)
        self.last = {
            "brightness": mean(luma), "contrast": std(luma),
            "colourfulness": colourfulness(r, g, b), "saturation": mean(sat),
            "edges": float(edges),
            "entropy": float(-(p * np.log2(p)).sum() / 5.0),  # 5 bits: 32 bins
            "symmetry_lr": 1.0 - mean(np.abs(rgb - rgb[:, :, ::-1])),
            "symmetry_tb": 1.0 - mean(np.abs(rgb - rgb[:, ::-1])),
            "motion": min(1.0, motion * 4), "motion_x": mx, "motion_y": my,
            "hue": (hist * (1 / max(float(hist.sum()), 1e-9))).round(4).tolist(),
            "palette": self._palette.round(4).tolist(),
        }
        return self.last

"""Features of one rendered frame, cheap enough for every frame (well under 1 ms at 128 px).

Most work on a 64x64 copy; hue, saturation and motion on 32x32, the palette on 16x16. Every
value is in a fixed range (RANGES), so a mapping can scale it without knowing the image.
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


def shrink(pixels: np.ndarray, side: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (side, side, 3) float32 in [0, 1]: sampled on a grid down to twice
    the side, then 2x2 block means (exact block means when H and W are 2 x side)."""
    h, w = pixels.shape[:2]
    if (h, w) != (2 * side, 2 * side):
        pixels = pixels[(np.arange(2 * side) * h) // (2 * side)][:, (np.arange(2 * side) * w) // (2 * side)]
    a = pixels.astype(np.uint16)
    total = a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]
    return total.astype(np.float32) * (1.0 / (4 * 255.0))


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler and Süsstrunk (2003), on 0-255 values: sigma_rgyb + 0.3 mu_rgyb."""
    r, g, b = (rgb[..., i] * 255.0 for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    sigma = float(np.sqrt(rg.std() ** 2 + yb.std() ** 2))
    mu = float(np.sqrt(rg.mean() ** 2 + yb.mean() ** 2))
    return sigma + 0.3 * mu


def hue_saturation(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hue in [0, 1) and HSV saturation in [0, 1] per pixel."""
    mx, mn = rgb.max(-1), rgb.min(-1)
    delta = mx - mn
    sat = np.where(mx > 1e-6, delta / np.maximum(mx, 1e-6), 0.0)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    d = np.maximum(delta, 1e-6)
    hue = np.where(mx == r, ((g - b) / d) % 6, np.where(mx == g, (b - r) / d + 2, (r - g) / d + 4))
    return (hue / 6.0) % 1.0, sat


def palette(rgb: np.ndarray, k: int = PALETTE, iterations: int = 4) -> np.ndarray:
    """(k, 3) dominant colours in [0, 1], most common first: k-means from luminance quantiles."""
    px = rgb.reshape(-1, 3)
    order = np.argsort(px @ LUMA)
    centres = px[order[((np.arange(k) + 0.5) * len(px) / k).astype(int)]].copy()
    label = np.zeros(len(px), np.int64)
    for _ in range(iterations):
        label = ((px[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
        counts = np.bincount(label, minlength=k)
        sums = np.stack([np.bincount(label, px[:, c], minlength=k) for c in range(3)], 1)
        seen = counts > 0
        centres[seen] = sums[seen] / counts[seen, None]
    counts = np.bincount(label, minlength=k)
    return centres[np.argsort(-counts, kind="stable")]


def shift(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """The translation from a to b by phase correlation, in fractions of the side (-0.5..0.5)."""
    fa, fb = np.fft.rfft2(a), np.fft.rfft2(b)
    cross = fb * np.conj(fa)
    corr = np.fft.irfft2(cross / np.maximum(np.abs(cross), 1e-9), s=a.shape)
    y, x = np.unravel_index(int(np.argmax(corr)), corr.shape)
    n = a.shape[0]
    return ((x + n // 2) % n - n // 2) / n, ((y + n // 2) % n - n // 2) / n


@dataclass
class FrameAnalyser:
    """Features of each frame of one stream; remembers the last one for motion."""

    previous: np.ndarray | None = None  # 32x32 luma of the last frame
    frames: int = 0
    last: dict[str, Any] = field(default_factory=dict)

    def __call__(self, pixels: np.ndarray) -> dict[str, Any]:
        rgb = shrink(pixels, 64)  # (64, 64, 3)
        luma = rgb @ LUMA  # (64, 64)
        rgb32 = rgb.reshape(32, 2, 32, 2, 3).mean(axis=(1, 3))  # (32, 32, 3)
        hue, sat = hue_saturation(rgb32)
        hist = np.bincount((hue * HUE_BINS).astype(int).ravel() % HUE_BINS, weights=sat.ravel(),
                           minlength=HUE_BINS)
        lum_hist = np.bincount(np.minimum((luma * 32).astype(int), 31).ravel(), minlength=32)
        p = lum_hist[lum_hist > 0] / luma.size
        gy, gx = np.gradient(luma)
        small = luma.reshape(32, 2, 32, 2).mean(axis=(1, 3))  # (32, 32)
        motion, mx, my = 0.0, 0.0, 0.0
        if self.previous is not None:
            motion = float(np.abs(small - self.previous).mean())
            if motion > 1e-3:
                mx, my = shift(self.previous, small)
                mx, my = 2 * mx, 2 * my  # to -1..1
        self.previous = small
        self.frames += 1
        self.last = {
            "brightness": float(luma.mean()), "contrast": float(luma.std()),
            "colourfulness": colourfulness(rgb), "saturation": float(sat.mean()),
            "edges": float((np.hypot(gx, gy) > 0.05).mean()),
            "entropy": float(-(p * np.log2(p)).sum() / 5.0),  # 5 bits: 32 bins
            "symmetry_lr": 1.0 - float(np.abs(rgb - rgb[:, ::-1]).mean()),
            "symmetry_tb": 1.0 - float(np.abs(rgb - rgb[::-1]).mean()),
            "motion": min(1.0, motion * 4), "motion_x": mx, "motion_y": my,
            "hue": (hist / max(float(hist.sum()), 1e-9)).round(4).tolist(),
            "palette": palette(rgb32.reshape(16, 2, 16, 2, 3).mean(axis=(1, 3))).round(4).tolist(),
        }
        return self.last

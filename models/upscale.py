"""A learned 2x upscaler for generated frames (ESPCN, Shi et al. 2016, on top of bicubic).

The network predicts what bicubic upsampling misses: a few convolutions at the input's size,
a sub-pixel shuffle to twice the size, added to the bicubic image. So an untrained one is
bicubic, and training can only add detail. Small enough to run per frame on a CPU.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class UpscaleConfig:
    """Sizes of the upscaler."""

    scale: int = 2
    channels: int = 48
    blocks: int = 3  # 3x3 convolutions between the head and the shuffle

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Upscaler(nn.Module):
    """(B, 3, H, W) in [-1, 1] -> (B, 3, sH, sW) in [-1, 1]."""

    def __init__(self, cfg: UpscaleConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c, s = cfg.channels, cfg.scale
        self.head = nn.Conv2d(3, c, 5, padding=2)
        self.body = nn.ModuleList(nn.Conv2d(c, c, 3, padding=1) for _ in range(cfg.blocks))
        self.tail = nn.Conv2d(c, 3 * s * s, 3, padding=1)
        nn.init.zeros_(self.tail.weight)  # starts as bicubic exactly
        assert self.tail.bias is not None
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.cfg.scale
        base = F.interpolate(x, scale_factor=s, mode="bicubic", align_corners=False)  # (B, 3, sH, sW)
        h = F.silu(self.head(x))  # (B, c, H, W)
        for conv in self.body:
            h = h + F.silu(conv(h))  # residual: (B, c, H, W)
        detail = F.pixel_shuffle(self.tail(h), s)  # (B, 3*s*s, H, W) -> (B, 3, sH, sW)
        return (base + detail).clamp(-1, 1)


def downscale(x: torch.Tensor, scale: int) -> torch.Tensor:
    """The low-resolution input a training pair starts from (antialiased bicubic)."""
    h, w = x.shape[-2:]
    return F.interpolate(x, size=(h // scale, w // scale), mode="bicubic", antialias=True,
                         align_corners=False).clamp(-1, 1)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of two batches in [-1, 1] (as 8-bit images)."""
    mse = ((a - b) / 2).pow(2).mean().item()
    return 10 * float(torch.log10(torch.tensor(1.0 / max(mse, 1e-12))))


@torch.no_grad()
def upscale_pixels(model: Upscaler, pixels: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, sH, sW, 3) uint8, on the model's device."""
    x = pixels.permute(0, 3, 1, 2).float().div(127.5).sub(1)
    y = model(x)
    return y.add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)

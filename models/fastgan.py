"""FastGAN generator (Liu et al. 2021, "Towards Faster and Stabilized GAN Training for
High-fidelity Few-shot Image Synthesis"): GLU up-blocks and skip-layer excitation.

Made for 100-1,000 images and hours of training rather than days. Each up-block doubles the
side with nearest-neighbour upsampling and a 3x3 conv whose 2C outputs a GLU halves to C
(one channel gates the other). From 64 px up, skip-layer excitation (SLE) multiplies every
channel of the large feature map by a gate computed from a map 16 times smaller (4 -> 64,
8 -> 128, 16 -> 256, 32 -> 512): the coarse layout steers the fine texture, and gradients
reach the early layers by a short path. Left out from the paper: its noise injection (the
live engine wants the same image for the same latent) and spectral norm in G (BatchNorm
is enough here and keeps inference one plain conv per layer). The discriminator is the
spectral-norm one of models/gan.py, trained with hinge loss and DiffAugment (models/jobs.py).

    cfg = FastGANConfig(resolution=256)   # g_base 8, g_max 128: 1.8 M parameters
    g = FastGenerator(cfg)                # z (B, 128) -> (B, 3, 256, 256) in [-1, 1]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from models.gan import GANConfig, ImageGenerator


@dataclass
class FastGANConfig(GANConfig):
    """GANConfig plus the name that models.gan.build_generator dispatches on."""

    arch: str = "fastgan"
    resolution: int = 256
    g_base: int = 8  # channels at full resolution; doubles per halving up to g_max
    g_max: int = 128

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.arch != "fastgan":
            raise ValueError(f"FastGANConfig is for arch 'fastgan', got {self.arch!r}")
        if self.resolution < 64:
            raise ValueError(f"fastgan needs a resolution of at least 64, got {self.resolution}")

    def channels(self, side: int) -> int:
        """Feature channels at side x side pixels."""
        return min(self.g_max, self.g_base * self.resolution // side)


def _up(c_in: int, c_out: int) -> nn.Sequential:
    """(B, c_in, S, S) -> (B, c_out, 2S, 2S): upsample, 3x3 conv to 2 c_out, BatchNorm, GLU."""
    return nn.Sequential(nn.Upsample(scale_factor=2.0, mode="nearest"),
                         nn.Conv2d(c_in, 2 * c_out, 3, padding=1, bias=False),
                         nn.BatchNorm2d(2 * c_out), nn.GLU(dim=1))


def _up_twice(c_in: int, c_out: int) -> nn.Sequential:
    """The paper's UpBlockComp: _up, then a second 3x3 conv + BatchNorm + GLU at 2S."""
    return nn.Sequential(*_up(c_in, c_out),
                         nn.Conv2d(c_out, 2 * c_out, 3, padding=1, bias=False),
                         nn.BatchNorm2d(2 * c_out), nn.GLU(dim=1))


class SLE(nn.Module):
    """Skip-layer excitation: big (B, C, S, S) times a per-channel gate from small (B, c, s, s)."""

    def __init__(self, c_small: int, c_big: int) -> None:
        super().__init__()
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(4),  # (B, c, 4, 4)
            nn.Conv2d(c_small, c_big, 4, bias=False),  # (B, C, 1, 1)
            nn.SiLU(),
            nn.Conv2d(c_big, c_big, 1, bias=False),
            nn.Sigmoid(),  # (B, C, 1, 1) in (0, 1)
        )

    def forward(self, small: torch.Tensor, big: torch.Tensor) -> torch.Tensor:
        return big * self.gate(small)


class FastGenerator(ImageGenerator):
    """z (B, nz) -> image (B, 3, R, R) in [-1, 1]; R = cfg.resolution (64 to 512)."""

    cfg: FastGANConfig

    def __init__(self, cfg: FastGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c4 = cfg.channels(4)
        self.init = nn.Sequential(  # (B, nz, 1, 1) -> (B, c4, 4, 4)
            nn.ConvTranspose2d(cfg.nz, 2 * c4, 4, bias=False), nn.BatchNorm2d(2 * c4), nn.GLU(dim=1))
        self.sides = [2**k for k in range(3, int(math.log2(cfg.resolution)) + 1)]  # 8 .. R
        # 8, 32, 128 and 512 px get the double block, as in the paper
        self.ups = nn.ModuleList(
            (_up_twice if int(math.log2(s)) % 2 else _up)(cfg.channels(s // 2), cfg.channels(s))
            for s in self.sides)
        self.sle = nn.ModuleDict({str(s): SLE(cfg.channels(s // 16), cfg.channels(s))
                                  for s in self.sides if s >= 64})
        self.to_rgb = nn.Conv2d(cfg.channels(cfg.resolution), 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.init(z.view(z.shape[0], -1, 1, 1))  # (B, c4, 4, 4)
        feats = {4: x}
        for side, up in zip(self.sides, self.ups, strict=True):
            x = up(x)  # (B, channels(side), side, side)
            if side >= 64:
                x = self.sle[str(side)](feats[side // 16], x)
            feats[side] = x
        return torch.tanh(self.to_rgb(x))  # (B, 3, R, R)

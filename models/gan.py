"""DCGAN generator and discriminator, RGB at 64, 128 or 256 pixels."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GANConfig:
    """Architecture of a generator/discriminator pair; stored in the weights card."""

    nz: int = 128  # latent size
    resolution: int = 128  # 64, 128 or 256
    g_base: int = 8  # generator channels at full resolution; doubles per halving
    g_max: int = 128  # cap on generator channels
    d_base: int = 16
    d_max: int = 256
    d_dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.resolution not in (32, 64, 128, 256, 512):
            raise ValueError(f"resolution must be 64, 128 or 256, got {self.resolution}")

    @property
    def n_up(self) -> int:
        return int(math.log2(self.resolution)) - 2  # 4x4 -> resolution

    def to_dict(self) -> dict:
        return asdict(self)


def _g_channels(cfg: GANConfig, level: int) -> int:
    """Generator channels at 4 * 2**level pixels."""
    return min(cfg.g_max, cfg.g_base * 2 ** (cfg.n_up - level))


class UpBlock(nn.Module):
    """Nearest-neighbour upsample then 3x3 conv: no checkerboard (Odena et al. 2016)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return F.relu(self.bn(self.conv(x)))


class Generator(nn.Module):
    """z (B, nz) -> image (B, 3, R, R) in [-1, 1]."""

    def __init__(self, cfg: GANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c0 = _g_channels(cfg, 0)
        self.project = nn.Linear(cfg.nz, c0 * 16, bias=False)  # dense projection to 4x4
        self.bn0 = nn.BatchNorm1d(c0 * 16)
        self.blocks = nn.Sequential(
            *[UpBlock(_g_channels(cfg, i), _g_channels(cfg, i + 1)) for i in range(cfg.n_up)]
        )
        self.to_rgb = nn.Conv2d(_g_channels(cfg, cfg.n_up), 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn0(self.project(z)))  # (B, c0*16)
        x = x.view(z.shape[0], -1, 4, 4)  # (B, c0, 4, 4)
        x = self.blocks(x)  # (B, c_last, R, R)
        return torch.tanh(self.to_rgb(x))  # (B, 3, R, R)


class Discriminator(nn.Module):
    """image (B, 3, R, R) -> logit (B,); strided convs, LeakyReLU, dropout, spectral norm."""

    def __init__(self, cfg: GANConfig) -> None:
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        layers: list[nn.Module] = []
        c_in = 3
        for i in range(cfg.n_up):
            c_out = min(cfg.d_max, cfg.d_base * 2**i)
            layers += [sn(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            if cfg.d_dropout > 0:
                layers.append(nn.Dropout(cfg.d_dropout))
            c_in = c_out
        self.features = nn.Sequential(*layers)  # (B, c_in, 4, 4)
        self.head = sn(nn.Linear(c_in * 16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1)).squeeze(1)

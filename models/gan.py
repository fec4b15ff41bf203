"""DCGAN generator and discriminator, RGB at 64, 128 or 256 pixels; the generators by name.

`build_generator(arch)` makes the generator an arch dict (a weights card's "arch") names:
no "arch" key, or "dcgan", is the DCGAN below; "fastgan" is models/fastgan.py.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

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


# Nearest-neighbour 2x upsampling then a 3x3 conv equals, for each of the four output
# phases (row parity a, column parity b), a 2x2 conv on the small input whose taps are
# sums of the 3x3 taps: rows (k0 | k1+k2) for a=0 and (k0+k1 | k2) for a=1.
_PHASE = (torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]),
          torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))


class UpBlock(nn.Module):
    """Nearest-neighbour upsample then 3x3 conv: no checkerboard (Odena et al. 2016)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self._fused: tuple | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training and not torch.is_grad_enabled():
            return self._fast(x)
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return F.relu(self.bn(self.conv(x)))

    def _bn(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The BatchNorm's weight, bias, running mean and variance (all there: affine, tracked)."""
        bn = self.bn
        w, b, mean, var = bn.weight, bn.bias, bn.running_mean, bn.running_var
        if w is None or b is None or mean is None or var is None:
            raise RuntimeError("UpBlock needs an affine BatchNorm that tracks running statistics")
        return w, b, mean, var

    def _key(self) -> tuple:
        ts = (self.conv.weight, *self._bn())
        # Inference tensors (made under inference_mode, as on the engine thread) keep no version.
        return tuple((t.data_ptr(), 0 if t.is_inference() else t._version) for t in ts)

    def _fast(self, x: torch.Tensor) -> torch.Tensor:
        """Inference: four 2x2 phase convs with BatchNorm folded in, then interleave.

        Same maths in 16/36 of the multiply-adds and without the upsampled copy: about
        twice the frames per second at batch 1 on a CPU. Rebuilt whenever a weight changes.
        """
        key = self._key()
        if self._fused is None or self._fused[0] != key:
            bn_w, bn_b, mean, var = self._bn()
            scale = bn_w / torch.sqrt(var + self.bn.eps)
            w = self.conv.weight * scale[:, None, None, None]
            r = [m.to(w) for m in _PHASE]
            ks = [torch.einsum("pk,oikl,ql->oipq", r[a], w, r[b]).contiguous()
                  for a in (0, 1) for b in (0, 1)]
            # One conv with the four phases as output groups: a single large conv on a
            # contiguous input is much faster on the CPU than four on strided windows.
            self._fused = (key, torch.cat(ks, 0), (bn_b - mean * scale)[None, :, None, None])
        _, k_all, shift = self._fused
        h, w_ = x.shape[-2:]
        c = k_all.shape[0] // 4
        out = F.conv2d(F.pad(x, [1, 1, 1, 1]), k_all)  # (B, 4C, H+1, W+1)
        ys = [out[:, (2 * a + b) * c : (2 * a + b + 1) * c, a : a + h, b : b + w_]
              for a in (0, 1) for b in (0, 1)]  # phase (a, b): each (B, C, H, W)
        y = F.pixel_shuffle(torch.stack(ys, 2).flatten(1, 2), 2)  # (B, C, 2H, 2W)
        return F.relu(y + shift)


class ImageGenerator(nn.Module):
    """What every generator is: z (B, cfg.nz) -> image (B, 3, R, R) in [-1, 1], R = cfg.resolution."""

    cfg: GANConfig


ARCHS = ("dcgan", "fastgan")


def gan_config(arch: dict[str, Any]) -> GANConfig:
    """The config of the generator an arch dict names (its "arch" key; DCGAN without one)."""
    name = arch.get("arch", "dcgan")
    if name == "dcgan":
        return GANConfig(**{k: v for k, v in arch.items() if k != "arch"})
    if name == "fastgan":
        from models.fastgan import FastGANConfig

        return FastGANConfig(**arch)
    raise ValueError(f"unknown GAN architecture {name!r} (expected one of {', '.join(ARCHS)})")


def build_generator(arch: dict[str, Any] | GANConfig) -> ImageGenerator:
    """An untrained generator from an arch dict or a config."""
    cfg = arch if isinstance(arch, GANConfig) else gan_config(arch)
    if getattr(cfg, "arch", "dcgan") == "fastgan":
        from models.fastgan import FastGANConfig, FastGenerator

        assert isinstance(cfg, FastGANConfig)
        return FastGenerator(cfg)
    return Generator(cfg)


class Generator(ImageGenerator):
    """DCGAN: z (B, nz) -> image (B, 3, R, R) in [-1, 1]."""

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


def calibrate_batchnorm(model: Generator, batches: int = 4) -> Generator:
    """Give an untrained generator the batch-norm statistics of its own activations.

    With the initial running stats (mean 0, var 1) an untrained DCGAN draws one flat colour;
    calibrated, it draws the structured noise an untrained network really makes.
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(32, model.cfg.nz, device=model.project.weight.device))
    for m in norms:
        m.momentum = 0.1
    return model.eval()


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

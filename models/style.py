"""A feed-forward style network conditional on several styles at once.

Johnson et al. 2016 (an image-transformation network trained with a perceptual loss) with the
conditional instance normalisation of Dumoulin et al. 2017 ("A Learned Representation for
Artistic Style"): every convolution is shared by the styles, and each normalisation layer keeps
one scale and shift per style. A mix vector over the styles blends those parameters, so the
picture morphs continuously from one style to another. Narrow and depthwise-separable layers
keep a 256 px frame within a CPU thread's budget; the network is fully convolutional, so it
runs at any size (sides are padded to a multiple of 4 and cropped back). Full-resolution work is only a
pixel (un)shuffle: the network sees each 2x2 block of pixels as 12 channels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

MULTIPLE = 4  # two stride-2 stages: sides are padded to a multiple of this


@dataclass
class StyleConfig:
    """Sizes of the style network and the names of its styles (one norm table each)."""

    styles: list[str] = field(default_factory=lambda: ["a", "b"])
    channels: tuple[int, int] = (32, 64)  # at half and at quarter resolution
    blocks: int = 3  # depthwise-separable residual blocks at quarter resolution

    def __post_init__(self) -> None:
        self.styles = [str(s) for s in self.styles]
        self.channels = tuple(int(c) for c in self.channels)  # type: ignore[assignment]
        if not self.styles or len(set(self.styles)) != len(self.styles):
            raise ValueError(f"styles must be distinct names, at least one: {self.styles}")
        if len(self.channels) != 2 or min(self.channels) < 1:
            raise ValueError(f"channels must be two positive widths: {self.channels}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"channels": list(self.channels)}


class CondInstanceNorm(nn.Module):
    """Instance norm whose scale and shift are a mix of per-style rows: (B, C, H, W), (B, S)."""

    def __init__(self, channels: int, styles: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(styles, channels))
        self.beta = nn.Parameter(torch.zeros(styles, channels))

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        gamma = (mix @ self.gamma).reshape(b * c)  # (B*C,): each sample's own scale
        beta = (mix @ self.beta).reshape(b * c)
        # Instance norm as one batch norm over (1, B*C, H, W), the affine step fused into it.
        out = F.batch_norm(x.reshape(1, b * c, h, w), None, None, gamma, beta, True, 0.0, 1e-5)
        return out.reshape(b, c, h, w)


class SeparableConv(nn.Module):
    """A depthwise 3x3 then a pointwise 1x1: (B, c_in, H, W) -> (B, c_out, H, W)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(c_in, c_in, 3, padding=1, groups=c_in)
        self.pointwise = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class ResidualBlock(nn.Module):
    """Two separable convolutions with conditional norms, added to the input: (B, C, H, W)."""

    def __init__(self, channels: int, styles: int) -> None:
        super().__init__()
        self.conv1 = SeparableConv(channels, channels)
        self.norm1 = CondInstanceNorm(channels, styles)
        self.conv2 = SeparableConv(channels, channels)
        self.norm2 = CondInstanceNorm(channels, styles)

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.norm1(self.conv1(x), mix))
        return x + self.norm2(self.conv2(h), mix)


class StyleNet(nn.Module):
    """(B, 3, H, W) in [-1, 1] and a mix (B, S) summing to 1 -> (B, 3, H, W) in [-1, 1]."""

    def __init__(self, cfg: StyleConfig) -> None:
        super().__init__()
        self.cfg = cfg
        s = len(cfg.styles)
        c2, c3 = cfg.channels
        self.head = nn.Conv2d(3 * 4, c2, 3, padding=1, padding_mode="reflect")
        self.head_norm = CondInstanceNorm(c2, s)
        self.down = nn.Conv2d(c2, c3, 3, stride=2, padding=1)
        self.down_norm = CondInstanceNorm(c3, s)
        self.blocks = nn.ModuleList(ResidualBlock(c3, s) for _ in range(cfg.blocks))
        self.up = SeparableConv(c3, c2)
        self.up_norm = CondInstanceNorm(c2, s)
        self.tail = nn.Conv2d(c2, 3 * 4, 3, padding=1, padding_mode="reflect")

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        h = F.pixel_unshuffle(x, 2)  # (B, 12, H/2, W/2): each 2x2 block of pixels as channels
        h = F.relu(self.head_norm(self.head(h), mix))  # (B, c2, H/2, W/2)
        h = F.relu(self.down_norm(self.down(h), mix))  # (B, c3, H/4, W/4)
        for block in self.blocks:
            h = block(h, mix)  # (B, c3, H/4, W/4)
        h = F.interpolate(h, scale_factor=2, mode="nearest")  # (B, c3, H/2, W/2)
        h = F.relu(self.up_norm(self.up(h), mix))  # (B, c2, H/2, W/2)
        return torch.tanh(F.pixel_shuffle(self.tail(h), 2))  # (B, 12, H/2, W/2) -> (B, 3, H, W)


def normalise_mix(weights: Sequence[float], styles: int) -> list[float]:
    """Weights over the styles scaled to sum to 1; ValueError for a wrong length, a negative
    weight or all zeros."""
    w = [float(v) for v in weights]
    if len(w) != styles:
        raise ValueError(f"a mix of {len(w)} weights refused, expected {styles} (one per style)")
    if any(v < 0 for v in w):
        raise ValueError(f"a mix with a negative weight refused: {w}")
    total = sum(w)
    if total <= 0:
        raise ValueError("a mix of all zeros refused: at least one style needs a weight above 0")
    return [v / total for v in w]


def one_hot(index: int, styles: int) -> list[float]:
    """The mix of one style."""
    return [1.0 if i == index else 0.0 for i in range(styles)]


def stylise(model: StyleNet, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [-1, 1] of any size: padded to a multiple of 4, styled, cropped back."""
    h, w = x.shape[-2:]
    ph, pw = -h % MULTIPLE, -w % MULTIPLE
    if ph or pw:
        mode = "reflect" if h > ph and w > pw else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return model(x, mix)[..., :h, :w]


@torch.no_grad()
def stylise_pixels(model: StyleNet, pixels: torch.Tensor, mix: torch.Tensor,
                   strength: torch.Tensor | float = 1.0) -> torch.Tensor:
    """(B, H, W, 3) uint8 and (B, S) mixes -> (B, H, W, 3) uint8, blended with the input by
    strength (a float or (B,)): 0 the input, 1 the style."""
    x = pixels.permute(0, 3, 1, 2).float().div(127.5).sub(1)  # (B, 3, H, W)
    y = stylise(model, x, mix.to(x))
    k = torch.as_tensor(strength, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1)
    y = x + (y - x) * k
    return y.add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)

"""Feature networks for the style loss, and the loss itself (Gram matrices, content, Gatys).

Nothing here is downloaded. `random` is a multi-scale network of fixed random filters (a
seed makes it, so it needs no file): random-weight convolutions carry the statistics that
texture synthesis needs (Ustyuzhaninov et al. 2017). `vgg19:PATH` reads a VGG-19 whose
weights the user already has, converted to safetensors (docs/models.md says how).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file


class RandomFeatures(nn.Module):
    """Fixed random 3x3 filters in stages, each after a 2x average pool: (B, 3, H, W) in
    [-1, 1] -> one (B, C_i, H / 2^i, W / 2^i) map per stage. Receptive fields of 3 to ~40 px."""

    def __init__(self, widths: Sequence[int] = (48, 96, 192, 256), seed: int = 0,
                 content_stage: int = 1) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.widths = tuple(int(w) for w in widths)
        self.content_index = content_stage
        self.convs = nn.ModuleList()
        c_in = 3
        for w in self.widths:
            conv = nn.Conv2d(c_in, w, 3, padding=1, padding_mode="reflect")
            with torch.no_grad():
                weight = torch.randn(conv.weight.shape, generator=gen)
                weight -= weight.mean(dim=(1, 2, 3), keepdim=True)  # no response to flat colour
                conv.weight.copy_(weight * (2.0 / (c_in * 9)) ** 0.5)  # He: unit-ish activations
                assert conv.bias is not None
                conv.bias.copy_(torch.randn(w, generator=gen) * 0.1)
            self.convs.append(conv)
            c_in = w
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        h = x
        for i, conv in enumerate(self.convs):
            if i:
                h = F.avg_pool2d(h, 2)  # (B, C, H/2^i, W/2^i)
            h = F.relu(conv(h))
            out.append(h)
        return out


# torchvision's vgg19().features: conv indices and the ReLUs whose outputs are used.
VGG19_CONVS = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
VGG19_POOLS = (4, 9, 18, 27)
VGG19_STYLE = (1, 6, 11, 20)  # relu1_1, relu2_1, relu3_1, relu4_1
VGG19_CONTENT = 8  # relu2_2
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGFeatures(nn.Module):
    """A user's VGG-19 (torchvision layout, in safetensors) up to relu4_1: the four style maps
    and relu2_2 for content, in that order ((B, 3, H, W) in [-1, 1] in)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        p = Path(path)
        try:
            state = load_file(str(p))
        except (SafetensorError, OSError, ValueError) as e:
            raise ValueError(f"VGG-19 weights {p} unreadable: {e}") from None
        layers: list[nn.Module] = []
        c_in = 3
        for i in range(max(VGG19_STYLE) + 1):
            if i in VGG19_CONVS:
                w = state.get(f"features.{i}.weight")
                if w is None or w.ndim != 4 or w.shape[1] != c_in:
                    raise ValueError(f"{p} is not a torchvision VGG-19 state dict: features.{i}."
                                     "weight missing or of the wrong shape")
                conv = nn.Conv2d(c_in, w.shape[0], 3, padding=1)
                conv.weight.data.copy_(w)
                assert conv.bias is not None
                conv.bias.data.copy_(state[f"features.{i}.bias"])
                layers.append(conv)
                c_in = w.shape[0]
            elif i in VGG19_POOLS:
                layers.append(nn.MaxPool2d(2))
            else:
                layers.append(nn.ReLU())
        self.layers = nn.Sequential(*layers)
        self.content_index = len(VGG19_STYLE)  # after the style maps
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = ((x + 1) / 2 - self.mean) / self.std
        style, content = [], h
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i in VGG19_STYLE:
                style.append(h)
            if i == VGG19_CONTENT:
                content = h
        return [*style, content]


def trained_features(path: str | Path) -> RandomFeatures:
    """The random net's architecture with weights we trained (models/style_feature_train.py)."""
    net = RandomFeatures()
    try:
        net.load_state_dict(load_file(str(path)))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise ValueError(f"trained feature net {path} unreadable: {str(e).splitlines()[0]}") from None
    return net.requires_grad_(False).eval()


def feature_net(spec: str) -> nn.Module:
    """`random`, `random:SEED`, `trained:PATH` or `vgg19:PATH`; ValueError for anything else."""
    kind, _, arg = spec.partition(":")
    if kind == "random":
        return RandomFeatures(seed=int(arg or 0))
    if kind == "trained" and arg:
        return trained_features(arg)
    if kind == "vgg19" and arg:
        return VGGFeatures(arg)
    raise ValueError(f"feature network {spec!r} unknown: expected random, random:SEED, "
                     "trained:PATH (models/style_feature_train.py) or vgg19:PATH (a safetensors "
                     "file of torchvision's VGG-19)")


def style_maps(features: nn.Module, maps: list[torch.Tensor]) -> list[torch.Tensor]:
    """The maps the style loss uses (all of a random net; VGG's first four)."""
    return maps[:4] if isinstance(features, VGGFeatures) else maps


def gram(f: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, C), averaged over positions."""
    b, c, h, w = f.shape
    flat = f.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w)


def style_loss(grams: list[torch.Tensor], targets: list[torch.Tensor]) -> torch.Tensor:
    """Per sample (B,): the squared Gram error of each map relative to its target's size, summed."""
    total = grams[0].new_zeros(grams[0].shape[0])
    for g, t in zip(grams, targets, strict=True):
        total = total + (g - t).pow(2).sum((1, 2)) / t.pow(2).sum((1, 2)).clamp_min(1e-8)
    return total


def content_loss(f: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per sample (B,): the squared feature error relative to the target's size."""
    return (f - target).pow(2).sum((1, 2, 3)) / target.pow(2).sum((1, 2, 3)).clamp_min(1e-8)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Per sample (B,): mean absolute difference of neighbouring pixels."""
    return ((x[..., 1:, :] - x[..., :-1, :]).abs().mean((1, 2, 3))
            + (x[..., :, 1:] - x[..., :, :-1]).abs().mean((1, 2, 3)))


class PerceptualLoss:
    """Style and content losses of images against per-sample style Grams and content images."""

    def __init__(self, features: nn.Module, style_weight: float = 1.0,
                 content_weight: float = 1.0, tv_weight: float = 0.0) -> None:
        self.features = features
        self.style_weight, self.content_weight, self.tv_weight = style_weight, content_weight, tv_weight

    def style_grams(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The Gram matrices of an image batch (the style targets of style images)."""
        with torch.no_grad():
            return [gram(f) for f in style_maps(self.features, self.features(x))]

    def parts(self, y: torch.Tensor, content: torch.Tensor,
              targets: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(style, content, tv) per sample for outputs y, their inputs and (B, C, C) targets."""
        k = self.features.content_index
        with torch.no_grad():
            content_target = self.features(content)[k]
        maps = self.features(y)
        grams = [gram(f) for f in style_maps(self.features, maps)]
        return style_loss(grams, targets), content_loss(maps[k], content_target), total_variation(y)

    def total(self, y: torch.Tensor, content: torch.Tensor,
              targets: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """The weighted loss (a scalar) and its parts' means."""
        s, c, tv = self.parts(y, content, targets)
        loss = (self.style_weight * s + self.content_weight * c + self.tv_weight * tv).mean()
        return loss, {"style": s.mean().item(), "content": c.mean().item(), "tv": tv.mean().item()}


def gatys(loss: PerceptualLoss, content: torch.Tensor, targets: list[torch.Tensor],
          steps: int = 100, lr: float = 0.03) -> torch.Tensor:
    """Optimisation-based transfer (Gatys et al. 2016): the pixels themselves, from the content
    image, minimising the same loss by Adam; (B, 3, H, W) in [-1, 1] out."""
    x = content.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        value, _ = loss.total(x, content, targets)
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(-1, 1)
    return x.detach()

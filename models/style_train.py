"""Training the conditional style network: style images, content crops, the perceptual loss.

    python -m models.train style --styles models/data/styles --content data/clipart --name styles

Each step styles a batch of content crops, every crop in one style drawn at random (a one-hot
mix, as Dumoulin et al. train), against the Gram matrices of that style image under a fixed
feature network. The card's figures are style and content losses on held-out content images
for the input itself, for the network and for a Gatys optimisation on the same feature net.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from models.images import SUFFIXES, CropSampler, ImageSet, licence_summary, load_images, read_manifest
from models.jobs import Job
from models.style import StyleConfig, StyleNet, one_hot
from models.style_features import PerceptualLoss, feature_net, gatys

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STYLES = ROOT / "models" / "data" / "styles"
DEFAULT_CONTENT = ROOT / "data" / "clipart"  # python -m models.data images --from openclipart-png
STYLE_SIDE = 256  # style images are seen with their longest side at most this
# Training settings that are not the network's shape (given as --arch KEY=VALUE too).
LOSS_DEFAULTS: dict[str, Any] = {"style_weight": 1.0, "content_weight": 0.3, "tv_weight": 0.05,
                                 "crop": 128, "features": "random"}


def load_styles(folder: Path) -> tuple[list[str], list[torch.Tensor], dict[str, Any]]:
    """(names, images each (1, 3, H, W) in [-1, 1], what the card records) of a style folder."""
    from PIL import Image

    if not folder.is_dir():
        raise FileNotFoundError(f"style folder not found: {folder}")
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in SUFFIXES)
    if not files:
        raise ValueError(f"no style images in {folder}")
    names, images, records = [], [], []
    for f in files:
        with Image.open(f) as im:
            rgb = im.convert("RGB")
        rgb.thumbnail((STYLE_SIDE, STYLE_SIDE), Image.Resampling.LANCZOS)
        x = torch.frombuffer(bytearray(rgb.tobytes()), dtype=torch.uint8)
        images.append(x.view(rgb.size[1], rgb.size[0], 3).permute(2, 0, 1)[None].float() / 127.5 - 1)
        names.append(f.stem)
        records.append({"name": f.stem, "file": f.name,
                        "sha256": hashlib.sha256(f.read_bytes()).hexdigest()})
    manifest = folder / "manifest.json"
    info: dict[str, Any] = {"folder": str(folder), "images": records}
    if manifest.is_file():
        known = {e.get("file"): e for e in json.loads(manifest.read_text()).get("styles", [])}
        for r in records:
            r.update({k: v for k, v in known.get(r["file"], {}).items()
                      if k in ("source", "package", "package_version", "licence", "made_by")})
    return names, images, info


def content_images(spec: str | None, every: int = 8) -> ImageSet:
    """The content set: a folder (or 'skimage'); by default every 8th image of data/clipart and
    the scikit-image photographs, or the photographs alone where data/clipart is not built."""
    if spec:
        return load_images(spec)
    photos = load_images("skimage")
    if not DEFAULT_CONTENT.is_dir():
        return photos
    files = sorted(f for f in DEFAULT_CONTENT.rglob("*") if f.suffix.lower() in SUFFIXES)[::every]
    art = [_read(f) for f in files]
    return ImageSet(photos.images + art, photos.names + [f.name for f in files], photos.skipped,
                    f"skimage + every {every}th image of {DEFAULT_CONTENT.relative_to(ROOT)}", 0.5,
                    read_manifest(DEFAULT_CONTENT))


def _read(path: Path) -> torch.Tensor:
    """(3, H, W) uint8 of an image file."""
    from PIL import Image

    with Image.open(path) as im:
        rgb = im.convert("RGB")
    x = torch.frombuffer(bytearray(rgb.tobytes()), dtype=torch.uint8)
    return x.view(rgb.size[1], rgb.size[0], 3).permute(2, 0, 1).contiguous()


def split_content(ims: ImageSet, every: int = 10) -> tuple[ImageSet, ImageSet]:
    """(training, held-out): every `every`-th image in order held out (a tiny set: both all)."""
    n = len(ims.images)
    held = [i for i in range(n) if i % every == every - 1]
    train = [i for i in range(n) if i % every != every - 1]
    if not held or not train:
        held = train = list(range(n))

    def part(idx: list[int]) -> ImageSet:
        return ImageSet([ims.images[i] for i in idx], [ims.names[i] for i in idx], ims.skipped,
                        ims.source, ims.crop_min, ims.manifest)
    return part(train), part(held)


class StyleJob(Job):
    """The conditional style network (models/style.py) against a fixed feature network."""

    default_steps = 4000
    main_loss = "loss"

    def __init__(self, args: argparse.Namespace, device: torch.device,
                 arch_over: dict[str, Any]) -> None:
        super().__init__(args, device, arch_over)
        settings = {k: arch_over.pop(k, v) for k, v in LOSS_DEFAULTS.items()}
        if getattr(args, "features", None):
            settings["features"] = args.features
        self.settings = settings
        names, images, style_info = load_styles(Path(getattr(args, "styles", None) or DEFAULT_STYLES))
        self.model = StyleNet(StyleConfig(styles=names, **arch_over)).to(device)
        self.arch = self.model.cfg.to_dict()
        self.best = copy.deepcopy(self.model)
        self.features = feature_net(str(settings["features"])).to(device)
        self.loss = PerceptualLoss(self.features, float(settings["style_weight"]),
                                   float(settings["content_weight"]), float(settings["tv_weight"]))
        self.targets = [self.loss.style_grams(im.to(device)) for im in images]  # per style
        ims = content_images(getattr(args, "content", None))
        self.train_ims, self.held_ims = split_content(ims)
        self.crop = int(settings["crop"])
        self.crops = CropSampler(self.train_ims, self.crop, device)
        self.batch = args.batch or 4
        self.lr = args.lr or 2e-3
        self.opts = {"opt": torch.optim.Adam(self.model.parameters(), lr=self.lr)}
        self.modules = {"model": self.model, "best": self.best}
        val_gen = torch.Generator().manual_seed(20_003)
        self.val = CropSampler(self.held_ims, self.crop, device).sample(8, val_gen)
        self.val_styles = [i % len(names) for i in range(len(self.val))]
        self.data_info = {
            "styles": style_info, "content": {
                "source": ims.source, "images": len(self.train_ims.names),
                "held_out_images": len(self.held_ims.names), "split": "every 10th image held out",
                "crops": f"random {self.crop} px squares, h-flip", "licence": licence_summary(ims)},
            "loss": settings}

    def _targets(self, styles: list[int]) -> list[torch.Tensor]:
        """Per-sample Gram targets (B, C, C) for each feature map."""
        return [torch.cat([self.targets[s][k] for s in styles])
                for k in range(len(self.targets[0]))]

    def _mix(self, styles: list[int]) -> torch.Tensor:
        n = len(self.model.cfg.styles)
        return torch.tensor([one_hot(s, n) for s in styles], device=self.device)

    def step(self) -> dict[str, float]:
        self.model.train()
        x = self.crops.sample(self.batch, self.gen).to(self.device)
        n = len(self.model.cfg.styles)
        styles = torch.randint(n, (self.batch,), generator=self.gen).tolist()
        y = self.model(x, self._mix(styles))
        loss, parts = self.loss.total(y, x, self._targets(styles))
        self.opts["opt"].zero_grad(set_to_none=True)
        loss.backward()
        self.opts["opt"].step()
        return {"loss": loss.item(), "style": parts["style"], "content": parts["content"]}

    def validate(self) -> float:
        self.model.eval()
        with torch.no_grad():
            y = self.model(self.val, self._mix(self.val_styles))
            loss, _ = self.loss.total(y, self.val, self._targets(self.val_styles))
        return loss.item()

    def keep_best(self) -> None:
        self.best.load_state_dict(self.model.state_dict())

    def restore_best(self) -> None:
        self.model.load_state_dict(self.best.state_dict())

    def evaluate(self) -> dict[str, Any]:
        quick = getattr(self.args, "eval_quick", False)
        return style_figures(self.model, self.loss, self.targets, self.held_ims, self.device,
                             images=2 if quick else 6, side=self.crop,
                             gatys_steps=10 if quick else 100)

    def export(self) -> nn.Module:
        return self.model.eval()


def style_figures(model: StyleNet, loss: PerceptualLoss, targets: list[list[torch.Tensor]],
                  held: ImageSet, device: torch.device, images: int = 8, side: int = 128,
                  gatys_steps: int = 150) -> dict[str, Any]:
    """Style and content loss on held-out images, per style, for the input itself, the network
    and Gatys (the same loss minimised over the pixels), and the share of the input's style loss
    the network removes relative to what Gatys removes."""
    x = CropSampler(held, side, device).sample(images, torch.Generator().manual_seed(20_004))
    per_style: dict[str, Any] = {}
    model.eval()
    for s, name in enumerate(model.cfg.styles):
        t = [g.expand(len(x), -1, -1) for g in targets[s]]
        with torch.no_grad():
            ours = model(x, torch.tensor([one_hot(s, len(targets))] * len(x), device=device))
        painted = gatys(loss, x, t, steps=gatys_steps)
        row: dict[str, Any] = {}
        for label, y in (("input", x), ("network", ours), ("gatys", painted)):
            with torch.no_grad():
                st, co, _ = loss.parts(y, x, t)
            row[label] = {"style": round(st.mean().item(), 4), "content": round(co.mean().item(), 4)}
        gap = row["input"]["style"] - row["gatys"]["style"]
        row["style_gap_closed"] = round((row["input"]["style"] - row["network"]["style"]) / gap, 3) \
            if gap > 0 else None
        per_style[name] = row
    mean = {label: {k: round(sum(r[label][k] for r in per_style.values()) / len(per_style), 4)
                    for k in ("style", "content")} for label in ("input", "network", "gatys")}
    closed = [r["style_gap_closed"] for r in per_style.values() if r["style_gap_closed"] is not None]
    return {"per_style": per_style, "mean": mean,
            "style_gap_closed": round(sum(closed) / len(closed), 3) if closed else None,
            "held_out_images": images, "side": side, "gatys_steps": gatys_steps,
            "units": "style: sum over feature maps of |G(y)-G(style)|^2 / |G(style)|^2; content: "
                     "|F(y)-F(x)|^2 / |F(x)|^2 at the content map"}

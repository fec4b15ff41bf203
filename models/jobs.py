"""What each kind trains: data, networks, optimizers, one step, held-out figures, export."""

from __future__ import annotations

import argparse
import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from models import metrics
from models.datasets import TINYSHAKESPEARE, verify
from models.diffaug import diff_augment
from models.gan import Discriminator, build_generator, gan_config
from models.images import CropSampler, ImageSet, licence_summary, load_images
from models.music_data import DEFAULT_CACHE, LICENCE_NOTE, encode_notes, ensure_cache, load_corpus
from models.music_rnn import MusicConfig, MusicRNN
from models.strokes import START, StrokeConfig, StrokeRNN, point_nll
from models.text_rnn import TextConfig, TextRNN
from models.upscale import UpscaleConfig, Upscaler, downscale, psnr

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEXT = TINYSHAKESPEARE  # ships in the repository: models/data/README.md


def clipped_step(opt: torch.optim.Optimizer, loss: torch.Tensor, model: nn.Module) -> float:
    """One optimiser step on loss with the gradient norm clipped to 1 (the RNN jobs)."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss.item()

class Job:
    """One kind of training run; train.py drives it."""

    default_steps = 1000
    main_loss = "loss"
    modules: dict[str, nn.Module]
    opts: dict[str, torch.optim.Optimizer]
    arch: dict[str, Any]
    data_info: dict[str, Any]
    lr: float
    batch: int

    def __init__(self, args: argparse.Namespace, device: torch.device,
                 arch_over: dict[str, Any]) -> None:
        self.args = args
        self.device = device
        self.gen = torch.Generator().manual_seed(args.seed)  # data order; saved in checkpoints

    def step(self) -> dict[str, float]:
        """One optimiser step; the losses by name (main_loss among them)."""
        raise NotImplementedError

    def validate(self) -> float | None:
        """A quick held-out loss for picking the best weights; None where it means nothing."""
        return None

    def keep_best(self) -> None:
        """Remember the current weights as the best (only called when validate gives a loss)."""
        raise NotImplementedError

    def restore_best(self) -> None:
        """Go back to the weights keep_best remembered."""
        raise NotImplementedError

    def evaluate(self) -> dict[str, Any]:
        """The held-out figures that go into the card."""
        raise NotImplementedError

    def export(self) -> nn.Module:
        """The network that ships, in eval mode."""
        raise NotImplementedError


class RNNJob(Job):
    """The text and music jobs: one LSTM, validated, whose best weights are kept."""

    model: nn.Module
    best: nn.Module  # a copy holding the weights of the best validation so far

    def keep_best(self) -> None:
        """Copy the current weights into best."""
        self.best.load_state_dict(self.model.state_dict())

    def restore_best(self) -> None:
        """Copy best back into the model."""
        self.model.load_state_dict(self.best.state_dict())

    def export(self) -> nn.Module:
        """The LSTM in eval mode."""
        return self.model.eval()


def read_text(path: str | Path) -> str:
    """The characters of a UTF-8 text file (at least 64); the shipped file is checksummed first."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"text file not found: {p}")
    verify(p)
    text = p.read_text(encoding="utf-8", errors="replace")
    if not text:
        raise ValueError(f"text file {p} has no characters")
    if len(text) < 64:
        raise ValueError(f"text file {p} has only {len(text)} characters (need at least 64)")
    return text


def init_text_model(name: str | None, text: str, arch_over: dict[str, Any]) -> TextRNN | None:
    """The shipped text model NAME to fine-tune (its arch, dropout etc. overridable), or None."""
    if not name:
        return None
    from models import weights

    base, card = weights.load(name)
    if card.get("kind") != "text":
        raise ValueError(f"--init {name}: a {card.get('kind')} model, not a text one")
    missing = sorted(set(text) - set(card["arch"]["vocab"]))
    if missing:
        raise ValueError(f"--init {name}: the data has characters the model lacks: {missing[:10]}")
    model = TextRNN(TextConfig(**(card["arch"] | arch_over)))
    model.load_state_dict(base.state_dict())
    return model


def text_manifest(path: Path) -> dict[str, Any]:
    """Source, licence and sha256 from a built corpus's manifest.json beside the text, if any."""
    man = path.parent / "manifest.json"
    if not man.is_file():
        return {}
    m = json.loads(man.read_text())
    return {"licence": m.get("licence", "see the manifest"), "sha256": m.get("sha256"),
            "sources": [{k: s.get(k) for k in ("file", "package", "sha256", "poems_kept")}
                        for s in m.get("sources", [])], "built_by": m.get("command")}


class TextJob(RNNJob):
    """Character LSTM on a text file: first 90% train, last 10% validation."""

    default_steps = 6000
    model: TextRNN

    def __init__(self, args: argparse.Namespace, device: torch.device,
                 arch_over: dict[str, Any]) -> None:
        super().__init__(args, device, arch_over)
        path = Path(args.data) if args.data else DEFAULT_TEXT
        text = read_text(path)
        vocab = "".join(sorted(set(text)))
        arch: dict[str, Any] = dict(vocab=vocab, n_embd=64, hidden=640, layers=2, dropout=0.25) | arch_over
        base = init_text_model(getattr(args, "init", None), text, arch_over)
        self.model = base if base is not None else TextRNN(TextConfig(**arch))
        self.model.to(device)
        self.arch = self.model.cfg.to_dict()
        ids = torch.tensor(self.model.encode(text), dtype=torch.long)
        n = int(0.9 * len(ids))  # tinyshakespeare convention: first 90% train, last 10% val
        self.train_ids, self.val_ids = ids[:n], ids[n:]
        self.seq = args.seq or 256
        self.batch = args.batch or 64
        if len(self.train_ids) <= self.seq + 1:
            self.seq = max(8, len(self.train_ids) // 2)
        self.lr = args.lr or 2e-3
        self.opts = {"opt": torch.optim.AdamW(self.model.parameters(), lr=self.lr,
                                              betas=(0.9, 0.99), weight_decay=0.01)}
        self.best = copy.deepcopy(self.model)  # weights at the best validation so far
        self.modules = {"model": self.model, "best": self.best}
        self.data_info = {"path": str(path), "chars": len(text), "vocab": len(vocab),
                          "split": "first 90% train, last 10% validation",
                          "licence": "tinyshakespeare: public domain" if "shakespeare" in
                          path.name else "see the source of the text"} | text_manifest(path)
        if base is not None:
            self.data_info["fine_tuned_from"] = args.init

    def step(self):
        self.model.train()
        hi = len(self.train_ids) - self.seq - 1
        off = torch.randint(0, hi + 1, (self.batch,), generator=self.gen)
        idx = off[:, None] + torch.arange(self.seq + 1)
        chunk = self.train_ids[idx].to(self.device, non_blocking=True)  # (B, T+1)
        logits, _ = self.model(chunk[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), chunk[:, 1:].flatten())
        return {"loss": clipped_step(self.opts["opt"], loss, self.model)}

    def validate(self):
        n = len(self.val_ids) if self.device.type == "cuda" else 20_000  # CPU: a prefix
        return metrics.text_nats_per_char(self.model, self.val_ids[:n], self.device)

    def evaluate(self) -> dict[str, Any]:
        return metrics.text_metrics(self.model, self.train_ids, self.val_ids, self.device)


class MusicJob(RNNJob):
    """Performance-event LSTM on the note cache; without --data the full cache is built once."""

    default_steps = 6000
    model: MusicRNN

    def __init__(self, args: argparse.Namespace, device: torch.device,
                 arch_over: dict[str, Any]) -> None:
        super().__init__(args, device, arch_over)
        path = Path(args.data) if args.data else ensure_cache(
            DEFAULT_CACHE, progress=not getattr(args, "quiet", False))
        self.nc = nc = load_corpus(path)
        arch: dict[str, Any] = dict(styles=list(nc.styles), n_embd=128, hidden=384, layers=2,
                    dropout=0.1) | arch_over
        self.model = MusicRNN(MusicConfig(**arch)).to(device)
        cfg = self.model.cfg
        if cfg.styles != list(nc.styles):
            raise ValueError(f"styles {cfg.styles} differ from the cache's {nc.styles}")
        self.arch = cfg.to_dict()
        self.vocab = cfg.vocab
        tick_div = nc.ticks_per_beat // cfg.steps_per_beat
        train = [(int(nc.piece_style[i]), encode_notes(nc.piece(i), self.vocab,
                                                       int(nc.piece_style[i]), tick_div))
                 for i in range(len(nc)) if not nc.is_val(i)]
        if not train:
            raise ValueError(f"music cache {path} has no training pieces")
        # one token stream per style; windows are drawn per style, styles weighted by sqrt(size)
        self.streams = []
        self.starts = []  # per stream: where its pieces begin (their style token)
        for s in range(len(cfg.styles)):
            seqs = [t for st, t in train if st == s]
            if seqs:
                self.streams.append((s, torch.from_numpy(np.concatenate(seqs).astype(np.int64))))
                self.starts.append(torch.tensor(np.cumsum([0] + [len(t) for t in seqs[:-1]])))
        sizes = torch.tensor([float(len(t)) for _, t in self.streams])
        self.style_p = sizes.sqrt() / sizes.sqrt().sum()
        self.seq = args.seq or 256
        self.batch = args.batch or 32
        self.lr = args.lr or 2e-3
        self.opts = {"opt": torch.optim.AdamW(self.model.parameters(), lr=self.lr,
                                              betas=(0.9, 0.99), weight_decay=0.01)}
        self.best = copy.deepcopy(self.model)
        self.modules = {"model": self.model, "best": self.best}
        self.val_seqs = [s[:1025] for s in metrics.music_streams(nc, self.vocab, tick_div, True)]
        counts = nc.counts()
        self.data_info = {
            "path": str(path), "source": "music21 corpus", "collections": counts,
            "failed_to_parse": nc.failed, "pieces": len(nc),
            "train_events": int(sizes.sum()), "augmentation": "transposition -6..+5 semitones",
            "split": "5% of pieces (hash of the piece id) held out", "licence": LICENCE_NOTE,
        }

    def _window(self) -> torch.Tensor:
        """[style] + T tokens from a random place in a random style's stream, transposed."""
        k = int(torch.multinomial(self.style_p, 1, generator=self.gen))
        s, stream = self.streams[k]
        t = self.seq
        if len(stream) <= t + 1:
            stream = stream.repeat(t // len(stream) + 2)
        if torch.rand(1, generator=self.gen) < 0.3:  # a piece's opening: how to begin after STYLE
            starts = self.starts[k]
            o = int(starts[torch.randint(len(starts), (1,), generator=self.gen)]) + 1
            o = min(o, len(stream) - t)
        else:
            o = int(torch.randint(0, len(stream) - t + 1, (1,), generator=self.gen))
        w = stream[o : o + t].clone()
        shift = int(torch.randint(-6, 6, (1,), generator=self.gen))
        note = w < 256
        pitch = w[note] % 128 + shift
        if bool(((pitch >= 0) & (pitch < 128)).all()):
            w[note] = w[note] - w[note] % 128 + pitch
        return torch.cat([torch.tensor([self.vocab.style0 + s]), w])

    def step(self):
        self.model.train()
        chunk = torch.stack([self._window() for _ in range(self.batch)]).to(self.device)
        y = chunk[:, 1:].clone()
        y[y >= self.vocab.style0] = -100  # a piece boundary: the next style is not predictable
        logits, _ = self.model(chunk[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=-100)
        return {"loss": clipped_step(self.opts["opt"], loss, self.model)}

    def validate(self):
        seqs = self.val_seqs if self.device.type == "cuda" else self.val_seqs[::4]
        return metrics.music_ce(self.model, seqs, self.device)

    def evaluate(self):
        quick = getattr(self.args, "eval_quick", False)
        return metrics.music_metrics(self.model, self.nc, self.device,
                                     samples_per_style=1 if quick else 4,
                                     events=100 if quick else 400)


# Per architecture (--arch dcgan|fastgan): the sizes used unless --arch KEY=VALUE says otherwise.
GAN_DEFAULTS: dict[str, dict[str, Any]] = {
    "dcgan": dict(nz=128, resolution=128, g_base=12, g_max=192, d_base=32, d_max=256,
                  d_dropout=0.0),
    "fastgan": dict(arch="fastgan", nz=128, resolution=256, g_base=8, g_max=128, d_base=32,
                    d_max=256, d_dropout=0.0),
}


class GANJob(Job):
    """Hinge-loss GAN (DCGAN or FastGAN G, spectral-norm D) with DiffAugment; the EMA G ships."""

    default_steps = 20000
    main_loss = "d_loss"

    def __init__(self, args: argparse.Namespace, device: torch.device,
                 arch_over: dict[str, Any]) -> None:
        super().__init__(args, device, arch_over)
        self.ims = load_images(args.data or "skimage")
        if getattr(args, "crop_min", None) is not None:
            self.ims.crop_min = args.crop_min
        name = arch_over.get("arch", "dcgan")
        if name not in GAN_DEFAULTS:
            raise ValueError(f"unknown GAN architecture {name!r} (expected one of "
                             f"{', '.join(GAN_DEFAULTS)})")
        cfg = gan_config(GAN_DEFAULTS[name] | arch_over)
        self.arch = cfg.to_dict()
        self.crops = CropSampler(self.ims, cfg.resolution, device)
        self.G = build_generator(cfg).to(device)
        self.D = Discriminator(cfg).to(device)
        self.G_ema = copy.deepcopy(self.G).eval()
        for p in self.G_ema.parameters():
            p.requires_grad_(False)
        self.batch = args.batch or 32
        self.lr = args.lr or 2e-4
        betas = (0.0, 0.99)  # no first-moment momentum: the usual choice for hinge + SN GANs
        self.opts = {"g": torch.optim.Adam(self.G.parameters(), lr=self.lr, betas=betas),
                     "d": torch.optim.Adam(self.D.parameters(), lr=self.lr, betas=betas)}
        self.modules = {"G": self.G, "D": self.D, "G_ema": self.G_ema}
        self.ema_decay = 0.999
        many = len(self.ims.names) > 64  # a built data set: the manifest lists every image
        self.data_info = {"source": self.ims.source,
                          "images": len(self.ims.names) if many else self.ims.names,
                          "skipped": self.ims.skipped,
                          "crops": f"random squares {self.ims.crop_min:.0%}-100% of the short "
                                   "side, h-flip",
                          "licence": licence_summary(self.ims)}
        if self.ims.skipped:
            print(f"skipped {len(self.ims.skipped)} unreadable images: {self.ims.skipped[:3]}")

    def step(self):
        b, nz = self.batch, self.G.cfg.nz
        real = self.crops.sample(b, self.gen).to(self.device, non_blocking=True)
        z = torch.randn(b, nz, device=self.device)
        self.G.train()
        with torch.no_grad():
            fake = self.G(z)
        d_real = self.D(diff_augment(real))
        d_fake = self.D(diff_augment(fake))
        d_loss = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()  # hinge
        self.opts["d"].zero_grad(set_to_none=True)
        d_loss.backward()
        self.opts["d"].step()
        z = torch.randn(b, nz, device=self.device)
        g_loss = -self.D(diff_augment(self.G(z))).mean()
        self.opts["g"].zero_grad(set_to_none=True)
        g_loss.backward()
        self.opts["g"].step()
        with torch.no_grad():
            for pe, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
                pe.lerp_(p, 1 - self.ema_decay)
            for be, bt in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
                be.copy_(bt)  # BatchNorm running statistics follow the live generator
        return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}

    @torch.no_grad()
    def standing_stats(self, batches: int = 16) -> None:
        """Re-estimate the EMA generator's BatchNorm statistics from its own activations.

        The copied running statistics belong to the live generator, not the averaged one.
        """
        gen = torch.Generator().manual_seed(0)
        bns = [m for m in self.G_ema.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the batches below
        self.G_ema.train()
        for _ in range(batches):
            self.G_ema(torch.randn(64, self.G.cfg.nz, generator=gen).to(self.device))
        for m in bns:
            m.momentum = 0.1
        self.G_ema.eval()

    def evaluate(self):
        self.standing_stats()
        n = 64 if getattr(self.args, "eval_quick", False) else 512
        return metrics.gan_metrics(self.G_ema, self.ims, n=n, device=self.device)

    def export(self):
        self.standing_stats()
        return self.G_ema.eval()


def split_images(ims: ImageSet, every: int = 20) -> tuple[ImageSet, ImageSet]:
    """(training, held-out): every `every`-th image (by sorted name) is held out."""
    order = sorted(range(len(ims.names)), key=lambda i: ims.names[i])
    held = {i for k, i in enumerate(order) if k % every == every - 1} if len(order) >= every else set()
    def part(keep: bool) -> ImageSet:
        idx = [i for i in order if (i in held) != keep] or order  # too few: both use all
        return ImageSet([ims.images[i] for i in idx], [ims.names[i] for i in idx], ims.skipped,
                        ims.source, ims.crop_min, ims.manifest)
    return part(True), part(False)


class UpscaleJob(RNNJob):
    """The 2x upscaler: L1 against high-resolution crops from their bicubic downscale; the
    figures are PSNR on crops of held-out images, beside bicubic."""

    default_steps = 3000
    main_loss = "l1"
    crop = 128  # high-resolution training crops (inputs are half that)

    def __init__(self, args: argparse.Namespace, device: torch.device,
                 arch_over: dict[str, Any]) -> None:
        super().__init__(args, device, arch_over)
        ims = load_images(args.data or "skimage")
        self.train_ims, self.held_ims = split_images(ims)
        cfg = UpscaleConfig(**arch_over)
        self.arch = cfg.to_dict()
        self.scale = cfg.scale
        self.crops = CropSampler(self.train_ims, self.crop, device)
        self.model = Upscaler(cfg).to(device)
        self.best = copy.deepcopy(self.model)
        self.batch = args.batch or 16
        self.lr = args.lr or 1e-3
        self.opts = {"opt": torch.optim.Adam(self.model.parameters(), lr=self.lr)}
        self.modules = {"model": self.model}
        held = CropSampler(self.held_ims, self.crop, device)
        self.val = held.sample(64, torch.Generator().manual_seed(20_001))
        self.data_info = {"source": ims.source, "images": len(self.train_ims.names),
                          "held_out_images": len(self.held_ims.names),
                          "crops": f"random {self.crop} px squares {ims.crop_min:.0%}-100% of "
                                   f"the short side, h-flip; inputs their antialiased bicubic "
                                   f"1/{cfg.scale}", "licence": licence_summary(ims)}

    def step(self):
        hr = self.crops.sample(self.batch, self.gen).to(self.device, non_blocking=True)
        self.model.train()
        loss = F.l1_loss(self.model(downscale(hr, self.scale)), hr)
        self.opts["opt"].zero_grad(set_to_none=True)
        loss.backward()
        self.opts["opt"].step()
        return {"l1": loss.item()}

    @torch.no_grad()
    def validate(self):
        self.model.eval()
        return F.l1_loss(self.model(downscale(self.val, self.scale)), self.val).item()

    @torch.no_grad()
    def evaluate(self):
        self.model.eval()
        n = 64 if getattr(self.args, "eval_quick", False) else 256
        hr = CropSampler(self.held_ims, 256, self.device).sample(n, torch.Generator().manual_seed(20_002))
        lo = downscale(hr, self.scale)
        ours = torch.cat([self.model(lo[i:i + 16]) for i in range(0, n, 16)])
        bicubic = F.interpolate(lo, scale_factor=self.scale, mode="bicubic",
                                align_corners=False).clamp(-1, 1)
        p_ours, p_bicubic = psnr(ours, hr), psnr(bicubic, hr)
        return {"psnr": round(p_ours, 3), "psnr_bicubic": round(p_bicubic, 3),
                "gain_db": round(p_ours - p_bicubic, 3), "n_crops": n, "crop": 256}


DEFAULT_STROKES = ROOT / "data" / "strokes"  # python -m models.data strokes --out data/strokes
STROKE_PACKAGES = ("hershey-fonts-data", "python3-kanjidraw")


def stroke_batch(rows: list[np.ndarray], classes: list[int]) -> tuple[torch.Tensor, ...]:
    """Inputs (B, T, 5) [S0 then each point but the last], targets (B, T, 5), mask (B, T),
    class ids (B,); the shorter drawings padded with end rows the loss ignores."""
    t = max(len(r) for r in rows)
    x = torch.zeros(len(rows), t, 5)
    y = torch.zeros(len(rows), t, 5)
    y[..., 4] = 1.0
    mask = torch.zeros(len(rows), t)
    for i, r in enumerate(rows):
        n = len(r)
        rt = torch.from_numpy(np.ascontiguousarray(r, np.float32))
        x[i, 0] = torch.tensor(START)
        x[i, 1:n] = rt[:-1]
        y[i, :n] = rt
        mask[i, :n] = 1.0
    return x, y, mask, torch.tensor(classes, dtype=torch.long)


def stroke_baseline(train: list[np.ndarray], held: list[np.ndarray], scale: float) -> dict[str, float]:
    """A single 2-D Gaussian over scaled offsets and a bigram of pen states, fitted on the
    training drawings: nats per held-out point (offset, pen and their sum)."""
    tr = np.concatenate(train)
    d = tr[:, :2].astype(np.float64) / scale
    mean, cov = d.mean(0), np.cov(d.T) + 1e-6 * np.eye(2)
    inv, logdet = np.linalg.inv(cov), float(np.linalg.slogdet(cov)[1])
    counts = np.ones((3, 3))  # Laplace: every transition seen once
    for r in train:
        pens = np.concatenate([[0], r[:, 2:].argmax(1)])  # S0 counts as pen down
        np.add.at(counts, (pens[:-1], pens[1:]), 1)
    logp = np.log(counts / counts.sum(1, keepdims=True))
    off = pen = 0.0
    n = 0
    for r in held:
        e = r[:, :2].astype(np.float64) / scale - mean
        off += float((0.5 * np.einsum("ni,ij,nj->n", e, inv, e) + math.log(2 * math.pi)
                      + 0.5 * logdet).sum())
        pens = np.concatenate([[0], r[:, 2:].argmax(1)])
        pen += float(-logp[pens[:-1], pens[1:]].sum())
        n += len(r)
    return {"baseline_nll": round((off + pen) / n, 4), "baseline_offset_nll": round(off / n, 4),
            "baseline_pen_nll": round(pen / n, 4)}


class StrokesJob(RNNJob):
    """The drawing voice's decoder on a stroke-5 data set; every 20th drawing held out."""

    default_steps = 8000
    model: StrokeRNN

    def __init__(self, args: argparse.Namespace, device: torch.device,
                 arch_over: dict[str, Any]) -> None:
        super().__init__(args, device, arch_over)
        path = Path(args.data) if args.data else DEFAULT_STROKES
        ds = load_strokes(path, built_by_default=not args.data)
        train, held = split_strokes(len(ds))
        self.train_rows = [ds.drawing(i) for i in train]
        self.train_cls = [int(ds.classes[i]) for i in train]
        self.held_rows = [ds.drawing(i) for i in held]
        self.held_cls = [int(ds.classes[i]) for i in held]
        scale = float(np.concatenate(self.train_rows)[:, :2].std())
        arch: dict[str, Any] = dict(classes=ds.class_names, hidden=256, layers=1, mixtures=20,
                                    n_embd=16, dropout=0.0, scale=round(scale, 5)) | arch_over
        self.model = StrokeRNN(StrokeConfig(**arch)).to(device)
        self.arch = self.model.cfg.to_dict()
        self.batch = args.batch or 64
        self.lr = args.lr or 1e-3
        self.opts = {"opt": torch.optim.Adam(self.model.parameters(), lr=self.lr)}
        self.best = copy.deepcopy(self.model)
        self.modules = {"model": self.model, "best": self.best}
        sources = ds.manifest.get("sources", [])
        self.data_info = {
            "path": str(path), "drawings": len(ds), "held_out": len(held),
            "classes": ds.manifest.get("classes", {}), "split": "every 20th drawing held out",
            "augmentation": "offsets scaled by 0.9-1.1 per axis and drawing",
            "sources": [{k: s.get(k) for k in ("from", "version", "licences", "copyright",
                                               "drawings") if k in s} for s in sources],
            "licence": "; ".join(f"{s.get('from')}: {', '.join(s.get('licences', [s.get('licence', '?')]))}"
                                 for s in sources) or "see the data set's manifest"}

    def _batch(self, idx: list[int], rows: list[np.ndarray], cls: list[int],
               augment: bool) -> tuple[torch.Tensor, ...]:
        picked = [rows[i] for i in idx]
        if augment:
            s = 0.9 + 0.2 * torch.rand(len(idx), 2, generator=self.gen).numpy()
            picked = [np.concatenate([r[:, :2] * s[k], r[:, 2:]], 1) for k, r in enumerate(picked)]
        return tuple(t.to(self.device) for t in stroke_batch(picked, [cls[i] for i in idx]))

    def step(self):
        self.model.train()
        idx = torch.randint(0, len(self.train_rows), (self.batch,), generator=self.gen).tolist()
        x, y, mask, c = self._batch(idx, self.train_rows, self.train_cls, True)
        loss = self.model.nll(x, y, mask, c)
        return {"loss": clipped_step(self.opts["opt"], loss, self.model)}

    def validate(self):
        n = None if self.device.type == "cuda" else 200  # CPU: the first 200 drawings
        return held_out_nll(self.model, self.held_rows[:n], self.held_cls[:n], self.device)

    def evaluate(self) -> dict[str, Any]:
        return stroke_metrics(self.model, self.train_rows, self.held_rows, self.held_cls,
                              self.device)


def load_strokes(path: Path, built_by_default: bool) -> Any:
    """A stroke data set; the default one is built from the two Debian packages when missing."""
    from models.data import strokes as stroke_data

    if built_by_default and not (path / "strokes.npz").is_file():
        stroke_data.build(list(STROKE_PACKAGES), path, command="models.train strokes (default)")
    return stroke_data.load(path)


def split_strokes(n: int) -> tuple[list[int], list[int]]:
    """(training, held-out) drawing indices: every 20th held out (all of a tiny set: both)."""
    held = [i for i in range(n) if i % 20 == 19] if n >= 20 else list(range(n))
    return [i for i in range(n) if i % 20 != 19] or held, held


@torch.no_grad()
def held_out_nll(model: StrokeRNN, rows: list[np.ndarray], classes: list[int],
                 device: torch.device) -> float:
    """Mean nats per point of the drawings `rows` under the model."""
    model.eval()
    total, points = 0.0, 0.0
    for a in range(0, len(rows), 128):
        x, y, mask, c = (t.to(device) for t in stroke_batch(rows[a:a + 128], classes[a:a + 128]))
        mix, _ = model(x, c if model.cfg.classes else None)
        total += float((point_nll(mix, y, model.cfg.scale) * mask).sum())
        points += float(mask.sum())
    return total / max(points, 1.0)


def stroke_metrics(model: StrokeRNN, train_rows: list[np.ndarray], held_rows: list[np.ndarray],
                   held_cls: list[int], device: torch.device) -> dict[str, Any]:
    """The card's figures: held-out NLL beside the Gaussian + pen-bigram baseline."""
    val = held_out_nll(model, held_rows, held_cls, device)
    base = stroke_baseline(train_rows, held_rows, model.cfg.scale)
    return {"val_nll": round(val, 4), **base, "nll_gain": round(base["baseline_nll"] - val, 4),
            "units": "nats per held-out point; offsets in units of the data's spread (scale)",
            "held_out_points": int(sum(len(r) for r in held_rows))}


JOBS: dict[str, type[Job]] = {"text": TextJob, "music": MusicJob, "gan": GANJob,
                              "upscale": UpscaleJob, "strokes": StrokesJob}

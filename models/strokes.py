"""Sketch-RNN's decoder: an LSTM over stroke-5 points with a mixture-density output.

Each step reads the last point (dx, dy scaled by `scale`, pen down, pen up, end) and, when
the model is conditional, an embedding of the drawing's class; it predicts the next point as
a mixture of M bivariate Gaussians over (dx, dy) and a categorical over the three pen states
(Graves 2013, "Generating sequences with recurrent neural networks"; Ha and Eck 2018).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

State = tuple[torch.Tensor, torch.Tensor]  # (h, c), each (layers, B, hidden)
SIGMA_MIN = 0.02  # in scaled units: no spike on the integer grid of a font's coordinates
START = (0.0, 0.0, 1.0, 0.0, 0.0)  # the row fed before the first point (sketch-rnn's S0)


@dataclass
class StrokeConfig:
    """Architecture of the stroke decoder; stored in the weights card."""

    classes: list[str] = field(default_factory=list)  # empty: unconditional
    hidden: int = 256
    layers: int = 1
    mixtures: int = 20
    n_embd: int = 16  # class embedding size
    dropout: float = 0.0
    scale: float = 0.2  # offsets are divided by this (their spread in the data)

    def __post_init__(self) -> None:
        if len(set(self.classes)) != len(self.classes):
            raise ValueError("classes has repeated names")
        if self.hidden < 1 or self.mixtures < 1 or self.layers < 1 or not self.scale > 0:
            raise ValueError("hidden, layers, mixtures and scale must be positive")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Mixture:
    """The predicted distribution of the next point; each field (B, T, M) or (B, T, 3)."""

    log_pi: torch.Tensor
    mu: torch.Tensor  # (B, T, M, 2)
    log_sigma: torch.Tensor  # (B, T, M, 2)
    rho: torch.Tensor
    pen_logits: torch.Tensor  # (B, T, 3)


class StrokeRNN(nn.Module):
    """rows (B, T, 5) [+ class ids (B,)] -> the next point's Mixture and the LSTM state."""

    def __init__(self, cfg: StrokeConfig) -> None:
        super().__init__()
        self.cfg = cfg
        emb = cfg.n_embd if cfg.classes else 0
        self.embed = nn.Embedding(max(1, len(cfg.classes)), max(1, emb))
        self.lstm = nn.LSTM(5 + emb, cfg.hidden, cfg.layers, batch_first=True,
                            dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden, 6 * cfg.mixtures + 3)

    def inputs(self, rows: torch.Tensor, cls: torch.Tensor | None) -> torch.Tensor:
        """Scaled rows with the class embedding on every step: (B, T, 5 + n_embd)."""
        x = torch.cat([rows[..., :2] / self.cfg.scale, rows[..., 2:]], -1)
        if self.cfg.classes:
            if cls is None:
                raise ValueError("a conditional model needs class ids")
            x = torch.cat([x, self.embed(cls)[:, None].expand(-1, x.shape[1], -1)], -1)
        return x

    def mixture(self, y: torch.Tensor) -> Mixture:
        """The head's output (B, T, hidden) as a Mixture."""
        m = self.cfg.mixtures
        out = self.head(self.drop(y))  # (B, T, 6M + 3)
        pi, mu, ls, rho, pen = out.split([m, 2 * m, 2 * m, m, 3], -1)
        b, t = out.shape[:2]
        log_sigma = ls.reshape(b, t, m, 2).clamp(min=math.log(SIGMA_MIN), max=3.0)
        return Mixture(F.log_softmax(pi, -1), mu.reshape(b, t, m, 2), log_sigma,
                       torch.tanh(rho) * 0.95, pen)

    def forward(self, rows: torch.Tensor, cls: torch.Tensor | None = None,
                state: State | None = None) -> tuple[Mixture, State]:
        y, state = self.lstm(self.inputs(rows, cls), state)  # (B, T, hidden)
        return self.mixture(y), state

    def nll(self, rows: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
            cls: torch.Tensor | None = None) -> torch.Tensor:
        """Mean nats per real point of target (B, T, 5) given rows; mask (B, T) marks points."""
        mix, _ = self(rows, cls)
        return (point_nll(mix, target, self.cfg.scale) * mask).sum() / mask.sum().clamp(min=1)


def point_nll(mix: Mixture, target: torch.Tensor, scale: float) -> torch.Tensor:
    """-log p(offset) - log p(pen) of each target point (B, T), offsets in scaled units."""
    d = (target[..., None, :2] / scale - mix.mu) / mix.log_sigma.exp()  # (B, T, M, 2)
    rho = mix.rho
    z = d[..., 0] ** 2 + d[..., 1] ** 2 - 2 * rho * d[..., 0] * d[..., 1]
    log_n = -z / (2 * (1 - rho ** 2)) - math.log(2 * math.pi) - mix.log_sigma.sum(-1) \
        - 0.5 * torch.log1p(-rho ** 2)  # (B, T, M)
    offset = -torch.logsumexp(mix.log_pi + log_n, -1)
    pen = F.cross_entropy(mix.pen_logits.transpose(1, 2), target[..., 2:].argmax(-1),
                          reduction="none")
    return offset + pen


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # no overflow warnings, as exact as 1 / (1 + e^-x)


class StrokeSampler:
    """Streams one point at a time from a StrokeRNN, keeping its state between calls.

    Positions are in the model's unit square (the drawing at the top left, y down); points
    come back as (x, y, pen) with pen 1 = a line joins this point to the next, 0 = the pen
    lifts after it, 2 = the drawing ends here. A step is the LSTM's maths in NumPy on copies
    of its weights: at batch 1 a torch call costs more than the arithmetic.
    """

    def __init__(self, model: StrokeRNN, cls: int = 0, seed: int = 0) -> None:
        self.model = model.eval()
        self.cls = cls
        self.rng = np.random.default_rng(seed)
        cfg = model.cfg
        with torch.no_grad():
            lstm = model.lstm
            self.layers = [
                (torch.cat([getattr(lstm, f"weight_ih_l{k}"), getattr(lstm, f"weight_hh_l{k}")], 1)
                 .float().cpu().numpy(),
                 (getattr(lstm, f"bias_ih_l{k}") + getattr(lstm, f"bias_hh_l{k}")).float().cpu().numpy())
                for k in range(cfg.layers)]
            self.head_w = model.head.weight.float().cpu().numpy()
            self.head_b = model.head.bias.float().cpu().numpy()
            self.emb = model.embed.weight[cls].float().cpu().numpy() if cfg.classes \
                else np.zeros(0, np.float32)
        self.reset()

    def reset(self) -> None:
        """A fresh drawing at the origin (the random stream goes on)."""
        hsz = self.model.cfg.hidden
        self.h = [np.zeros(hsz, np.float32) for _ in self.layers]
        self.c = [np.zeros(hsz, np.float32) for _ in self.layers]
        self.pos = np.zeros(2)
        self.out: np.ndarray | None = None  # the head's output after the last point fed

    def _feed(self, row: np.ndarray) -> None:
        """One LSTM step on a stroke-5 row; keeps the head's output for the next draw."""
        cfg = self.model.cfg
        x = np.concatenate([np.asarray(row[:2], np.float32) / np.float32(cfg.scale),
                            np.asarray(row[2:], np.float32), self.emb])
        n = cfg.hidden
        for k, (w, b) in enumerate(self.layers):
            gates = w @ np.concatenate([x, self.h[k]]) + b
            i, f, g, o = gates[:n], gates[n:2 * n], gates[2 * n:3 * n], gates[3 * n:]  # torch's order
            self.c[k] = _sigmoid(f) * self.c[k] + _sigmoid(i) * np.tanh(g)
            self.h[k] = x = _sigmoid(o) * np.tanh(self.c[k])
        self.out = self.head_w @ x + self.head_b

    def prime(self, points: list[tuple[float, float, int]]) -> int:
        """Feed absolute (x, y, pen) points, pen as above; return how many were fed."""
        if self.out is None:
            self._feed(np.array(START, np.float32))
        for x, y, pen in points:
            d = np.array([x, y]) - self.pos
            self._feed(np.array([d[0], d[1], pen == 1, pen == 0, 0.0], np.float32))
            self.pos = np.array([x, y], np.float64)
        return len(points)

    def _pick(self, logits: np.ndarray, t: float) -> int:
        z = logits.astype(np.float64) / t
        p = np.exp(z - z.max())
        c = np.cumsum(p)
        return min(int(np.searchsorted(c, self.rng.random() * c[-1], side="right")), len(p) - 1)

    def next_point(self, temperature: float = 0.6) -> tuple[float, float, int]:
        """Sample the next point and feed it back; after an end the next drawing begins."""
        if self.out is None:
            self._feed(np.array(START, np.float32))
        assert self.out is not None
        m, t = self.model.cfg.mixtures, max(float(temperature), 1e-3)
        out = self.out
        k = self._pick(out[:m], t)  # the same layout as StrokeRNN.mixture
        mu = out[m + 2 * k:m + 2 * k + 2].astype(np.float64)
        ls = np.clip(out[3 * m + 2 * k:3 * m + 2 * k + 2].astype(np.float64), math.log(SIGMA_MIN), 3.0)
        sx, sy = np.exp(ls) * math.sqrt(t)
        r = math.tanh(float(out[5 * m + k])) * 0.95
        z1, z2 = self.rng.standard_normal(2)
        d = np.array([mu[0] + sx * z1, mu[1] + sy * (r * z1 + math.sqrt(1 - r * r) * z2)])
        d *= self.model.cfg.scale
        pen_i = self._pick(out[6 * m:6 * m + 3], t)
        self.pos = self.pos + d
        x, y = float(self.pos[0]), float(self.pos[1])
        row = np.zeros(5, np.float32)
        row[:2], row[2 + pen_i] = d, 1.0
        self._feed(row)
        pen = (1, 0, 2)[pen_i]
        if pen == 2:
            self.reset()
        return x, y, pen

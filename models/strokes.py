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


class StrokeSampler:
    """Streams one point at a time from a StrokeRNN, keeping its state between calls.

    Positions are in the model's unit square (the drawing at the top left, y down); points
    come back as (x, y, pen) with pen 1 = a line joins this point to the next, 0 = the pen
    lifts after it, 2 = the drawing ends here.
    """

    def __init__(self, model: StrokeRNN, cls: int = 0, seed: int = 0) -> None:
        self.model = model.eval()
        self.cls = cls
        self.rng = np.random.default_rng(seed)
        self.reset()

    def reset(self) -> None:
        """A fresh drawing at the origin (the random stream goes on)."""
        self.state: State | None = None
        self.pos = np.zeros(2)
        self.last = np.array(START, np.float32)
        self.mix: Mixture | None = None

    @torch.inference_mode()
    def _feed(self, row: np.ndarray) -> None:
        cls = torch.tensor([self.cls]) if self.model.cfg.classes else None
        x = torch.from_numpy(np.asarray(row, np.float32))[None, None]
        self.mix, self.state = self.model(x, cls, self.state)
        self.last = np.asarray(row, np.float32)

    def prime(self, points: list[tuple[float, float, int]]) -> int:
        """Feed absolute (x, y, pen) points, pen as above; return how many were fed."""
        if self.mix is None:
            self._feed(self.last)
        for x, y, pen in points:
            d = np.array([x, y]) - self.pos
            row = np.array([d[0], d[1], pen == 1, pen == 0, 0.0], np.float32)
            self._feed(row)
            self.pos = np.array([x, y], np.float64)
        return len(points)

    def next_point(self, temperature: float = 0.6) -> tuple[float, float, int]:
        """Sample the next point and feed it back; after an end the next drawing begins."""
        if self.mix is None:
            self._feed(self.last)
        assert self.mix is not None
        t = max(float(temperature), 1e-3)
        mix = self.mix
        log_pi = mix.log_pi[0, -1].double().numpy() / t
        pi = np.exp(log_pi - log_pi.max())
        k = int(self.rng.choice(len(pi), p=pi / pi.sum()))
        mu = mix.mu[0, -1, k].double().numpy()
        s = np.exp(mix.log_sigma[0, -1, k].double().numpy()) * math.sqrt(t)
        r = float(mix.rho[0, -1, k])
        cov = np.array([[s[0] ** 2, r * s[0] * s[1]], [r * s[0] * s[1], s[1] ** 2]])
        d = self.rng.multivariate_normal(mu, cov) * self.model.cfg.scale
        pl = mix.pen_logits[0, -1].double().numpy() / t
        pp = np.exp(pl - pl.max())
        pen_i = int(self.rng.choice(3, p=pp / pp.sum()))
        self.pos = self.pos + d
        x, y = float(self.pos[0]), float(self.pos[1])
        row = np.zeros(5, np.float32)
        row[:2], row[2 + pen_i] = d, 1.0
        self._feed(row)
        pen = (1, 0, 2)[pen_i]
        if pen == 2:
            self.reset()
        return x, y, pen

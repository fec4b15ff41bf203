"""What the room likes: a Bayesian logistic regression over a moment's features, updated on
every like and skip, sampled for Thompson-sampling exploration.

A moment is what was on screen: its analysis features (live/analysis/frame.py) and its latent
(projected onto a few fixed directions), as one vector in roughly [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from live.analysis.frame import HUE_BINS, PALETTE, RANGES

SCALARS = ("brightness", "contrast", "colourfulness", "saturation", "edges", "entropy",
           "symmetry_lr", "symmetry_tb", "motion")
LATENT_DIRECTIONS = 8
NAMES = (*SCALARS, "warmth", *(f"hue{i}" for i in range(HUE_BINS)),
         *(f"palette{i}_{c}" for i in range(PALETTE) for c in "rgb"),
         *(f"latent{i}" for i in range(LATENT_DIRECTIONS)))
PRIOR_VAR = 4.0  # prior variance of each weight: broad, the data decide
MAX_OBSERVATIONS = 4000  # the oldest are forgotten beyond this (a show's worth)


def moment_vector(features: dict[str, object], latent: np.ndarray | None, seed: int = 0) -> np.ndarray:
    """(len(NAMES),) the features of a moment, each scaled to about [0, 1]."""
    out = []
    for name in SCALARS:
        lo, hi = RANGES[name]
        out.append((float(features.get(name, lo)) - lo) / (hi - lo))  # type: ignore[arg-type]
    # Motion is heavy-tailed (most frames change by under 0.1 of the range, a cut by most of
    # it): its square root spreads the usual values as far apart as the others' are, so a
    # room that likes motion is learned from tens of likes, not hundreds.
    motion = SCALARS.index("motion")
    out[motion] = math.sqrt(max(out[motion], 0.0))
    pal = np.asarray(features.get("palette", np.zeros((PALETTE, 3))), dtype=np.float64).reshape(PALETTE, 3)
    out.append(float(pal[:, 0].mean() - pal[:, 2].mean()) * 0.5 + 0.5)  # warmth: red over blue
    out += list(np.asarray(features.get("hue", np.zeros(HUE_BINS)), dtype=np.float64).ravel()[:HUE_BINS])
    out += list(pal.ravel())
    if latent is None:
        out += [0.5] * LATENT_DIRECTIONS
    else:
        z = np.asarray(latent, dtype=np.float64)
        dirs = np.random.default_rng(seed).standard_normal((LATENT_DIRECTIONS, len(z)))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        proj = dirs @ z / math.sqrt(len(z))  # about N(0, 1/nz) per direction on the sphere
        out += list(np.clip(0.5 + proj * math.sqrt(len(z)) / 6, 0, 1))
    return np.asarray(out, dtype=np.float64)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))


@dataclass
class Preference:
    """Weights (with a bias) over moment vectors; MAP by damped Newton steps, covariance by Laplace."""

    dim: int = len(NAMES)
    xs: list[np.ndarray] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)  # per observation: a skip counts less
    mean: np.ndarray = field(init=False)
    likes: int = 0
    skips: int = 0

    def __post_init__(self) -> None:
        self.mean = np.zeros(self.dim + 1)
        self._hess = np.eye(self.dim + 1) / PRIOR_VAR
        self._cov: np.ndarray | None = None

    def observe(self, x: np.ndarray, liked: bool, weight: float = 1.0) -> None:
        """A moment that was liked (or shown and not liked), then refit."""
        self.xs.append(np.append(x, 1.0))
        self.ys.append(1.0 if liked else 0.0)
        self.weights.append(weight)
        self.likes += liked
        self.skips += not liked
        if len(self.xs) > MAX_OBSERVATIONS:
            del self.xs[0], self.ys[0], self.weights[0]
        self.fit()

    def fit(self, steps: int = 8) -> None:
        """Newton steps on the weighted log posterior from the last mean (warm: one or two
        usually suffice), each halved until the posterior gains, until it stops moving.

        Undamped steps diverge when a few likes in many dimensions separate perfectly: the
        sigmoid saturates, the Hessian shrinks to the prior's and each step overshoots further.
        """
        if not self.xs:
            return
        X, y, c = np.asarray(self.xs), np.asarray(self.ys), np.asarray(self.weights)
        precision = 1.0 / PRIOR_VAR

        def loss(w: np.ndarray) -> float:  # the negative log posterior, up to a constant
            z = X @ w
            return float(c @ (np.logaddexp(0.0, z) - y * z)) + 0.5 * precision * float(w @ w)

        w = self.mean.copy()
        now = loss(w)
        for _ in range(steps):
            p = _sigmoid(X @ w)
            grad = X.T @ (c * (p - y)) + precision * w
            hess = (X * (c * p * (1 - p))[:, None]).T @ X + precision * np.eye(len(w))
            step = np.linalg.solve(hess, grad)
            if float(grad @ step) < 1e-10:  # the Newton decrement: at the optimum
                break
            for t in 0.5 ** np.arange(14):
                if (after := loss(w - t * step)) <= now:
                    w, now = w - t * step, after
                    break
            else:
                break  # no step gains any more: the optimum, as far as floating point tells
        p = _sigmoid(X @ w)
        self._hess = (X * (c * p * (1 - p))[:, None]).T @ X + precision * np.eye(len(w))
        self.mean = w
        self._cov = None  # the Laplace covariance, computed when a sample needs it

    @property
    def cov(self) -> np.ndarray:
        """The posterior covariance (Laplace: the inverse Hessian at the mean)."""
        if self._cov is None:
            self._cov = np.linalg.inv(self._hess)
        return self._cov

    def predict(self, x: np.ndarray) -> float:
        """The probability of a like, at the posterior mean."""
        return float(_sigmoid(np.append(x, 1.0) @ self.mean))

    def thompson(self, xs: np.ndarray, rng: np.random.Generator, spread: float = 1.0) -> np.ndarray:
        """Scores of candidate moments (n, dim) under one draw of the weights, its spread about
        the mean `spread` times the posterior's (1: plain Thompson sampling, 0: the mean)."""
        w = self.mean + spread * (np.linalg.cholesky(self.cov) @ rng.standard_normal(len(self.mean)))
        return np.c_[xs, np.ones(len(xs))] @ w

    def confident(self, name: str, sds: float = 1.0) -> bool:
        """Whether the weight of one feature is `sds` posterior deviations or more from 0 (for the
        pace, bench/recommend.py: at 2 a taste for motion got its fast pace too late with one seed
        of two; at 1 it did with both, and the tastes with no view on motion kept theirs)."""
        i = NAMES.index(name)
        return abs(float(self.mean[i])) >= sds * math.sqrt(float(self.cov[i, i]))

    def explain(self, x: np.ndarray, top: int = 3) -> list[tuple[str, float]]:
        """The features that push a moment's score up most (name, contribution)."""
        contrib = x * self.mean[:-1]
        order = np.argsort(-contrib)[:top]
        return [(NAMES[i], round(float(contrib[i]), 3)) for i in order]

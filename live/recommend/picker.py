"""The recommend walk's keyframes: candidates rendered a frame at a time, the preferred one taken.

Half the candidates are fresh points of the latent sphere (exploration), some nearer the key
before and some farther (PACES); once there are likes, the other half are liked latents moved a
step toward a fresh point (NEAR of the way), which is where more of what was liked lies. Each
candidate is scored at every rate the walk may pass it at (RATES, times the speed; a frame's
motion grows in proportion to the pace), so a room that likes motion gets a faster walk and one
that likes calm a slower one (the plain pace until the likes show that motion matters). One
Thompson draw of the preference picks the candidate and its rate together.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from live.analysis.frame import FrameAnalyser
from live.recommend.service import CANDIDATES, Recommender
from live.voices.latent import LatentPath, catmull_rom, seed_latent, slerp, to_sphere

Render = Callable[[np.ndarray], np.ndarray]  # a latent (nz,) -> its frame (H, W, 3) uint8
NEAR = 0.35  # how far a candidate near a liked latent is moved toward a fresh one (0..1)
# A fresh candidate is a new point plus PACE times the key before: a negative pace puts it on
# the far side (a longer way there: more motion), a positive one near (less). At cos -0.7 to the
# key before the walk's frames change 1.8x as much as at a plain key, at +0.7 half as much.
# Not much farther: a way through the far side bunches its motion in a jolt half-way.
PACES = (0.0, -1.0, 1.0, -0.5, 0.5)
# How fast the walk may pass a chosen key, times the speed (the pace eases from key to key).
# Slower than 0.6 would hold one picture for more than a few seconds at speed 1; at 3 a key
# passes every 1.3 s, a lively walk but not a flicker.
RATES = (0.6, 1.0, 1.5, 2.0, 3.0)


class KeyPicker:
    """Chooses keyframe (walk position + 3) of one voice's path; call step() once a frame."""

    def __init__(self, recommender: Recommender, voice: str, nz: int, render: Render) -> None:
        self.recommender, self.voice, self.nz, self.render = recommender, voice, nz, render
        self.key = -1  # the keyframe being decided
        self.found: list[tuple[np.ndarray, dict[str, Any]]] = []
        # the candidate being measured: its latent, its look, the analyser of its motion
        self.pending: tuple[np.ndarray, dict[str, Any], FrameAnalyser | None] | None = None
        self.decided = -1
        self.chosen = 0  # keyframes the preference chose (not the plain walk's)

    def step(self, path: LatentPath, truncation: float, keys_per_frame: float) -> None:
        """Render one frame toward the keyframe three ahead; with enough candidates, decide it.

        Each candidate takes three frames: its own (its look), then two a frame apart in the
        middle of the walk's way to it from the key before (their difference is the motion
        the walk will show there, so that a taste for motion can be learned and followed; the
        motion at a key itself says little about it). A key gets as many candidates as a
        third of its frames allow, up to CANDIDATES.
        """
        ahead = math.floor(path.walk_pos) + 3
        if ahead == self.decided:
            return
        if ahead != self.key:
            self.key, self.found, self.pending = ahead, [], None
        if self.pending is None:
            index = ahead * CANDIDATES + len(self.found)
            z = to_sphere(seed_latent(path.seed, index + 50_000, self.nz))
            liked = self.recommender.liked_latents(self.voice, self.nz)
            pace = PACES[(len(self.found) // 2) % len(PACES)]
            if liked and len(self.found) % 2:  # near a liked latent: half the pace, to stay near
                base = liked[int(np.random.default_rng([path.seed, index]).integers(len(liked)))]
                z, pace = slerp(base, z, NEAR), pace / 2
            z = to_sphere(z + pace * path.key(ahead - 1))
            self.pending = (z, FrameAnalyser()(self.render(z * truncation)), None)
            return
        z, features, middle = self.pending
        keys = (path.key(ahead - 2), path.key(ahead - 1), z, path.key(ahead + 1))
        if middle is None:
            middle = FrameAnalyser()
            middle(self.render(to_sphere(catmull_rom(*keys, 0.5)) * truncation))
            self.pending = (z, features, middle)
            return
        self.pending = None
        later = to_sphere(catmull_rom(*keys, 0.5 + min(0.5, keys_per_frame)))  # at rate 1
        moved = middle(self.render(later * truncation))
        features |= {k: moved[k] for k in ("motion", "motion_x", "motion_y")}
        self.found.append((z, features))
        now = keys_per_frame * path.walk_rate()
        frames_per_key = 1 / now if now > 0 else math.inf
        if len(self.found) < max(2, min(CANDIDATES, int(frames_per_key // 3) - 1)):
            return
        self.decided = ahead
        # Every candidate at every rate: mid-way, the pace has eased half-way to the key's rate.
        # Only once the likes say motion matters: the score is linear in motion, so any weight
        # on it, however doubtful, would take the slowest or the fastest pace, and a fast one
        # leaves frames for fewer candidates.
        rates = RATES if self.recommender.cares_about(self.voice, "motion") else (1.0,)
        mid_rates = [(path.rate(ahead - 1) + rate) / 2 for rate in rates]
        options = [(z, features | {"motion": min(1.0, features["motion"] * mid)})
                   for z, features in self.found for mid in mid_rates]
        choice = self.recommender.choose(self.voice, options)
        if choice is None:
            return  # no likes yet: the plain walk's key and pace stay
        candidate, rate_index = divmod(choice, len(rates))
        strength = float(self.recommender.strength.value)
        plain = path.seed_key(ahead)
        path.set_key(ahead, slerp(plain, self.found[candidate][0], strength),
                     rate=1 + strength * (rates[rate_index] - 1))
        self.chosen += 1

"""The recommend walk's keyframes: candidates rendered one per frame, the preferred one taken."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from live.analysis.frame import FrameAnalyser
from live.recommend.service import CANDIDATES, Recommender
from live.voices.latent import LatentPath, seed_latent, slerp, to_sphere

Render = Callable[[np.ndarray], np.ndarray]  # a latent (nz,) -> its frame (H, W, 3) uint8


class KeyPicker:
    """Chooses keyframe (walk position + 3) of one voice's path; call step() once a frame."""

    def __init__(self, recommender: Recommender, voice: str, nz: int, render: Render) -> None:
        self.recommender, self.voice, self.nz, self.render = recommender, voice, nz, render
        self.key = -1  # the keyframe being decided
        self.found: list[tuple[np.ndarray, dict[str, Any]]] = []
        self.decided = -1
        self.before = FrameAnalyser()  # primed with the frame of the key before the one decided
        self.chosen = 0  # keyframes the preference chose (not the plain walk's)

    def step(self, path: LatentPath, truncation: float, keys_per_frame: float) -> None:
        """Render one more candidate for the keyframe three ahead; with all, decide it.

        A candidate's motion is how much its frame differs from the key before it, times the
        keys the walk covers per frame: what the motion feature of the frames between the two
        will be, so that a taste for motion can be learned and followed.
        """
        ahead = math.floor(path.walk_pos) + 3
        if ahead == self.decided:
            return
        if ahead != self.key:
            self.key, self.found = ahead, []
            before = path.key(ahead - 1)
            self.before = FrameAnalyser()
            self.before(self.render(before * truncation))
        z = to_sphere(seed_latent(path.seed, ahead * CANDIDATES + len(self.found) + 50_000, self.nz))
        analyser = FrameAnalyser(previous=self.before.previous)
        features = analyser(self.render(z * truncation))
        features["motion"] = min(1.0, float(features["motion"]) * keys_per_frame)
        self.found.append((z, features))
        if len(self.found) < CANDIDATES:
            return
        choice = self.recommender.choose(self.voice, self.found)
        self.decided = ahead
        if choice is None:
            return  # no likes yet: the plain walk's key stays
        plain = to_sphere(seed_latent(path.seed, ahead + 1000, self.nz))
        path.set_key(ahead, slerp(plain, self.found[choice][0], float(self.recommender.strength.value)))
        self.chosen += 1

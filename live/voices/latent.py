"""Latent paths for the visual voice: walk, loop, hold and xy, with no visible jumps."""

from __future__ import annotations

import math

import numpy as np

MODES = ("walk", "loop", "hold", "xy", "recommend")  # recommend: a walk whose keys are chosen
WALK_KEYS_PER_S = 0.25  # at speed 1, one new keyframe every 4 s
LOOP_PERIOD_S = 16.0  # at speed 1, one turn of the loop in 16 s


def seed_latent(seed: int, index: int, nz: int) -> np.ndarray:
    """The index-th latent of a seed: a standard normal draw, random access by (seed, index)."""
    rng = np.random.default_rng([seed & 0xFFFFFFFF, index & 0xFFFFFFFF])
    return rng.standard_normal(nz)


def to_sphere(z: np.ndarray) -> np.ndarray:
    """Scale onto the sphere of radius sqrt(nz), where Gaussian latents live."""
    norm = float(np.linalg.norm(z))
    if norm < 1e-8:
        return np.zeros_like(z)
    return z * (math.sqrt(z.shape[0]) / norm)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between two latents on the same sphere."""
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na < 1e-8 or nb < 1e-8:
        return (1 - t) * a + t * b
    cos = float(np.clip(np.dot(a, b) / (na * nb), -1.0, 1.0))
    omega = math.acos(cos)
    if omega < 1e-4:
        return (1 - t) * a + t * b
    s = math.sin(omega)
    return (math.sin((1 - t) * omega) / s) * a + (math.sin(t * omega) / s) * b


def catmull_rom(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, p3: np.ndarray,
                t: float) -> np.ndarray:
    """Cubic through p1 (t=0) and p2 (t=1) with continuous first derivative across keys."""
    t2, t3 = t * t, t * t * t
    return 0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                  + (-p0 + 3 * p1 - 3 * p2 + p3) * t3)


def smoothstep(t: float) -> float:
    """0 to 1 with zero slope at both ends."""
    return t * t * (3 - 2 * t)


class LatentPath:
    """Where the latent is, advanced one frame at a time; deterministic given its inputs."""

    def __init__(self, nz: int, seed: int = 0, transition_s: float = 0.5) -> None:
        self.nz = nz
        self.transition_s = transition_s
        self.mode = "walk"
        self.walk_pos = 0.0  # keyframe units
        self.loop_angle = 0.0
        self.turns = 0  # loop turns completed
        self.z = np.zeros(nz)
        self._fade_from: np.ndarray | None = None
        self._fade_t = 1.0
        self.jump(seed)
        self.z = self._target(0.0, 0.0)
        self._fade_from = None

    def jump(self, seed: int, anchor: np.ndarray | None = None) -> None:
        """Restart every path from a seed (or a given latent), fading from where we are."""
        self.seed = seed
        self.anchor = to_sphere(anchor if anchor is not None else seed_latent(seed, 0, self.nz))
        self._keys: dict[int, np.ndarray] = {0: self.anchor}
        self._rates: dict[int, float] = {}  # the walk's pace at a key, times the speed (recommend)
        self.loop_b = to_sphere(seed_latent(seed, -1, self.nz))
        self.plane = (self.anchor, to_sphere(seed_latent(seed, -2, self.nz)),
                      to_sphere(seed_latent(seed, -3, self.nz)))
        self.walk_pos = 0.0
        self.loop_angle = 0.0
        self.hold_z = self.anchor
        self._start_fade()

    def _start_fade(self) -> None:
        self._fade_from = self.z.copy()
        self._fade_t = 0.0

    def key(self, k: int) -> np.ndarray:
        """The walk's k-th keyframe (chosen, or the seed's), looked at: nothing is stored or
        forgotten (a look far ahead must not drop a key the walk still uses)."""
        known = self._keys.get(k)
        return known if known is not None else self.seed_key(k)

    def seed_key(self, k: int) -> np.ndarray:
        """The plain walk's k-th keyframe: the seed's, whatever was chosen."""
        return to_sphere(seed_latent(self.seed, k + 1000, self.nz))

    def _key(self, k: int) -> np.ndarray:
        if k not in self._keys:
            self._keys[k] = self.seed_key(k)
            for old in [j for j in self._keys if j < k - 4 and j != 0]:
                del self._keys[old]
                self._rates.pop(old, None)
        return self._keys[k]

    def set_key(self, k: int, z: np.ndarray, rate: float = 1.0) -> None:
        """Choose the walk's k-th keyframe (one not yet in use: at least 3 ahead), and how fast
        the walk passes it (times the speed)."""
        self._keys[k] = to_sphere(z)
        self._rates[k] = rate

    def rate(self, k: int) -> float:
        """How fast the walk passes key k, times the speed: 1 unless chosen."""
        return self._rates.get(k, 1.0)

    def walk_rate(self) -> float:
        """The pace where the walk is: eased from the key behind's to the key ahead's, so a
        change of pace never jerks."""
        k = math.floor(self.walk_pos)
        return self.rate(k) + (self.rate(k + 1) - self.rate(k)) * smoothstep(self.walk_pos - k)

    def _target(self, x: float, y: float) -> np.ndarray:
        if self.mode in ("walk", "recommend"):
            k = math.floor(self.walk_pos)
            t = self.walk_pos - k
            p0, p1, p2, p3 = (self._key(k + i) for i in (-1, 0, 1, 2))
            return to_sphere(catmull_rom(p0, p1, p2, p3, t))
        if self.mode == "loop":
            a, b = self.anchor, self.loop_b
            return to_sphere(math.cos(self.loop_angle) * a + math.sin(self.loop_angle) * b)
        if self.mode == "xy":
            c0, c1, c2 = self.plane
            return to_sphere(c0 + x * c1 + y * c2)
        return self.hold_z

    def set_mode(self, mode: str) -> None:
        if mode == self.mode:
            return
        if mode == "hold":
            self.hold_z = self.z.copy()
        self.mode = mode
        self._start_fade()

    def step(self, dt: float, speed: float, x: float = 0.0, y: float = 0.0) -> np.ndarray:
        """Advance by dt seconds of nominal frame time; return the latent on the sphere."""
        if self.mode in ("walk", "recommend"):
            self.walk_pos += speed * WALK_KEYS_PER_S * dt * self.walk_rate()
        elif self.mode == "loop":
            angle = self.loop_angle + 2 * math.pi * speed * dt / LOOP_PERIOD_S
            self.turns += int(angle // (2 * math.pi))  # a turn ended (the status feed's pulse)
            self.loop_angle = angle % (2 * math.pi)
        target = self._target(x, y)
        if self._fade_from is not None and self._fade_t < 1.0:
            self._fade_t = min(1.0, self._fade_t + dt / max(self.transition_s, 1e-6))
            target = slerp(self._fade_from, target, smoothstep(self._fade_t))
        self.z = target
        return target

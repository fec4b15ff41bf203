"""Latent paths: smooth walks, seamless loops, holds and an XY plane."""

from __future__ import annotations

import math

import numpy as np

from live.voices.latent import LatentPath, seed_latent, slerp, to_sphere

NZ = 64


def steps(path: LatentPath, n: int, dt: float = 1 / 30, speed: float = 1.0, **kw) -> np.ndarray:
    return np.stack([path.step(dt, speed, **kw) for _ in range(n)])


def test_walk_is_smooth_and_stays_on_the_sphere() -> None:
    path = LatentPath(NZ, seed=1)
    zs = steps(path, 30 * 20, speed=4.0)  # 20 keyframes passed
    norms = np.linalg.norm(zs, axis=1)
    assert np.allclose(norms, math.sqrt(NZ))
    jumps = np.linalg.norm(np.diff(zs, axis=0), axis=1)
    assert jumps.max() < 4 * np.median(jumps)  # no visible jump at keyframes
    assert np.linalg.norm(zs[0] - zs[-1]) > 1.0  # and it goes somewhere


def test_loop_returns_exactly_to_its_start() -> None:
    path = LatentPath(NZ, seed=2)
    path.set_mode("loop")
    path.transition_s = 0.0
    path.step(0.0, 1.0)
    start = path.step(0.0, 1.0).copy()
    zs = steps(path, 16 * 30, speed=1.0)  # one period at speed 1
    assert np.allclose(zs[-1], start, atol=1e-6)


def test_hold_stays_and_xy_is_a_plane_through_the_anchor() -> None:
    path = LatentPath(NZ, seed=3)
    steps(path, 10)
    path.set_mode("hold")
    held = steps(path, 60)
    assert np.allclose(held[-1], held[-2])
    path.set_mode("xy")
    path.transition_s = 0.0
    center = path.step(1 / 30, 1.0, 0.0, 0.0)
    assert np.allclose(center, path.anchor)
    corner = path.step(1 / 30, 1.0, 1.0, 1.0)
    assert not np.allclose(corner, center)


def test_seed_jump_fades_and_is_deterministic() -> None:
    a, b = LatentPath(NZ, seed=4), LatentPath(NZ, seed=4)
    assert np.array_equal(steps(a, 50), steps(b, 50))
    a.jump(9)
    faded = steps(a, 30, speed=0.0)  # 0.5 s transition at 30 fps, walk standing still
    assert np.allclose(faded[-1], to_sphere(seed_latent(9, 0, NZ)))
    assert np.linalg.norm(np.diff(faded, axis=0), axis=1).max() < 3.0


def test_slerp_endpoints() -> None:
    x, y = to_sphere(seed_latent(0, 0, NZ)), to_sphere(seed_latent(0, 1, NZ))
    assert np.allclose(slerp(x, y, 0.0), x) and np.allclose(slerp(x, y, 1.0), y)
    assert math.isclose(np.linalg.norm(slerp(x, y, 0.5)), math.sqrt(NZ), rel_tol=1e-6)

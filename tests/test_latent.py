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


def test_a_chosen_rate_speeds_the_walk_past_its_key_without_a_jerk() -> None:
    plain, fast = LatentPath(NZ, seed=1), LatentPath(NZ, seed=1)
    for k in range(3, 16):
        fast.set_key(k, fast.key(k), rate=2.0)  # the same keys, passed twice as fast
    a, b = steps(plain, 30 * 24), steps(fast, 30 * 24)
    # 24 s at 4 s a key: 6 keys plain; fast: 2 keys at rate 1, one easing to 2, then 2 s a key
    assert fast.walk_pos > 1.5 * plain.walk_pos
    assert np.allclose(a[:30 * 8], b[:30 * 8])  # keys 0 to 2 still at rate 1: the same frames
    rates = []
    probe = LatentPath(NZ, seed=1)
    probe.set_key(3, probe.key(3), rate=2.0)
    for _ in range(30 * 20):
        probe.step(1 / 30, 1.0)
        rates.append(probe.walk_rate())
    assert rates[0] == 1.0 and max(rates) > 1.99 and rates[-1] == 1.0
    assert max(abs(x - y) for x, y in zip(rates, rates[1:], strict=False)) < 0.1  # eased, key to key


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

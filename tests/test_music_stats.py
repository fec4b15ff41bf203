"""Figures of a stretch of music: texture, rhythm histograms, key and parallel fifths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models import music_stats as ms


def chorale(upper: list[int], lower: list[int]) -> np.ndarray:
    """Two voices in quarter notes."""
    rows = [(p, float(i), i + 1.0, 80) for i, p in enumerate(upper)]
    rows += [(p, float(i), i + 1.0, 80) for i, p in enumerate(lower)]
    return ms.notes_array(rows)


def test_texture_counts_what_sounds_together() -> None:
    four = ms.notes_array([(60 + k, 0.0, 4.0, 80) for k in (0, 4, 7, 12)])
    assert ms.texture(four) == {"polyphony": 4.0, "voices": 4.0}
    line = ms.notes_array([(60 + k, float(k), k + 0.5, 80) for k in range(8)])
    assert ms.texture(line)["polyphony"] == 1.0  # rests between notes do not count


def test_parallel_fifths_are_found_and_contrary_motion_is_not() -> None:
    parallel = chorale([67, 69, 71, 72], [60, 62, 64, 65])  # fifths all the way up
    contrary = chorale([67, 65, 64, 62], [60, 62, 64, 65])
    assert ms.parallels_per_100_beats(parallel) == pytest.approx(100 * 3 / 4)
    assert ms.parallels_per_100_beats(contrary) == 0.0


def test_histograms_and_kl() -> None:
    eighths = ms.notes_array([(60, k / 2, k / 2 + 0.5, 80) for k in range(16)])
    assert ms.duration_hist(eighths)[4] == 1.0  # every note half a beat long
    onsets = ms.onset_hist(eighths)
    assert onsets[0] == onsets[6] == 0.5
    assert ms.kl(onsets, onsets) == pytest.approx(0.0, abs=1e-9)
    triplets = ms.notes_array([(60, k / 3, k / 3 + 1 / 3, 80) for k in range(12)])
    assert ms.kl(ms.onset_hist(triplets), onsets) > 1.0


def test_in_key_and_velocity_spread() -> None:
    scale = ms.notes_array([(p, float(i), i + 1.0, 60 + 10 * (i % 3))
                            for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72] * 2)])
    assert ms.in_key(scale) == 1.0
    assert math.isnan(ms.in_key(scale[:4]))  # too few notes to find a key
    chromatic = ms.notes_array([(60 + i, float(i), i + 1.0, 80) for i in range(24)])
    assert ms.in_key(chromatic) < 0.8
    spread = ms.velocity_spread(scale)
    assert (spread["velocity_min"], spread["velocity_max"]) == (60, 80) and spread["velocity_std"] > 5

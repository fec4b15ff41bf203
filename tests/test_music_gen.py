"""The music voice's generator in process, without a server."""

from __future__ import annotations

import json
import math
import time


def test_generation_runs_offline_and_reports_its_speed() -> None:
    """Figures only (no threshold): the untrained model's speed, printed for the record."""
    import torch

    from live.voices.music_gen import MusicGen, Settings, load_music_model

    model, _ = load_music_model({"model": "random"}, torch.device("cpu"))
    gen = MusicGen(model, "music", 0)
    gen.restart(0, "bach")
    t0 = time.perf_counter()
    notes = gen.run(Settings(), until=12 * 32)
    dt = time.perf_counter() - t0
    assert gen.cursor >= 12 * 32 and all(n.end > n.start for n in notes)
    print(json.dumps({"events": gen.events, "seconds": round(dt, 4),
                      "x_real_time_at_120bpm": round(16.0 / dt, 1)}))
    assert not math.isnan(dt)

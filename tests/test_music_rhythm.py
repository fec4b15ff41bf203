"""The groove prior: onset shares of a corpus, the weights they give, and the steer they make."""

from __future__ import annotations

import json

import numpy as np
import torch

from live.voices.music_gen import MusicGen, Settings, load_music_model
from models import music_rhythm
from models.music_data import TICKS_PER_BEAT, load_corpus
from tests.test_models_music import tiny_corpus


def test_onset_shares_of_eighth_notes_and_the_weights_they_give(tmp_path) -> None:
    nc = load_corpus(tiny_corpus(tmp_path / "tiny.npz"))
    shares = music_rhythm.onset_shares(nc, 12)
    eighth = TICKS_PER_BEAT // 2 // (TICKS_PER_BEAT // 12)  # the step of the off-beat eighth
    for style in ("up", "down"):
        s = np.array(shares[style])
        assert abs(s.sum() - 1) < 1e-4
        assert set(np.flatnonzero(s > 0)) <= {0, eighth}
    w = music_rhythm.groove_weights([0.5, 0.0, 0.25, 0.25])
    assert list(w) == [0.0, -music_rhythm.MAX_PENALTY, np.log(0.5), np.log(0.5)]


def test_the_groove_pulls_onsets_onto_the_styles_positions() -> None:
    model, _ = load_music_model({"model": "random"}, torch.device("cpu"))
    allowed = np.full(12, -music_rhythm.MAX_PENALTY)
    allowed[[0, 6]] = 0.0  # on the beat and the off-beat eighth only

    def on_grid(groove: float) -> float:
        gen = MusicGen(model, "music", 0, grooves={"bach": allowed})
        gen.restart(0, "bach")
        notes = gen.run(Settings(groove=groove), until=12 * 64)
        return float(np.mean([n.start % 6 == 0 for n in notes]))

    free, steered = on_grid(0.0), on_grid(2.0)
    print(f"onsets on the eighth-note grid: {free:.2f} free, {steered:.2f} steered")
    assert free < 0.5 and steered > 0.9


def test_a_model_without_a_readable_prior_plays_unsteered(tmp_path) -> None:
    assert music_rhythm.for_model(str(tmp_path / "nosuch")) == {}
    (tmp_path / "broken.rhythm.json").write_text("{not json")
    assert music_rhythm.for_model(str(tmp_path / "broken.json")) == {}


def test_the_command_writes_the_prior_beside_the_weights(tmp_path, capsys) -> None:
    data = tiny_corpus(tmp_path / "tiny.npz")
    music_rhythm.main(["corpus", "--data", str(data), "--out-dir", str(tmp_path)])
    written = json.loads((tmp_path / "corpus.rhythm.json").read_text())
    assert set(written["onsets"]) == {"up", "down"} and written["steps_per_beat"] == 12
    assert len(written["source"]["sha256"]) == 64 and "training pieces" in written["source"]["pieces"]
    shipped = music_rhythm.for_model("corpus")
    assert set(shipped) >= {"bach", "irish"} and all(len(w) == 12 for w in shipped.values())

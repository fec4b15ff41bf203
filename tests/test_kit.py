"""The voice kit: loading by name with its fallbacks and notes, seeds, and what a real server says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from live.voices.kit import UNTRAINED, load_model, model_note, seed_for
from live.voices.text import untrained_text_model
from live.voices.visual import untrained_generator
from models import weights
from tests.conftest import start_server


def test_random_builds_an_untrained_model_the_same_every_time() -> None:
    spec = {"model": UNTRAINED, "resolution": 32, "seed": 4}
    a, card = load_model("gan", spec, torch.device("cpu"), untrained_generator)
    b, _ = load_model("gan", spec, torch.device("cpu"), untrained_generator)
    assert card["trained"] is False and card["arch"]["resolution"] == 32
    assert not a.training
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(),
                                                 strict=True))
    assert model_note(card, "UNTRAINED!") == "UNTRAINED!"


def test_a_model_of_another_kind_is_refused() -> None:
    with pytest.raises(weights.WeightsError, match="'shakespeare' is a text model, not a gan one"):
        load_model("gan", {"model": "shakespeare"}, torch.device("cpu"), untrained_generator)


def test_a_missing_model_is_refused_and_the_error_lists_what_exists() -> None:
    with pytest.raises(weights.WeightsError) as e:
        load_model("text", {"model": "no_such_model"}, torch.device("cpu"), untrained_text_model)
    assert "no_such_model" in str(e.value) and "shakespeare" in str(e.value)


def test_shipped_models_load_trained_and_note_only_what_is_below_its_bar() -> None:
    _, card = load_model("text", {"model": "shakespeare"}, torch.device("cpu"), untrained_text_model)
    assert card["trained"] is True
    assert model_note(card, "UNTRAINED") is None
    weak = card | {"below_bar": True, "bar": {"note": "1.9 nats per character (bar: 1.6)"}}
    assert model_note(weak, "UNTRAINED") == "BELOW ITS QUALITY BAR: 1.9 nats per character (bar: 1.6)"


def test_seeds_differ_per_voice_and_restart_and_repeat() -> None:
    seeds = {seed_for(0, v, k) for v in ("music", "music2") for k in range(3)}
    assert len(seeds) == 6
    assert seed_for(7, "text", 2) == seed_for(7, "text", 2)
    assert all(0 <= s < 2**63 for s in seeds)


def test_server_announces_a_model_below_its_bar(tmp_path: Path) -> None:
    """Start-up log, ready line and /status all say so, and the voice still plays."""
    model, arch = untrained_generator({"resolution": 32})
    note = "closed -4% of the gap between untrained and real images (bar: 50%)"
    weights.save(model, str(tmp_path / "weak"), {
        "name": "weak", "kind": "gan", "arch": arch, "trained": True, "below_bar": True,
        "bar": {"metric": "gap_closed", "value": -0.04, "min": 0.5, "note": note}})
    patch = tmp_path / "weak.toml"
    patch.write_text(f'[voices.visual]\nkind = "visual"\nmodel = {json.dumps(str(tmp_path / "weak"))}\n'
                     'fps = 10\n')
    srv = start_server(patch=patch)
    try:
        assert srv.ready["below_bar"] == {"visual": f"BELOW ITS QUALITY BAR: {note}"}
        assert srv.ready["untrained"] == []
        status = srv.get_json("/status")["voices"]["visual"]
        assert status["below_bar"] is True and note in status["note"]
        assert any("BELOW ITS QUALITY BAR" in line and note in line for line in srv.stderr_lines)
        assert any("open http://127.0.0.1:" in line for line in srv.stderr_lines)
    finally:
        assert srv.stop() == 0

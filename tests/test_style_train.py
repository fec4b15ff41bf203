"""models/style_train.py through python -m models.train style: a tiny run stopped and resumed,
a time budget, the card's figures (input, network, Gatys) and the style images' records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models import weights
from models.style import StyleNet
from models.style_train import DEFAULT_STYLES, load_styles
from models.train import main

TINY = ["--content", "skimage", "--threads", "1", "--arch", "crop=32", "--arch", "channels=[8,16]",
        "--arch", "blocks=1", "--eval-quick", "--quiet", "--val-every", "2", "--ckpt-every", "2"]


@pytest.fixture
def styles(tmp_path: Path) -> Path:
    folder = tmp_path / "styles"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(folder / "noise.png")
    stripes = np.zeros((40, 40, 3), np.uint8)
    stripes[:, ::4] = (255, 40, 0)
    Image.fromarray(stripes).save(folder / "stripes.png")
    return folder


def run(tmp_path: Path, styles: Path, *extra: str) -> None:
    main(["style", "--styles", str(styles), "--name", "tiny", "--out-dir", str(tmp_path / "out"),
          "--ckpt-dir", str(tmp_path / "ckpt"), *TINY, *extra])


def test_a_run_stopped_and_resumed_ships_a_card_with_the_figures(tmp_path: Path, styles: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    run(tmp_path, styles, "--steps", "4", "--stop-at", "2")
    assert (tmp_path / "ckpt" / "tiny" / "state.json").is_file()
    assert not (tmp_path / "out" / "tiny.json").exists()  # stopped: a checkpoint, no weights
    run(tmp_path, styles, "--steps", "4", "--resume")
    assert "resumed tiny at step 2" in capsys.readouterr().out
    model, card = weights.load(str(tmp_path / "out" / "tiny.json"))
    assert isinstance(model, StyleNet) and card["kind"] == "style" and card["steps"] == 4
    assert card["arch"]["styles"] == ["noise", "stripes"]
    figures = card["metrics"]
    for row in figures["per_style"].values():
        assert set(row) >= {"input", "network", "gatys", "style_gap_closed"}
        assert row["input"]["content"] == 0.0 and row["gatys"]["style"] < row["input"]["style"]
    assert figures["side"] == 32 and figures["gatys_steps"] == 10
    records = card["data"]["styles"]["images"]
    assert [r["file"] for r in records] == ["noise.png", "stripes.png"] and len(records[0]["sha256"]) == 64
    assert card["data"]["loss"]["features"] == "random"


def test_a_time_budget_stops_the_run_and_still_ships(tmp_path: Path, styles: Path) -> None:
    run(tmp_path, styles, "--steps", "1000", "--max-minutes", "0.001", "--no-eval")
    card = json.loads((tmp_path / "out" / "tiny.json").read_text())
    assert card["steps"] < 1000


def test_an_empty_style_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "none").mkdir()
    with pytest.raises(SystemExit) as stop:
        run(tmp_path, tmp_path / "none", "--steps", "2")
    assert stop.value.code == 2


def test_the_shipped_style_images_carry_source_licence_and_checksum() -> None:
    names, images, info = load_styles(DEFAULT_STYLES)
    assert len(names) >= 4 and all(im.shape[0] == 1 and im.shape[1] == 3 for im in images)
    for record in info["images"]:
        assert record["licence"].startswith("CC-PDDC") and record["package"] == "openclipart-png"
        assert len(record["sha256"]) == 64 and record["source"].startswith("/usr/share/openclipart")
    manifest = json.loads((DEFAULT_STYLES / "manifest.json").read_text())
    assert {e["sha256"] for e in manifest["styles"]} == {r["sha256"] for r in info["images"]}

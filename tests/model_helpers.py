"""Helpers for the model tests (tests/test_models_*.py): tiny training runs, comparisons.

They live in tests/, not in the shipped models package: `from tests.model_helpers import ...`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from models.train import parse_args, train
from models.weights import WEIGHTS_DIR as WEIGHTS


def run_train(argv: list[str], tmp: Path) -> dict:
    argv = argv + ["--out-dir", str(tmp / "w"), "--ckpt-dir", str(tmp / "ck"), "--quiet",
                   "--eval-quick"]
    return train(parse_args(argv), argv)


def same_tensors(a: Path, b: Path) -> bool:
    ta, tb = load_file(str(a)), load_file(str(b))
    return ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)


def resume_matches(argv: list[str], tmp: Path, steps: int) -> bool:
    """Training `steps` straight equals training half, stopping, and resuming."""
    run_train(argv + ["--name", "straight", "--steps", str(steps), "--no-eval"], tmp)
    run_train(argv + ["--name", "halves", "--steps", str(steps), "--no-eval",
                      "--stop-at", str(steps // 2)], tmp)
    assert not (tmp / "w" / "halves.safetensors").exists()  # stopped before the end
    run_train(argv + ["--name", "halves", "--steps", str(steps), "--no-eval", "--resume"], tmp)
    return same_tensors(tmp / "w" / "straight.safetensors", tmp / "w" / "halves.safetensors")


def shipped(name: str) -> bool:
    return (WEIGHTS / f"{name}.json").is_file() and (WEIGHTS / f"{name}.safetensors").is_file()

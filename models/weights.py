"""Load and save shipped weights: NAME.safetensors beside its JSON card NAME.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


class WeightsError(Exception):
    """A weights file or card is missing, corrupt or does not match its network."""


def paths(name: str) -> tuple[Path, Path]:
    """Return (safetensors, card) paths for a NAME or a path to either file."""
    p = Path(name)
    if p.suffix in (".safetensors", ".json") or p.parent != Path("."):
        stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
    else:
        stem = WEIGHTS_DIR / name
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def load_card(name: str) -> dict[str, Any]:
    """Read the JSON card of NAME, with a clear error when it is missing or broken."""
    _, card_path = paths(name)
    if not card_path.is_file():
        raise WeightsError(f"weights card not found: {card_path}")
    try:
        card = json.loads(card_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise WeightsError(f"weights card {card_path} is not valid JSON: {e}") from None
    if not isinstance(card, dict) or "kind" not in card or "arch" not in card:
        raise WeightsError(f"weights card {card_path} lacks 'kind' or 'arch'")
    return card


def build(kind: str, arch: dict[str, Any]) -> nn.Module:
    """Construct an untrained network of KIND from its architecture config."""
    try:
        if kind == "gan":
            from models.gan import GANConfig, Generator

            return Generator(GANConfig(**arch))
        if kind == "music":
            from models.music_rnn import MusicConfig, MusicRNN

            return MusicRNN(MusicConfig(**arch))
        if kind == "text":
            from models.text_rnn import TextConfig, TextRNN

            return TextRNN(TextConfig(**arch))
    except (TypeError, ValueError) as e:
        raise WeightsError(f"architecture config for kind {kind!r} is invalid: {e}") from None
    raise WeightsError(f"unknown model kind {kind!r} (expected gan, music or text)")


def load(name: str, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Build the network NAME's card describes and load its weights, in eval mode."""
    st_path, card_path = paths(name)
    card = load_card(name)
    if not st_path.is_file():
        raise WeightsError(f"weights file not found: {st_path} (card {card_path} exists)")
    model = build(card["kind"], card["arch"])
    try:
        state = load_file(str(st_path), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise WeightsError(f"weights file {st_path} is corrupt or truncated: {e}") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0]
        raise WeightsError(f"weights {st_path} do not match the network in {card_path}: {first}") from None
    return model.to(device).eval(), card


def save(model: nn.Module, name: str, card: dict[str, Any]) -> tuple[Path, Path]:
    """Write NAME.safetensors and NAME.json (the card) atomically."""
    st_path, card_path = paths(name)
    st_path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    tmp = st_path.with_suffix(".safetensors.tmp")
    save_file(state, str(tmp))
    tmp.replace(st_path)
    tmp_card = card_path.with_suffix(".json.tmp")
    tmp_card.write_text(json.dumps(card, indent=2) + "\n")
    tmp_card.replace(card_path)
    return st_path, card_path

"""Load and save shipped weights: NAME.safetensors beside its JSON card NAME.json.

A card that went through evaluation also says whether the model clears its kind's quality
bar: `"below_bar": true|false` and `"bar": {"metric", "value", "min" or "max", "note"}`
(see quality_bar). A card written with `--no-eval` has neither key: unknown, not good.
"""

from __future__ import annotations

import json
import os
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


def available(folder: Path = WEIGHTS_DIR) -> list[tuple[str, str]]:
    """(name, kind) of every readable card in folder, sorted by name."""
    out = []
    for cp in sorted(folder.glob("*.json")):
        try:
            card = json.loads(cp.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(card, dict) and "kind" in card:
            out.append((cp.stem, str(card["kind"])))
    return out


def _not_found(name: str, card_path: Path) -> WeightsError:
    folder = card_path.parent
    try:
        where = str(folder.relative_to(Path.cwd()))
    except ValueError:
        where = str(folder)
    models = ", ".join(f"{n} ({k})" for n, k in available(folder)) or "none"
    return WeightsError(f"model {Path(name).stem!r} not found in {where}; available: {models} "
                        f"(weights card not found: {card_path})")


def load_card(name: str) -> dict[str, Any]:
    """Read the JSON card of NAME, with a clear error when it is missing or broken.

    A missing model's error lists the models there are (name and kind).
    """
    _, card_path = paths(name)
    if not card_path.is_file():
        raise _not_found(name, card_path)
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
            from models.gan import build_generator

            return build_generator(arch)
        if kind == "music":
            from models.music_rnn import MusicConfig, MusicRNN

            return MusicRNN(MusicConfig(**arch))
        if kind == "text":
            from models.text_rnn import TextConfig, TextRNN

            return TextRNN(TextConfig(**arch))
        if kind == "upscale":
            from models.upscale import UpscaleConfig, Upscaler

            return Upscaler(UpscaleConfig(**arch))
        if kind == "style":
            from models.style import StyleConfig, StyleNet

            return StyleNet(StyleConfig(**arch))
        if kind == "strokes":
            from models.strokes import StrokeConfig, StrokeRNN

            return StrokeRNN(StrokeConfig(**arch))
    except (TypeError, ValueError) as e:
        raise WeightsError(f"architecture config for kind {kind!r} is invalid: {e}") from None
    raise WeightsError(f"unknown model kind {kind!r} (expected gan, music, text, upscale, style or strokes)")


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
    for key, tensor in state.items():  # flipped bytes in the data read as NaN or infinity
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise WeightsError(f"weights file {st_path} is corrupt: tensor {key!r} holds {bad} "
                               "NaN or infinite value(s)")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0]
        raise WeightsError(f"weights {st_path} do not match the network in {card_path}: {first}") from None
    return model.to(device).eval(), card


def save(model: nn.Module, name: str, card: dict[str, Any]) -> tuple[Path, Path]:
    """Write NAME.safetensors and NAME.json (the card) atomically, world-readable (0644)."""
    st_path, card_path = paths(name)
    st_path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    tmp = st_path.with_suffix(".safetensors.tmp")
    save_file(state, str(tmp))
    os.chmod(tmp, 0o644)
    tmp.replace(st_path)
    tmp_card = card_path.with_suffix(".json.tmp")
    tmp_card.write_text(json.dumps(card, indent=2) + "\n")
    os.chmod(tmp_card, 0o644)
    tmp_card.replace(card_path)
    return st_path, card_path


# ----------------------------------------------------------------------------- quality bar

GAN_MIN_GAP = 0.5  # GAN: at least half the SWD gap between an untrained generator and real
RNN_MARGIN = 0.1  # music and text: at least 10% fewer nats than the bigram baseline
STROKES_MIN_GAIN = 0.25  # strokes: nats per point below the Gaussian + pen-bigram baseline


def quality_bar(kind: str, metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The bar of a model of KIND from its held-out metrics; None when they lack the figures.

    gan: gap_closed >= 0.5. strokes: baseline_nll - val_nll >= 0.25 nats per point.
    music: val_ce <= 0.9 x bigram_ce (nats per event).
    text: val_nats_per_char <= 0.9 x bigram_nats_per_char (bigram_nats_per_char passed
    in metrics, or given by the caller from the data). The note is one sentence for people.
    """
    if kind == "gan" and "gap_closed" in metrics:
        gap = float(metrics["gap_closed"])
        return {"metric": "gap_closed", "value": gap, "min": GAN_MIN_GAP,
                "note": f"closed {gap:.0%} of the gap between untrained and real "
                        f"(bar: {GAN_MIN_GAP:.0%})"}
    if kind == "upscale" and "gain_db" in metrics:
        gain = float(metrics["gain_db"])
        return {"metric": "gain_db", "value": gain, "min": 0.0,
                "note": f"PSNR {gain:+.2f} dB against bicubic on held-out images (bar: above it)"}
    if kind == "strokes" and "val_nll" in metrics and "baseline_nll" in metrics:
        # NLL of a density can be negative, so the bar is a gap in nats, not a ratio
        val, base = float(metrics["val_nll"]), float(metrics["baseline_nll"])
        gain = round(base - val, 4)
        return {"metric": "nll_gain", "value": gain, "min": STROKES_MIN_GAIN,
                "note": f"{val:.3f} nats per point, {gain:.3f} below the single-Gaussian + "
                        f"pen-bigram baseline {base:.3f} (bar: at least {STROKES_MIN_GAIN} below)"}
    rnn = {"music": ("val_ce", "bigram_ce", "event"),
           "text": ("val_nats_per_char", "bigram_nats_per_char", "character")}
    if kind not in rnn or rnn[kind][0] not in metrics or rnn[kind][1] not in metrics:
        return None
    key, base_key, unit = rnn[kind]
    value, base = float(metrics[key]), float(metrics[base_key])
    below = 1 - value / base
    side = f"{below:.0%} below" if below >= 0 else f"{-below:.0%} above"
    limit = round((1 - RNN_MARGIN) * base, 4)
    return {"metric": key, "value": value, "max": limit,
            "note": f"{value:.3f} nats per {unit}, {side} the bigram baseline {base:.3f} "
                    f"(bar: at least {RNN_MARGIN:.0%} below, {limit:.3f})"}


def apply_bar(card: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Set card["below_bar"] and card["bar"] from card["metrics"] (and extra figures).

    Without the figures the two keys are removed: the quality is unknown.
    """
    bar = quality_bar(card["kind"], {**card.get("metrics", {}), **(extra or {})})
    card.pop("below_bar", None)
    card.pop("bar", None)
    if bar is not None:
        limit_ok = bar["value"] >= bar["min"] if "min" in bar else bar["value"] <= bar["max"]
        card["below_bar"] = not limit_ok
        card["bar"] = bar
    return card


def quality_note(card: dict[str, Any]) -> str | None:
    """The bar's note when the card says the model is below its quality bar, else None.

    None also when the card has no bar (trained with --no-eval, or an older card): unknown.
    """
    if card.get("below_bar") is True:
        return str(card.get("bar", {}).get("note") or "below its quality bar")
    return None

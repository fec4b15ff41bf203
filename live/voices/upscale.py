"""The visual voice's upscaler: frames twice as large, by bicubic or by the learned network."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import torch
from PIL import Image

from live.engine import Engine
from models import weights
from models.upscale import Upscaler, upscale_pixels

log = logging.getLogger("livegen.visual")

DEFAULT_UPSCALER = "upscale_x2"  # models/weights/upscale_x2.*, when it ships
MODES = ("off", "bicubic", "learned")


class FrameUpscaler:
    """Holds a voice's learned upscaler (shared on the engine by name) and applies a mode."""

    def __init__(self, name: str | None) -> None:
        self.name = name  # None: no learned upscaler (the patch said "" or none ships)
        self.model: Upscaler | None = None
        self.problem: str | None = None

    async def load(self, engine: Engine) -> None:
        """Load and warm the learned network on the engine thread; a failure is logged and
        leaves bicubic."""
        name = self.name
        if name is None:
            return
        device = engine.device

        def load() -> tuple[torch.nn.Module, dict]:
            model, card = weights.load(name, device)
            if not isinstance(model, Upscaler):
                raise weights.WeightsError(f"model {name!r} is a {card.get('kind')} model, "
                                           "not an upscaler")
            upscale_pixels(model, torch.zeros(1, 8, 8, 3, dtype=torch.uint8, device=device))
            return model, card

        try:
            await asyncio.wrap_future(engine.load_once(f"upscale:{name}", load))
        except weights.WeightsError as e:
            self.problem = str(e)
            log.warning("no learned upscaler: %s", e)
            return
        model = engine.models[f"upscale:{name}"]
        assert isinstance(model, Upscaler)
        self.model = model

    def modes(self) -> tuple[str, ...]:
        """What /NAME/upscale offers here."""
        return MODES if self.model is not None else MODES[:2]

    def apply(self, pixels: np.ndarray, mode: str) -> np.ndarray:
        """(H, W, 3) uint8 -> (2H, 2W, 3) uint8, or the same frame with mode off (engine thread)."""
        if mode == "off":
            return pixels
        if mode == "learned" and self.model is not None:
            device = next(self.model.parameters()).device
            with torch.inference_mode():
                out = upscale_pixels(self.model, torch.from_numpy(np.ascontiguousarray(pixels))
                                     .unsqueeze(0).to(device))
            return out[0].cpu().numpy()
        h, w = pixels.shape[:2]
        return np.asarray(Image.fromarray(pixels).resize((2 * w, 2 * h), Image.Resampling.BICUBIC))


def upscaler_name(spec: dict) -> str | None:
    """The patch's `upscaler` (a weights name; "" for none), else the shipped one if it exists."""
    name = spec.get("upscaler")
    if name is None:
        return DEFAULT_UPSCALER if weights.paths(DEFAULT_UPSCALER)[1].is_file() else None
    return str(name) or None

"""Live model switching for a visual voice: which generators exist, and the crossfade.

While a voice fades from one generator to the next, the old one keeps rendering as a ghost
stream on the engine, with the voice's own latent, so the picture dissolves between two live
images rather than from a still.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from live.params import ChoiceParam
from models import weights

if TYPE_CHECKING:
    from live.voices.visual import VisualVoice


def generator_names(current: str) -> tuple[str, ...]:
    """Every generator in models/weights, the untrained one, and the one playing (a path, say)."""
    names = [name for name, kind in weights.available() if kind == "gan"]
    return tuple(dict.fromkeys([current, *names, "random"]))


class ModelParam(ChoiceParam):
    """A generator by name (the choices list models/weights) or the path of a card outside it."""

    def validate(self, value: Any) -> str:
        if isinstance(value, str) and value not in self.choices and value.endswith(".json"):
            card = Path(value).expanduser()
            if not card.is_file():
                raise self.refuse(value, "one of " + ", ".join(self.choices) + ", or the path of "
                                  "a weights card (.json) that exists")
            return str(card)
        return super().validate(value)


class Ghost:
    """The outgoing generator during a crossfade: a Stream that renders the voice's latent."""

    def __init__(self, voice: VisualVoice, engine_key: str) -> None:
        self.voice = voice
        self.engine_key = engine_key
        self.pixels: np.ndarray | None = None  # its newest frame

    @property
    def next_due(self) -> float:
        return self.voice.next_due

    def latent(self, now: float) -> tuple[np.ndarray, int]:
        return self.voice.last_latent

    def deliver(self, pixels: np.ndarray, stamp: int, render_us: int) -> None:
        self.pixels = pixels

    def jpeg_quality(self) -> int | None:
        return None  # pixels, to blend

    def deliver_jpeg(self, payload: bytes, size: tuple[int, int], stamp: int, render_us: int) -> None:
        """Never called: jpeg_quality() asks for pixels."""


class Crossfade:
    """Blends the ghost's newest frame under the new generator's for `seconds`."""

    def __init__(self, ghost: Ghost, seconds: float) -> None:
        self.ghost = ghost
        self.seconds = max(seconds, 1e-3)
        self.started = time.monotonic()

    def weight(self) -> float:
        """How much of the new generator shows now, 0 to 1 (smoothstep)."""
        t = min(1.0, (time.monotonic() - self.started) / self.seconds)
        return t * t * (3 - 2 * t)

    def blend(self, pixels: np.ndarray) -> np.ndarray:
        """The new frame over the ghost's (resized to the new size when the two differ)."""
        old = self.ghost.pixels
        if old is None:
            return pixels
        if old.shape != pixels.shape:
            size = (pixels.shape[1], pixels.shape[0])
            old = np.asarray(Image.fromarray(old).resize(size, Image.Resampling.BILINEAR))
        a = self.weight()
        out = old.astype(np.float32) * (1 - a) + pixels.astype(np.float32) * a
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)

    def done(self) -> bool:
        return time.monotonic() - self.started >= self.seconds

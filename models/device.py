"""Which torch device to run on: --device auto|cpu|cuda|mps, for the server and for training."""

from __future__ import annotations

import torch


def pick_device(name: str) -> torch.device:
    """Resolve --device auto|cpu|cuda|mps to a device that exists, or raise ValueError."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA device")
    if name == "mps" and not (getattr(torch.backends, "mps", None)
                              and torch.backends.mps.is_available()):
        raise ValueError("--device mps asked for, but torch sees no MPS device")
    if name not in ("cpu", "cuda", "mps"):
        raise ValueError(f"--device {name!r}: expected auto, cpu, cuda or mps")
    return torch.device(name)

"""What the output tests share: a fast, fast-moving visual voice for their patches."""

from __future__ import annotations


def visual_voice(resolution: int = 64, fps: int = 30, **extra: str) -> str:
    """A [voices.visual] table: untrained, walking at full speed so that frames differ."""
    keys = "".join(f'{k} = "{v}"\n' for k, v in extra.items())
    return (f'[voices.visual]\nkind = "visual"\nmodel = "random"\nresolution = {resolution}\n'
            f"fps = {fps}\nseed = 3\nspeed = 8\n{keys}")

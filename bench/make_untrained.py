"""Write untrained generators of chosen sizes as weights files, for GPU speed figures.

    python -m bench.make_untrained DIR NAME:RESOLUTION:G_BASE:G_MAX ...

A shipped-size generator is far faster on a big GPU than the 240 fps cap of /visual/fps, so the
benchmark can only show "delivered / bare forward" with heavier networks like these.
"""

from __future__ import annotations

import sys

import torch

from live.voices.visual import untrained_generator
from models import weights


def main(argv: list[str]) -> None:
    """Save an untrained generator into DIR for each NAME:RESOLUTION:G_BASE:G_MAX spec."""
    out, specs = argv[0], argv[1:]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    for spec in specs:
        name, res, base, top = spec.split(":")
        torch.manual_seed(0)
        model, arch = untrained_generator({"resolution": res, "g_base": base, "g_max": top})
        weights.save(model.to(device), f"{out}/{name}", {"kind": "gan", "name": name, "arch": arch,
                                                         "trained": False})
        print(name, arch, sum(p.numel() for p in model.parameters()), "parameters")


if __name__ == "__main__":
    main(sys.argv[1:])

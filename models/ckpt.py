"""Training checkpoints without pickle: tensors in safetensors, everything else in JSON.

A checkpoint holds every module and optimizer, the random generators and the
step, so that a stopped run resumes exactly where it stopped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file


def save_checkpoint(folder: str | Path, modules: dict[str, nn.Module],
                    opts: dict[str, torch.optim.Optimizer], gens: dict[str, torch.Generator],
                    meta: dict[str, Any]) -> None:
    """Write folder/ckpt.safetensors and folder/state.json, each atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    for name, m in modules.items():
        for k, v in m.state_dict().items():
            tensors[f"module.{name}.{k}"] = v
    groups: dict[str, Any] = {}
    for name, opt in opts.items():
        sd = opt.state_dict()
        groups[name] = sd["param_groups"]
        for idx, st in sd["state"].items():
            for k, v in st.items():
                t = v if torch.is_tensor(v) else torch.tensor(v)
                tensors[f"opt.{name}.{idx}.{k}"] = t
    for name, g in gens.items():
        tensors[f"rng.{name}"] = g.get_state()
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    tmp = folder / "ckpt.safetensors.tmp"
    save_file(tensors, str(tmp))
    tmp.replace(folder / "ckpt.safetensors")
    state = dict(meta, param_groups=groups)
    tmp_json = folder / "state.json.tmp"
    tmp_json.write_text(json.dumps(state, indent=1) + "\n")
    tmp_json.replace(folder / "state.json")


def load_checkpoint(folder: str | Path, modules: dict[str, nn.Module],
                    opts: dict[str, torch.optim.Optimizer],
                    gens: dict[str, torch.Generator]) -> dict[str, Any]:
    """Restore what save_checkpoint wrote into the given objects; return the meta dict."""
    folder = Path(folder)
    try:
        tensors = load_file(str(folder / "ckpt.safetensors"))
        state = json.loads((folder / "state.json").read_text())
    except (SafetensorError, OSError, ValueError) as e:
        raise RuntimeError(f"checkpoint in {folder} is missing or corrupt: {e}") from None
    for name, m in modules.items():
        p = f"module.{name}."
        sd = {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}
        if not sd:  # a module added after this checkpoint was written (e.g. 'best')
            print(f"checkpoint {folder} has no '{name}': keeping it as built", flush=True)
            continue
        m.load_state_dict(sd)
    for name, opt in opts.items():
        p = f"opt.{name}."
        st: dict[int, dict[str, torch.Tensor]] = {}
        for k, v in tensors.items():
            if k.startswith(p):
                idx, key = k[len(p):].split(".", 1)
                st.setdefault(int(idx), {})[key] = v
        opt.load_state_dict({"state": st, "param_groups": state["param_groups"][name]})
    for name, g in gens.items():
        g.set_state(tensors[f"rng.{name}"])
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    state.pop("param_groups")
    return state

"""Drawing speed: `python -m bench.draw_speed [--model glyphs] [--points N] [--threads N] [--json]`.

Samples N points one at a time with the draw voice's own generator (live/voices/draw.py
DrawGen: one LSTM step, a mixture draw and a pen draw per point, as on the engine thread) and
reports points per second, and how many times the default drawing rate (30 points per second)
that is; the target is at least 10x. The voice's status reports the same figure live
(gen_points_per_s, gen_speed_x).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import torch

from bench.machine import info
from live.voices.draw import DrawGen, load_draw_model

DEFAULT_RATE = 30.0  # /draw/rate's default, points per second
TARGET_X = 10.0


def measure(model_name: str, points: int, temperature: float, threads: int) -> dict[str, Any]:
    """Points per second of DrawGen.step for one model (after a warm-up of 50 points)."""
    if threads:
        torch.set_num_threads(threads)
    model, card = load_draw_model({"model": model_name}, torch.device("cpu"))
    classes = model.cfg.classes or ["none"]
    out: dict[str, Any] = {"model": model_name, "trained": bool(card.get("trained")),
                           "hidden": model.cfg.hidden, "mixtures": model.cfg.mixtures,
                           "params": sum(p.numel() for p in model.parameters()),
                           "threads": torch.get_num_threads(), "temperature": temperature,
                           "points": points, "classes": {}}
    with torch.inference_mode():
        for cls in classes[:1] + [c for c in ("kanji", "futural") if c in classes[1:]]:
            gen = DrawGen(model, "draw", 0)
            gen.restart(cls)
            for _ in range(50):
                gen.step(temperature)
            t0 = time.perf_counter()
            for _ in range(points):
                gen.step(temperature)
            pps = points / (time.perf_counter() - t0)
            out["classes"][cls] = {"points_per_s": round(pps, 1),
                                   "x_default_rate": round(pps / DEFAULT_RATE, 1)}
    worst = min(c["points_per_s"] for c in out["classes"].values())
    out["points_per_s"] = worst
    out["x_default_rate"] = round(worst / DEFAULT_RATE, 1)
    out["target_met"] = worst >= TARGET_X * DEFAULT_RATE
    return out


def main(argv: list[str] | None = None) -> None:
    """Print the machine line and the figures (a table, or one JSON object)."""
    ap = argparse.ArgumentParser(prog="python -m bench.draw_speed", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="glyphs", help="a strokes model in models/weights, or random")
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--temperature", type=float, default=0.4)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1: a shared machine; 0: torch's default)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    res = measure(args.model, args.points, args.temperature, args.threads)
    machine = info("cpu")
    if args.json:
        print(json.dumps({"machine": machine, **res}))
        return
    print("machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()))
    print(f"model {res['model']} (hidden {res['hidden']}, {res['mixtures']} mixtures, "
          f"{res['params']} params, trained {res['trained']}), {res['threads']} thread(s), "
          f"temperature {res['temperature']}, {res['points']} points per class")
    for cls, r in res["classes"].items():
        print(f"  class {cls:10s} {r['points_per_s']:8.1f} points/s  = {r['x_default_rate']:6.1f}x "
              f"the default rate of {DEFAULT_RATE:g}/s")
    print(f"target (>= {TARGET_X:g}x): {'met' if res['target_met'] else 'NOT met'}")


if __name__ == "__main__":
    main()

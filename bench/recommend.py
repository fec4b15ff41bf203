"""Recommendation against a simulated audience: `python -m bench.recommend [--likes N] [--json]`.

Each simulated audience has a hidden taste over what the frames look like (warm and bright;
high motion; the look of one training image). Once a second of simulated time it sees the
frame on screen and likes it with a probability that grows with its taste for it. The plain
walk and recommend mode run side by side: the same generator (the shipped `textures`, or an
untrained one), the same seed, the same frames per second, the same recommender code the
server runs (live/recommend), with likes and skips as the server takes them. Recommend mode
runs until it has N likes; the walk then runs for as many frames. Reported per taste: the
fraction of decisions liked and the mean taste of what was shown between the 10th, 50th and
Nth like of recommend mode (the same frame windows for the walk), and how long any latent
stayed on screen (the diversity check: keyframes change every KEY_S seconds).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from bench.machine import info
from live.analysis.frame import FrameAnalyser
from live.engine import to_pixels
from live.params import Registry
from live.recommend.picker import KeyPicker
from live.recommend.service import Recommender
from live.voices.latent import WALK_KEYS_PER_S, LatentPath
from models import weights

FPS = 8.0  # simulated frames per second (the audience decides once a second)
SPEED = 1.0  # walk speed: the server's default, a keyframe every 4 s
KEY_S = 1 / (SPEED * WALK_KEYS_PER_S)
Taste = Callable[[dict[str, Any]], float]


def warm_bright(f: dict[str, Any]) -> float:
    """Likes it warm and bright: brightness plus red over blue in the palette."""
    pal = np.asarray(f["palette"])
    return float(f["brightness"]) + float(pal[:, 0].mean() - pal[:, 2].mean())


def high_motion(f: dict[str, Any]) -> float:
    """Likes it moving."""
    return float(f["motion"])


def like_image(target: dict[str, Any]) -> Taste:
    """Likes the look of one image: closeness of tone, texture and hue to it."""
    keys = ("brightness", "contrast", "saturation", "edges", "entropy")
    t = np.array([float(target[k]) for k in keys] + list(target["hue"]))

    def one_image(f: dict[str, Any]) -> float:
        return -float(np.linalg.norm(np.array([float(f[k]) for k in keys] + list(f["hue"])) - t))
    return one_image


class Audience:
    """Likes a frame with probability sigmoid(3 * z - 1.5), z its taste standardised."""

    def __init__(self, taste: Taste, mean: float, std: float, seed: int) -> None:
        self.taste, self.mean, self.std = taste, mean, max(std, 1e-9)
        self.rng = np.random.default_rng(seed)

    def decide(self, f: dict[str, Any]) -> tuple[bool, float]:
        z = (self.taste(f) - self.mean) / self.std
        return bool(self.rng.random() < 1 / (1 + math.exp(-(3 * z - 1.5)))), self.taste(f)


def renderer(name: str) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """A latent -> frame function of a generator, and its latent size."""
    if name == "random":
        from live.voices.visual import untrained_generator
        model, arch = untrained_generator({"resolution": 64})
    else:
        model, card = weights.load(name)
        arch = card["arch"]
    model.eval()

    @torch.no_grad()
    def render(z: np.ndarray) -> np.ndarray:
        return to_pixels(model(torch.from_numpy(z[None]).float()))[0]
    return render, int(arch["nz"])


def run(policy: str, taste: Taste, calib: tuple[float, float], render: Callable, nz: int,
        frames: int | None, likes_wanted: int, seed: int) -> dict[str, Any]:
    """One policy for a number of frames (or until it has likes_wanted likes)."""
    clock = [0.0]
    with tempfile.TemporaryDirectory() as tmp:
        rec = Recommender(Path(tmp), Registry(), seed=seed, clock=lambda: clock[0])
        rec.open()
        path = LatentPath(nz, seed=seed)
        path.mode = "recommend" if policy == "recommend" else "walk"
        picker = KeyPicker(rec, "visual", nz, render)
        audience = Audience(taste, *calib, seed=seed + 1)
        analyser = FrameAnalyser()
        log: list[tuple[bool, float]] = []  # per decision: liked, taste
        like_frames: list[int] = []
        keys: list[np.ndarray] = []
        fit_ms: list[float] = []
        bar = tqdm(total=likes_wanted if frames is None else frames, desc=f"{policy} {taste.__name__}",
                   unit="like" if frames is None else "frame", mininterval=2.0, leave=False)
        k = 0
        while (frames is None and len(like_frames) < likes_wanted) or (frames is not None and k < frames):
            clock[0] = k / FPS
            if policy == "recommend":
                picker.step(path, 1.0, SPEED * WALK_KEYS_PER_S / FPS)
            z = path.step(1 / FPS, SPEED)
            features = analyser(render(z))
            rec.seen("visual", features, z)
            if k % int(FPS) == 0:
                liked, value = audience.decide(features)
                log.append((liked, value))
                if liked:
                    rec.like("visual")
                    fit_ms.append(rec.fit_ms)
                    like_frames.append(k)
                    bar.update(frames is None)
            if k % int(FPS * KEY_S) == 0:
                keys.append(z.copy())
            k += 1
            bar.update(frames is not None)
        bar.close()
        rec.close()
    return {"frames": k, "log": log, "like_frames": like_frames, "keys": keys,
            "fit_ms_median": float(np.median(fit_ms)) if fit_ms else None}


def window(result: dict[str, Any], f0: int, f1: int) -> dict[str, float]:
    """Like fraction and mean taste of the decisions in frames [f0, f1)."""
    d0, d1 = int(math.ceil(f0 / FPS)), int(math.ceil(f1 / FPS))
    part = result["log"][d0:d1]
    if not part:
        return {"liked": float("nan"), "taste": float("nan"), "decisions": 0}
    return {"liked": round(sum(x for x, _ in part) / len(part), 4),
            "taste": round(float(np.mean([t for _, t in part])), 4), "decisions": len(part)}


def longest_stay(keys: list[np.ndarray]) -> float:
    """Seconds the longest run of near-identical keyframes (cosine > 0.99) stayed."""
    longest = run = 1
    for a, b in zip(keys, keys[1:], strict=False):
        same = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))) > 0.99
        run = run + 1 if same else 1
        longest = max(longest, run)
    return longest * KEY_S


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    p = argparse.ArgumentParser(prog="python -m bench.recommend", description=__doc__)
    p.add_argument("--likes", type=int, default=200, help="likes recommend mode collects")
    p.add_argument("--model", default="textures", help="generator (random: untrained)")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--tastes", nargs="+", default=["warm_bright", "high_motion", "one_image"],
                   choices=["warm_bright", "high_motion", "one_image"])
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    render, nz = renderer(args.model)
    # Calibrate each taste on a minute of the plain walk as the audience sees it (another seed:
    # the same frame rate and speed, so the motion too), and take the look of one of its frames
    # as the "training image" taste's target.
    sample_path, an = LatentPath(nz, seed=args.seed + 100), FrameAnalyser()
    frames = [an(render(sample_path.step(1 / FPS, SPEED))) for _ in range(int(60 * FPS))]
    sample = frames[::int(FPS)]  # one a second, as the audience decides
    tastes = {name: taste for name, taste in {
        "warm_bright": warm_bright, "high_motion": high_motion, "one_image": like_image(sample[17]),
    }.items() if name in args.tastes}
    marks = sorted({m for m in (10, 50, args.likes) if m <= args.likes})
    out: dict[str, Any] = {"machine": info("cpu"), "model": args.model, "likes": args.likes,
                           "fps": FPS, "key_s": KEY_S, "tastes": {}}
    t0 = time.time()
    for name, taste in tastes.items():
        values = [taste(f) for f in sample]
        calib = (float(np.mean(values)), float(np.std(values)))
        rec = run("recommend", taste, calib, render, nz, None, args.likes, args.seed)
        walk = run("walk", taste, calib, render, nz, rec["frames"], args.likes, args.seed)
        edges = [0] + [rec["like_frames"][m - 1] for m in marks]
        rows = []
        for (a, b), mark in zip(zip(edges, edges[1:], strict=False), marks, strict=True):
            rows.append({"until_like": mark, "frames": [a, b], "recommend": window(rec, a, b),
                         "walk": window(walk, a, b)})
        after50 = (rec["like_frames"][min(50, args.likes) - 1], rec["frames"])
        r, w = window(rec, *after50), window(walk, *after50)
        out["tastes"][name] = {
            "windows": rows, "after_50_likes": {"recommend": r, "walk": w,
                                                "ratio": round(r["liked"] / max(w["liked"], 1e-9), 2)},
            "longest_stay_s": {"recommend": longest_stay(rec["keys"]), "walk": longest_stay(walk["keys"])},
            "fit_ms_median": rec["fit_ms_median"], "frames": rec["frames"]}
    out["seconds"] = round(time.time() - t0, 1)
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(json.dumps(out["machine"]))
    print(f"model {args.model}, {FPS:g} frames/s simulated, a keyframe every {KEY_S:g} s, "
          f"{args.likes} likes; {out['seconds']} s")
    print("| taste | window (likes of recommend) | recommend liked / taste | walk liked / taste |")
    print("| --- | --- | --- | --- |")
    for name, t in out["tastes"].items():
        for row in t["windows"]:
            r, w = row["recommend"], row["walk"]
            print(f"| {name} | to like {row['until_like']} | {r['liked']} / {r['taste']} | "
                  f"{w['liked']} / {w['taste']} |")
        a = t["after_50_likes"]
        print(f"| {name} | after like 50 | {a['recommend']['liked']} | {a['walk']['liked']} "
              f"(ratio {a['ratio']}) |")
    for name, t in out["tastes"].items():
        print(f"{name}: longest stay of one latent {t['longest_stay_s']}, update "
              f"{t['fit_ms_median']} ms median")


if __name__ == "__main__":
    main()

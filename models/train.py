"""Train a GAN, a music LSTM or a text LSTM; ship NAME.safetensors and its card NAME.json.

    python -m models.train text --data ../shared/data/tinyshakespeare.txt --name shakespeare
    python -m models.train music --data .cache/music21_notes.npz --name corpus --steps 20000
    python -m models.train gan --data skimage --name textures --max-minutes 30 --resume
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import shlex
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import torch

from models.ckpt import load_checkpoint, save_checkpoint
from models.device import pick_device
from models.jobs import JOBS, Job
from models.weights import WEIGHTS_DIR, paths, save

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m models.train", description=__doc__.splitlines()[0])
    ap.add_argument("kind", choices=sorted(JOBS))
    ap.add_argument("--data", help="text file; music cache .npz; image folder, .npz or 'skimage'")
    ap.add_argument("--name", required=True, help="weights name (models/weights/NAME.*)")
    ap.add_argument("--steps", type=int, help="optimizer steps in all (default per kind)")
    ap.add_argument("--max-minutes", type=float, help="wall-clock budget; stops and saves in time")
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    ap.add_argument("--resume", action="store_true", help="continue from the checkpoint of NAME")
    ap.add_argument("--batch", type=int)
    ap.add_argument("--seq", type=int, help="sequence length (music, text)")
    ap.add_argument("--lr", type=float)
    ap.add_argument("--arch", action="append", default=[], metavar="KEY=VALUE",
                    help="architecture override, e.g. --arch hidden=512 (JSON values)")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--out-dir", type=Path, default=WEIGHTS_DIR, help="where the weights go")
    ap.add_argument("--ckpt-dir", type=Path, default=ROOT / "checkpoints")
    ap.add_argument("--ckpt-every", type=int, default=500, help="steps between checkpoints")
    ap.add_argument("--val-every", type=int, default=500,
                    help="steps between validations; the best weights are the ones shipped")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    ap.add_argument("--stop-at", type=int, help="stop after this step as if interrupted (tests)")
    ap.add_argument("--no-eval", action="store_true", help="skip the held-out figures at the end")
    ap.add_argument("--save-dtype", choices=["float32", "float16"], default="float32",
                    help="dtype of the shipped weights (float16: half the size; loads as float32)")
    ap.add_argument("--eval-quick", action="store_true", help="fewer samples in those figures")
    ap.add_argument("--quiet", action="store_true", help="no progress bar (log lines instead)")
    return ap.parse_args(argv)


def lr_at(base: float, step: int, steps: int, frac_time: float, warmup: int = 100) -> float:
    """Linear warm-up, then cosine decay to 10% over whichever runs out first: steps or time."""
    if step < warmup:
        return base * (step + 1) / warmup
    p = min(1.0, max(step / max(steps, 1), frac_time))
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


def _stop_on_signal() -> tuple[list[str], dict]:
    """While training, SIGINT/SIGTERM stop after the current step (then save as usual);
    a second one interrupts at once. Returns (signal names received, previous handlers)."""
    stop: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        return stop, {}

    def handler(signum: int, frame: Any) -> None:
        if stop:
            raise KeyboardInterrupt
        stop.append(signal.Signals(signum).name)

    return stop, {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}


def train(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    if device.type == "cuda":  # TF32 matmuls and cuDNN: fast and safe for these small nets
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(args.seed)
    arch_over = {}
    for kv in args.arch:
        k, _, v = kv.partition("=")
        try:
            arch_over[k] = json.loads(v)
        except json.JSONDecodeError:
            arch_over[k] = v
    job: Job = JOBS[args.kind](args, device, arch_over)
    steps = args.steps or job.default_steps
    ckpt = args.ckpt_dir / args.name
    gens = {"data": job.gen}
    start, elapsed, best = 0, 0.0, None
    if args.resume and (ckpt / "state.json").is_file():
        meta = load_checkpoint(ckpt, job.modules, job.opts, gens)
        if meta["arch"] != job.arch:
            raise SystemExit(f"checkpoint {ckpt} has another architecture: {meta['arch']}")
        start, elapsed, best = meta["step"], meta["elapsed"], meta.get("best_val")
        print(f"resumed {args.name} at step {start} ({elapsed:.0f}s trained)", flush=True)
    elif args.resume:
        print(f"no checkpoint in {ckpt}: starting afresh", flush=True)

    def checkpoint(step: int) -> None:
        save_checkpoint(ckpt, job.modules, job.opts, gens,
                        {"step": step, "elapsed": elapsed, "best_val": best, "arch": job.arch,
                         "kind": args.kind,
                         "steps": steps, "command": argv})

    from tqdm import tqdm

    bar = tqdm(total=steps, initial=start, desc=f"{args.kind}:{args.name}", unit="step",
               disable=args.quiet, mininterval=1.0, dynamic_ncols=True)
    budget = args.max_minutes * 60 if args.max_minutes else math.inf
    stop, old_handlers = _stop_on_signal()
    t_last, step, loss_ema = time.time(), start, None
    t_start = t_last
    last_log = time.time()
    for step in range(start, steps):
        frac_t = elapsed / budget if budget < math.inf else 0.0
        for opt in job.opts.values():
            for g in opt.param_groups:
                g["lr"] = lr_at(job.lr, step, steps, frac_t) * g.get("lr_scale", 1.0)
        logs = job.step()
        now = time.time()
        elapsed += now - t_last
        t_last = now
        loss = logs[job.main_loss]
        loss_ema = loss if loss_ema is None else 0.98 * loss_ema + 0.02 * loss
        if not math.isfinite(loss):
            raise SystemExit(f"loss is {loss} at step {step}: stopping (lower --lr?)")
        bar.update(1)
        bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items()}, refresh=False)
        if args.quiet and now - last_log > 30:
            print(f"{args.kind}:{args.name} step {step + 1}/{steps} "
                  + " ".join(f"{k}={v:.4f}" for k, v in logs.items())
                  + f" {(step + 1 - start) / max(now - t_start, 1e-9):.2f} step/s", flush=True)
            last_log = now
        if args.val_every and (step + 1) % args.val_every == 0:
            val = job.validate()  # its time counts in the budget: the budget is wall-clock
            if val is not None:
                if best is None or val < best:
                    best = val
                    job.keep_best()
                print(f"{args.kind}:{args.name} step {step + 1} val {val:.4f} best {best:.4f}",
                      flush=True)
        if (step + 1) % args.ckpt_every == 0:
            checkpoint(step + 1)
        if elapsed > budget:
            print(f"time budget reached at step {step + 1}", flush=True)
            break
        if stop:
            print(f"{stop[0]} received: stopping at step {step + 1}, saving", flush=True)
            break
        if args.stop_at and step + 1 >= args.stop_at:
            break
    else:
        step = steps - 1 if steps > start else start - 1
    for sig, h in old_handlers.items():
        signal.signal(sig, h)
    bar.close()
    if args.stop_at and step + 1 >= args.stop_at and step + 1 < steps:
        checkpoint(step + 1)  # as if killed: a checkpoint, no weights
        return {"stopped_at": step + 1}
    done = step + 1
    checkpoint(done)
    metrics: dict[str, Any] = {"train_loss_ema": round(loss_ema, 4) if loss_ema else None}
    last = job.validate() if best is not None else None
    if last is not None and best is not None and best < last:
        job.restore_best()  # over-fitted since: ship the best validated weights
        metrics["restored_best_val"] = round(best, 4)
    if args.save_dtype == "float16":  # evaluate exactly what ships: round first
        with torch.no_grad():
            for t in job.export().state_dict().values():
                if t.is_floating_point():
                    t.copy_(t.half().float())
    module = job.export()
    shipped = copy.deepcopy(module).half() if args.save_dtype == "float16" else module
    card = {
        "name": args.name,
        "kind": args.kind,
        "arch": job.arch,
        "data": job.data_info,
        "steps": done,
        "batch": job.batch,
        "train_time_s": round(elapsed, 1),
        "metrics": metrics,
        "command": "python -m models.train " + shlex.join(argv),
        "device": device.type + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda"
                                 else ""),
        "torch": torch.__version__,
        "params": sum(p.numel() for p in module.parameters()),
        "dtype": args.save_dtype,
        "trained": True,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    dest = str(args.out_dir / args.name)
    save(shipped, dest, card)  # weights first: a run cut short during evaluation keeps them
    if not args.no_eval:
        t0 = time.time()
        metrics.update(job.evaluate())
        metrics["eval_time_s"] = round(time.time() - t0, 1)
        st, cp = save(shipped, dest, card)
    else:
        st, cp = paths(dest)
    print(json.dumps({"event": "saved", "weights": str(st), "card": str(cp), "steps": done,
                      "metrics": metrics}), flush=True)
    return card


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    try:
        train(args, argv)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

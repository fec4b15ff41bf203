"""Train a GAN, a music LSTM or a text LSTM; ship NAME.safetensors and its card NAME.json.

    python -m models.train text --data models/data/tinyshakespeare.txt --name shakespeare
    python -m models.train music --data .cache/music21_notes.npz --name corpus --steps 20000
    python -m models.train gan --data skimage --name textures --max-minutes 30 --resume
    python -m models.train style --styles models/data/styles --content data/clipart --name styles
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
from models.jobs import JOBS as BASE_JOBS
from models.jobs import Job
from models.style_train import StyleJob
from models.weights import WEIGHTS_DIR, apply_bar, paths, save

ROOT = Path(__file__).resolve().parent.parent
JOBS: dict[str, type[Job]] = {**BASE_JOBS, "style": StyleJob}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line of python -m models.train."""
    ap = argparse.ArgumentParser(prog="python -m models.train", description=__doc__.splitlines()[0])
    ap.add_argument("kind", choices=sorted(JOBS))
    ap.add_argument("--data", help="text file; music cache .npz; image folder, .npz or 'skimage'")
    ap.add_argument("--styles", help="style: a folder of style images (default models/data/styles)")
    ap.add_argument("--content", help="style: a folder of content images, or 'skimage'")
    ap.add_argument("--features", help="style: the loss's feature net: random, random:SEED or "
                                       "vgg19:PATH (a user's VGG-19 in safetensors)")
    ap.add_argument("--name", required=True, help="weights name (models/weights/NAME.*)")
    ap.add_argument("--steps", type=int, help="optimizer steps in all (default per kind)")
    ap.add_argument("--max-minutes", type=float, help="wall-clock budget; stops and saves in time")
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    ap.add_argument("--resume", action="store_true", help="continue from the checkpoint of NAME")
    ap.add_argument("--init", metavar="MODEL", help="text: start from a shipped model's weights "
                    "(fine-tune; the data must fit its vocab)")
    ap.add_argument("--batch", type=int)
    ap.add_argument("--seq", type=int, help="sequence length (music, text)")
    ap.add_argument("--lr", type=float)
    ap.add_argument("--arch", action="append", default=[], metavar="KEY=VALUE",
                    help="architecture override, e.g. --arch hidden=512 (JSON values); "
                         "gan: a bare name picks the generator: --arch fastgan (default dcgan)")
    ap.add_argument("--crop-min", type=float,
                    help="gan: smallest random crop, a fraction of the short side (default 0.25, "
                         "or what a built data set's manifest says)")
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


class Progress:
    """The training bar. Without --max-minutes it counts steps; with a time budget it counts
    seconds, its total the budget or, when the steps would run out first at the rate so far,
    that projected time: either way its ETA is when the run will stop. --quiet: a log line
    every 30 seconds instead."""

    def __init__(self, args: argparse.Namespace, steps: int, start: int, elapsed: float,
                 budget: float) -> None:
        from tqdm import tqdm

        self.args, self.steps, self.start = args, steps, start
        self.elapsed0, self.budget = elapsed, budget
        self.timed = budget < math.inf
        self.t_start = self.last_log = time.time()
        desc = f"{args.kind}:{args.name}"
        if self.timed:
            self.bar = tqdm(total=budget, initial=min(elapsed, budget), desc=desc, unit="s",
                            disable=args.quiet, mininterval=1.0, dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f}s "
                                       "[{elapsed}<{remaining}{postfix}]")
        else:
            self.bar = tqdm(total=steps, initial=start, desc=desc, unit="step",
                            disable=args.quiet, mininterval=1.0, dynamic_ncols=True)

    def update(self, done: int, elapsed: float, logs: dict[str, float]) -> None:
        """After step `done` (counted from 1), elapsed seconds of budget in all."""
        post = {k: f"{v:.3f}" for k, v in logs.items()}
        if self.timed:
            ran, spent = done - self.start, elapsed - self.elapsed0
            total = self.budget
            if ran > 0 and spent > 0:  # whichever runs out first: the budget or the steps
                total = min(total, elapsed + (self.steps - done) * spent / ran)
            self.bar.set_postfix({"step": f"{done}/{self.steps}", **post}, refresh=False)
            self.bar.total = max(total, elapsed)
            self.bar.update(elapsed - self.bar.n)
        else:
            self.bar.set_postfix(post, refresh=False)
            self.bar.update(1)
        now = time.time()
        if self.args.quiet and now - self.last_log > 30:
            budget = f" {elapsed:.0f}/{self.budget:.0f}s" if self.timed else ""
            print(f"{self.args.kind}:{self.args.name} step {done}/{self.steps}{budget} "
                  + " ".join(f"{k}={v:.4f}" for k, v in logs.items())
                  + f" {(done - self.start) / max(now - self.t_start, 1e-9):.2f} step/s", flush=True)
            self.last_log = now

    def write(self, msg: str) -> None:
        """A log line that does not break the bar."""
        if self.bar.disable:
            print(msg, flush=True)
        else:
            self.bar.write(msg)

    def close(self) -> None:
        """End the bar (at the point reached)."""
        self.bar.close()


def make_job(args: argparse.Namespace) -> tuple[Job, torch.device]:
    """Threads, device, seed, --arch overrides, and the job of args.kind."""
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
        k, eq, v = kv.partition("=")
        if not eq:  # a bare name: the architecture (gan: dcgan or fastgan)
            if args.kind != "gan":
                raise ValueError(f"--arch {kv}: only gan has named architectures; "
                                 "use --arch KEY=VALUE")
            arch_over["arch"] = k
            continue
        try:
            arch_over[k] = json.loads(v)
        except json.JSONDecodeError:
            arch_over[k] = v
    return JOBS[args.kind](args, device, arch_over), device


class Run:
    """One training run's state: the step loop, checkpoints, and what ships at the end."""

    def __init__(self, args: argparse.Namespace, argv: list[str]) -> None:
        self.args, self.argv = args, argv
        self.job, self.device = make_job(args)
        self.steps = args.steps or self.job.default_steps
        self.ckpt = args.ckpt_dir / args.name
        self.gens = {"data": self.job.gen}
        self.start, self.elapsed, self.best = 0, 0.0, None
        self.loss_ema: float | None = None
        self.t_last = time.time()
        if args.resume and (self.ckpt / "state.json").is_file():
            meta = load_checkpoint(self.ckpt, self.job.modules, self.job.opts, self.gens)
            if meta["arch"] != self.job.arch:
                raise SystemExit(f"checkpoint {self.ckpt} has another architecture: {meta['arch']}")
            self.start, self.elapsed, self.best = meta["step"], meta["elapsed"], meta.get("best_val")
            print(f"resumed {args.name} at step {self.start} ({self.elapsed:.0f}s trained)", flush=True)
        elif args.resume:
            print(f"no checkpoint in {self.ckpt}: starting afresh", flush=True)

    def checkpoint(self, step: int) -> None:
        """Save modules, optimizers, generators and the clock at `step`."""
        save_checkpoint(self.ckpt, self.job.modules, self.job.opts, self.gens,
                        {"step": step, "elapsed": self.elapsed, "best_val": self.best,
                         "arch": self.job.arch, "kind": self.args.kind,
                         "steps": self.steps, "command": self.argv})

    def one_step(self, step: int, frac_t: float) -> dict[str, float]:
        """Learning rates for `step`, one optimiser step, the clock and the loss average."""
        job = self.job
        for opt in job.opts.values():
            for g in opt.param_groups:
                g["lr"] = lr_at(job.lr, step, self.steps, frac_t) * g.get("lr_scale", 1.0)
        logs = job.step()
        now = time.time()
        self.elapsed += now - self.t_last  # wall-clock: validation and checkpoints count too
        self.t_last = now
        loss = logs[job.main_loss]
        self.loss_ema = loss if self.loss_ema is None else 0.98 * self.loss_ema + 0.02 * loss
        if not math.isfinite(loss):
            raise SystemExit(f"loss is {loss} at step {step}: stopping (lower --lr?)")
        return logs

    def validate(self, done: int) -> None:
        """A held-out loss; the best weights so far are kept."""
        val = self.job.validate()  # its time counts in the budget: the budget is wall-clock
        if val is not None:
            if self.best is None or val < self.best:
                self.best = val
                self.job.keep_best()
            print(f"{self.args.kind}:{self.args.name} step {done} val {val:.4f} best {self.best:.4f}",
                  flush=True)

    def loop(self) -> int:
        """Train until the steps, the budget, a signal or --stop-at; the steps done in all."""
        args = self.args
        budget = args.max_minutes * 60 if args.max_minutes else math.inf
        bar = Progress(args, self.steps, self.start, self.elapsed, budget)
        stop, old_handlers = _stop_on_signal()
        done, self.t_last = self.start, time.time()
        try:
            for step in range(self.start, self.steps):
                logs = self.one_step(step, self.elapsed / budget if budget < math.inf else 0.0)
                done = step + 1
                if args.val_every and done % args.val_every == 0:
                    self.validate(done)
                if done % args.ckpt_every == 0:
                    self.checkpoint(done)
                bar.update(done, self.elapsed, logs)
                if self.elapsed > budget:
                    bar.write(f"time budget reached at step {done}")
                    break
                if stop:
                    bar.write(f"{stop[0]} received: stopping at step {done}, saving")
                    break
                if args.stop_at and done >= args.stop_at:
                    break
        finally:
            for sig, h in old_handlers.items():
                signal.signal(sig, h)
            bar.close()
        return done

    def finish(self, done: int) -> dict[str, Any]:
        """Checkpoint, restore the best weights, write the weights and card, evaluate."""
        args, job = self.args, self.job
        self.checkpoint(done)
        metrics: dict[str, Any] = {"train_loss_ema": round(self.loss_ema, 4) if self.loss_ema else None}
        last = job.validate() if self.best is not None else None
        if last is not None and self.best is not None and self.best < last:
            job.restore_best()  # over-fitted since: ship the best validated weights
            metrics["restored_best_val"] = round(self.best, 4)
        if args.save_dtype == "float16":  # evaluate exactly what ships: round first
            with torch.no_grad():
                for t in job.export().state_dict().values():
                    if t.is_floating_point():
                        t.copy_(t.half().float())
        module = job.export()
        shipped = copy.deepcopy(module).half() if args.save_dtype == "float16" else module
        card = self.card(module, done, metrics)
        dest = str(args.out_dir / args.name)
        save(shipped, dest, card)  # weights first: a run cut short during evaluation keeps them
        if not args.no_eval:  # without evaluation the card has no below_bar: quality unknown
            t0 = time.time()
            metrics.update(job.evaluate())
            metrics["eval_time_s"] = round(time.time() - t0, 1)
            apply_bar(card)
            if card.get("below_bar"):
                print(f"warning: {args.name} is below its quality bar: {card['bar']['note']}",
                      flush=True)
            st, cp = save(shipped, dest, card)
        else:
            st, cp = paths(dest)
        print(json.dumps({"event": "saved", "weights": str(st), "card": str(cp), "steps": done,
                          "metrics": metrics, "below_bar": card.get("below_bar")}), flush=True)
        return card

    def card(self, module: torch.nn.Module, done: int, metrics: dict[str, Any]) -> dict[str, Any]:
        """The JSON card of what ships (metrics is filled in later by evaluation)."""
        args, device = self.args, self.device
        return {
            "name": args.name,
            "kind": args.kind,
            "arch": self.job.arch,
            "data": self.job.data_info,
            "steps": done,
            "batch": self.job.batch,
            "train_time_s": round(self.elapsed, 1),
            "metrics": metrics,
            "command": "python -m models.train " + shlex.join(self.argv),
            "device": device.type + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda"
                                     else ""),
            "torch": torch.__version__,
            "params": sum(p.numel() for p in module.parameters()),
            "dtype": args.save_dtype,
            "trained": True,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }


def train(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """One training run from parsed arguments; the card written (or {'stopped_at': N})."""
    run = Run(args, argv)
    done = run.loop()
    if args.stop_at and done >= args.stop_at and done < run.steps:
        run.checkpoint(done)  # as if killed: a checkpoint, no weights
        return {"stopped_at": done}
    return run.finish(done)


def main(argv: list[str] | None = None) -> None:
    """python -m models.train: errors in the data become one line and exit status 2."""
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

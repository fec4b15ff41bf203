"""Run the benchmark suite: `python -m bench [--quick|--smoke] [--json] [--device cpu|cuda]`."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from bench import figures as fig
from bench import procs
from bench.forward import BareForward
from bench.machine import ROOT, info, load_average
from bench.stats import ratio
from bench.table import render

MODES = {
    # window_s, repeats, settle_s, latency messages, fan-out, start-up repeats
    "full": dict(window_s=3.0, repeats=5, settle_s=1.0, latency_messages=150, fanout=(1, 8, 32),
                 startup_repeats=5),
    "quick": dict(window_s=1.5, repeats=3, settle_s=0.7, latency_messages=40, fanout=(1, 8, 32),
                  startup_repeats=3),
    "smoke": dict(window_s=0.4, repeats=1, settle_s=0.3, latency_messages=6, fanout=(1, 4),
                  startup_repeats=1),
}


def parse_overhead(text: str) -> list[tuple[int | str, int]]:
    """'256x4,512x2,textures' -> [(256, 4), (512, 2), ("textures", 1)]: an untrained generator
    of that resolution, or a shipped model by name, x visual streams sharing it."""
    out: list[tuple[int | str, int]] = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(.+?)(?:x(\d+))?\s*", part)
        if m is None:
            raise argparse.ArgumentTypeError(f"overhead config {part!r}: expected RESxSTREAMS or NAME")
        what, streams = m.group(1), int(m.group(2) or 1)
        out.append((int(what) if what.isdigit() else what, streams))
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the suite's command line."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    speed = p.add_mutually_exclusive_group()
    speed.add_argument("--quick", action="store_true", help="shorter windows, fewer repeats")
    speed.add_argument("--smoke", action="store_true",
                       help="minimal run that exercises every figure (for tests; numbers are rough)")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--overhead", type=parse_overhead, metavar="RESxSTREAMS,...",
                   help="overhead configs: RESxSTREAMS (untrained) or NAME[xSTREAMS] (shipped weights); "
                        "default 128x1,128x2,256x1,textures on cpu, 256x4,512x2 on cuda")
    p.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    p.add_argument("--only", type=lambda t: set(t.split(",")), default=None, metavar="FIGURES",
                   help="run only these: overhead,fanout,threads,startup,notes (fanout includes latency)")
    p.add_argument("--window", type=float, help="seconds per measurement window (override)")
    p.add_argument("--repeats", type=int, help="repeats per figure (override)")
    p.add_argument("--startup-repeats", type=int, help="start-up repeats (override)")
    p.add_argument("--out", metavar="DIR", help="also write bench.json and bench.txt into DIR")
    return p.parse_args(argv)


def settings(args: argparse.Namespace) -> fig.Settings:
    """The mode's settings with the command line's overrides; with --out, logs go there too."""
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    s = fig.Settings(device=args.device, **MODES[mode])
    s.window_s = args.window or s.window_s
    s.repeats = args.repeats or s.repeats
    s.startup_repeats = args.startup_repeats or s.startup_repeats
    s.out = Path(args.out) if args.out else None
    s.only = args.only
    if s.out is not None:
        procs.LOG_DIR = s.out / "logs"
    cuda = args.device == "cuda"
    # 128 px x 2: one stream of an untrained 128 px generator outruns the 240 fps cap of
    # /visual/fps here, so the raw delivered / bare ratio at 128 px needs two batched streams.
    s.overhead = args.overhead or ([(256, 4), (512, 2)] if cuda else
                                   [(128, 1), (128, 2), (256, 1), ("textures", 1)])
    override = os.environ.get("LIVEGEN_TORCH_THREADS")
    s.threads = None if cuda else int(override or max(1, (os.cpu_count() or 2) - 1))
    return s


NOTE_SECONDS = {"smoke": (2.0, 1.0), "quick": (5.0, 2.0), "full": (20.0, 3.0)}  # window, settle


async def note_timing(mode: str) -> dict[str, Any]:
    """Figure 4, from bench/note_timing.py (the music voice's own benchmark) run as a subprocess."""
    if not (ROOT / "bench" / "note_timing.py").exists():
        return {"status": "pending: bench/note_timing.py does not exist yet"}
    seconds, settle = NOTE_SECONDS[mode]
    cmd = [sys.executable, "-m", "bench.note_timing", "--json", "--seconds", str(seconds),
           "--settle", str(settle)]
    proc = await asyncio.create_subprocess_exec(*cmd, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=4 * seconds + 120)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return {"status": "error: bench.note_timing timed out"}
    if proc.returncode != 0:
        return {"status": f"error: bench.note_timing exited {proc.returncode}: "
                          f"{err.decode(errors='replace')[-800:]}"}
    try:
        data = json.loads(out.decode().strip().splitlines()[-1])
        im = data["immediate"]
        return {"status": "ok", "command": " ".join(cmd[1:]), "notes": im.get("notes"),
                "visual_fps": im.get("visual_fps"),
                "server_abs_send_minus_due_ms": im.get("server_abs_send_minus_due_ms"),
                "receiver_abs_arrival_minus_due_ms": im.get("receiver_abs_arrival_minus_due_ms"),
                "timetag": data.get("timetag"), "detail": data}
    except (ValueError, KeyError, IndexError, TypeError) as e:
        return {"status": f"error: unexpected bench.note_timing output ({e})"}


async def overhead_rows(s: fig.Settings, naive: bool, results: dict[str, Any]) -> list[dict[str, Any]]:
    """Figure 1 for each overhead config; with `naive`, the naive server too at one stream."""
    rows: list[dict[str, Any]] = []
    results["overhead"] = rows
    for what, streams in s.overhead:
        model = "random" if isinstance(what, int) else what
        res = what if isinstance(what, int) else 0
        try:
            bare = BareForward(res, streams, s.device, model_name=model)
            res = bare.resolution
            ours = await fig.overhead(s, res, streams, False, bare, model)
        except Exception as e:  # one size failing must not lose the others
            key = f"overhead {what}x{streams}"
            results.setdefault("errors", {})[key] = f"{type(e).__name__}: {e}"
            print(f"python -m bench: {key} failed: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        base = await fig.overhead(s, res, streams, True, None, model) if naive and streams == 1 else None
        row: dict[str, Any] = {"model": model, "resolution": res, "streams": streams, "livegen": ours,
                               "naive": base}
        if base is not None:
            bare_median = ours["bare_fps"]["median"]
            base["ratio"] = ratio(base["fps"]["median"], bare_median)
            base["ratio_stalled"] = ratio(base["fps_stalled"]["median"], bare_median)
            row["vs_naive"] = {"fps": ratio(ours["fps"]["median"], base["fps"]["median"]),
                               "fps_stalled": ratio(ours["fps_stalled"]["median"],
                                                    base["fps_stalled"]["median"])}
        rows.append(row)
        save_partial(s, results)
    return rows


async def fanout_latency(s: fig.Settings, naive: bool, results: dict[str, Any]) -> None:
    """Figures 2 and 3 for livegen and, with `naive`, the naive server and ours / naive ratios."""
    ours = await fig.fanout_and_latency(s, False)
    results["fanout"] = {"livegen": ours["fanout"], "naive": None}
    results["latency"] = {"livegen": ours["latency"], "naive": None}
    save_partial(s, results)
    if not naive:
        return
    base = await fig.fanout_and_latency(s, True)
    results["fanout"]["naive"] = base["fanout"]
    results["latency"]["naive"] = base["latency"]
    results["fanout"]["vs_naive"] = {
        name: ratio(c["worst_fps"]["median"], base["fanout"]["configs"][name]["worst_fps"]["median"])
        for name, c in ours["fanout"]["configs"].items()}
    results["latency"]["vs_naive"] = {
        k: ratio(v["received_ms"]["median"], base["latency"][k]["received_ms"]["median"])
        for k, v in ours["latency"].items()}


async def guarded(results: dict[str, Any], key: str, work: Any) -> None:
    """Run one figure; a failure is recorded under its key and the suite goes on."""
    try:
        value = await work
        if value is not None:
            results[key] = value
    except Exception as e:
        results.setdefault("errors", {})[key] = f"{type(e).__name__}: {e}"
        print(f"python -m bench: figure {key} failed: {type(e).__name__}: {e}", file=sys.stderr)


async def run(s: fig.Settings, naive: bool, mode: str) -> dict[str, Any]:
    """Run each wanted figure; the results with the machine, the targets and the time taken."""
    t0 = time.perf_counter()
    machine = info(s.device)
    results: dict[str, Any] = {"machine": machine, "mode": mode, "engine_threads": s.threads,
                               "window_s": s.window_s, "repeats": s.repeats,
                               "model": "untrained generator (model = \"random\"): speed figures only",
                               "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
    def wanted(name: str) -> bool:
        return s.only is None or name in s.only

    if wanted("overhead"):
        await guarded(results, "overhead", overhead_rows(s, naive, results))
    if wanted("fanout"):
        await guarded(results, "fanout", fanout_latency(s, naive, results))
        save_partial(s, results)
    if s.device == "cpu" and wanted("threads"):
        await guarded(results, "threads", fig.threads(s, BareForward(128, 1, s.device)))
        save_partial(s, results)
    if wanted("startup"):
        await guarded(results, "startup", fig.startup(s))
    if wanted("notes"):
        results["note_timing"] = await note_timing(mode)
    else:
        results["note_timing"] = {"status": "skipped (--only)"}
    machine["load_avg_after"] = load_average()
    results["targets"] = targets(results, s)
    results["elapsed_s"] = round(time.perf_counter() - t0, 1)
    return results


def save_partial(s: fig.Settings, results: dict[str, Any]) -> None:
    """With --out, keep what is measured so far: a run cut short still leaves its figures."""
    if s.out is not None:
        s.out.mkdir(parents=True, exist_ok=True)
        (s.out / "bench.partial.json").write_text(json.dumps(results, indent=1) + "\n")


def check(name: str, value: float | None, target: str, ok: bool | None) -> dict[str, Any]:
    """One target check: its name, the measured value, the target and whether it is met."""
    return {"name": name, "value": value, "target": target, "ok": ok}


def targets(r: dict[str, Any], s: fig.Settings) -> list[dict[str, Any]]:
    """Each figure against its target in the issue; a figure that failed is skipped."""
    out: list[dict[str, Any]] = []
    for part in (overhead_targets, fanout_targets, latency_targets, startup_targets, note_targets):
        try:
            part(r, s, out)
        except (KeyError, TypeError) as e:
            out.append(check(f"{part.__name__}: not checked (missing {e})", None, "-", None))
    return out


def overhead_targets(r: dict[str, Any], s: fig.Settings, out: list[dict[str, Any]]) -> None:
    """Append the overhead checks, and on CUDA the fps to one client at 256 and 512 px."""
    for row in r["overhead"]:
        ours = row["livegen"]
        label = model_label(row)
        v = ours["ratio"]["median"]
        bare = ours["bare_fps"]["median"]
        if bare is not None and bare > ours["ceiling_fps"]:
            # The model outruns the contract's fps ceiling: the server is asked for less than
            # the bare rate, so the fair measure is against what it was asked for.
            out.append(check(f"overhead {label}: delivered / bare (ceiling-bound, for information)",
                             v, ">= 0.85", None))
            v = ours["ratio_to_ceiling"]
            out.append(check(f"overhead {label}: delivered / min(bare, {ours['ceiling_fps']:.0f} fps "
                             "ceiling)", v, ">= 0.85", None if v is None else v >= 0.85))
        else:
            out.append(check(f"overhead {label}: delivered / bare", v, ">= 0.85",
                             None if v is None else v >= 0.85))
        if s.device == "cuda" and row["resolution"] in (256, 512):
            need = 500 if row["resolution"] == 256 else 240
            f = ours["fps"]["median"]
            out.append(check(f"{label}: delivered fps to one client", f, f">= {need}",
                             None if f is None else f >= need))


def model_label(row: dict[str, Any]) -> str:
    """An overhead row's label: the model unless untrained, resolution and streams."""
    name = "" if row.get("model", "random") == "random" else f"{row['model']} "
    return f"{name}{row['resolution']}px x{row['streams']}"


def fanout_targets(r: dict[str, Any], s: fig.Settings, out: list[dict[str, Any]]) -> None:
    """Append a worst client / single check for each fan-out config of more than one client."""
    for name, c in r["fanout"]["livegen"]["configs"].items():
        if name != "1":
            v = c["worst_vs_single"]["median"]
            out.append(check(f"fan-out {name}: worst client / single", v, ">= 0.95",
                             None if v is None else v >= 0.95))


def latency_targets(r: dict[str, Any], s: fig.Settings, out: list[dict[str, Any]]) -> None:
    """Append the median and p99 latency checks, in frame intervals, for each latency run."""
    for k, lat in r["latency"]["livegen"].items():
        med, p99 = lat["received_frames"]["median"], lat["received_frames"]["p99"]
        out.append(check(f"latency ({k}) median, frames", med, "<= 1.5",
                         None if med is None else med <= 1.5))
        out.append(check(f"latency ({k}) p99, frames", p99, "<= 3",
                         None if p99 is None else p99 <= 3))


def startup_targets(r: dict[str, Any], s: fig.Settings, out: list[dict[str, Any]]) -> None:
    """Append the start-up to ready line check."""
    v = r["startup"]["ready_s"]["median"]
    out.append(check("start-up to ready line, s", v, "<= 5", None if v is None else v <= 5))


def note_targets(r: dict[str, Any], s: fig.Settings, out: list[dict[str, Any]]) -> None:
    """Append the note timing p99 check when bench.note_timing ran."""
    if r["note_timing"]["status"] == "ok":
        v = (r["note_timing"]["server_abs_send_minus_due_ms"] or {}).get("p99")
        out.append(check("note timing (immediate) p99 |send - due|, ms", v, "<= 1",
                         None if v is None else v <= 1))


def main(argv: list[str] | None = None) -> int:
    """Run the suite, print its table (and JSON with --json), write --out files; 2 if CUDA is missing."""
    args = parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    s = settings(args)
    if args.device == "cuda":
        import torch
        if not torch.cuda.is_available():
            print("python -m bench: --device cuda asked for, but torch sees no CUDA device",
                  file=sys.stderr)
            return 2
    results = asyncio.run(run(s, not args.no_naive, mode))
    text = render(results)
    print(text, flush=True)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench.txt").write_text(text + "\n")
        (out / "bench.json").write_text(json.dumps(results, indent=1) + "\n")
    if args.json:
        print(json.dumps(results), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

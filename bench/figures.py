"""Each figure of the suite: overhead, fan-out, control latency, threads and start-up."""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.clients import Arrival, FrameReader, OscSender, StalledClient
from bench.forward import BareForward
from bench.procs import ServerProcess
from bench.stats import distribution, ratio, summary

DEFAULT_PATCH = Path(__file__).resolve().parent.parent / "patches" / "default.toml"
MAX_FPS = 240.0  # the ceiling of /visual/fps in the contract: "as fast as it can" for one stream


@dataclass
class Settings:
    """How long and how often to measure, and what."""

    device: str = "cpu"
    window_s: float = 3.0
    repeats: int = 5
    settle_s: float = 1.0
    latency_messages: int = 150
    overhead: list[tuple[int, int]] = field(default_factory=lambda: [(128, 1), (256, 1)])
    fanout: tuple[int, ...] = (1, 8, 32)
    fanout_resolution: int = 128
    fanout_fps: float = 30.0
    latency_resolution: int = 128
    latency_fps: float = 60.0
    startup_repeats: int = 5
    threads: int | None = None  # the engine's torch threads on a CPU (cores - 1), None on a GPU
    out: Path | None = None  # where partial results go (--out)
    only: set[str] | None = None  # figures to run; None: all
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="livegen-bench-")))


def voice_names(streams: int) -> list[str]:
    """The visual voices' names for this many streams: visual, visual2, visual3, ..."""
    return ["visual"] + [f"visual{i + 1}" for i in range(1, streams)]


def write_patch(s: Settings, resolution: int, fps: float, streams: int = 1,
                model: str = "random") -> Path:
    """A patch of `streams` visual voices sharing one generator: untrained of that size, or
    a shipped model by name (its card gives the size)."""
    lines = [f"# written by the benchmark: model {model}"]
    size = [f"resolution = {resolution}"] if model == "random" else []
    for i, name in enumerate(voice_names(streams)):
        lines += [f"[voices.{name}]", 'kind = "visual"', f'model = "{model}"', *size,
                  f"fps = {fps}", f"seed = {7 + i}", 'mode = "walk"', ""]
    path = s.tmp / f"bench-{Path(model).name}-{resolution}-{streams}-{int(fps)}.toml"
    path.write_text("\n".join(lines))
    return path


def set_fps(osc: OscSender, streams: int, fps: float) -> None:
    """Send each visual voice of the patch its /fps."""
    for name in voice_names(streams):
        osc.send(f"/{name}/fps", float(fps))


async def rates(readers: list[FrameReader], window: float) -> list[float]:
    """Each reader's frames per second over the next `window` seconds."""
    t0 = time.time()
    await asyncio.sleep(window)
    t1 = time.time()
    return [r.fps(t0, t1) for r in readers]


async def open_clients(port: int, readers: int, stalled: int) -> tuple[list[FrameReader],
                                                                        list[StalledClient]]:
    """Connect the stalled clients one by one, then the readers at once; return both."""
    rs = [FrameReader(port) for _ in range(readers)]
    ss = [StalledClient(port) for _ in range(stalled)]
    # The stalled ones first: every reader then shares the server with a client that never reads.
    for c in ss:
        await c.start()
    await asyncio.gather(*(r.start() for r in rs))
    return rs, ss


async def close_clients(rs: list[FrameReader], ss: list[StalledClient]) -> None:
    """Close the readers and the stalled clients."""
    await asyncio.gather(*(r.close() for r in rs))
    for c in ss:
        await c.close()


# -- 1. overhead -----------------------------------------------------------------------------

async def stall(s: Settings, srv: ServerProcess, osc: OscSender, streams: int,
                fps: float) -> tuple[StalledClient, int | None]:
    """Connect a client that never reads and run flat out until the server is blocked on it."""
    client = StalledClient(srv.port)
    await client.start()
    set_fps(osc, streams, MAX_FPS)
    backlog = await client.fill(timeout=max(3.0, 4 * s.settle_s))
    set_fps(osc, streams, fps)
    return client, backlog


async def overhead(s: Settings, resolution: int, streams: int, naive: bool,
                   bare: BareForward | None, model: str = "random") -> dict[str, Any]:
    """Delivered fps to one client (all streams), alone and beside a stalled client; bare fps."""
    patch = write_patch(s, resolution, MAX_FPS, streams, model)
    out: dict[str, list[float | None]] = {"bare_fps": [], "fps": [], "fps_stalled": [],
                                          "ratio": [], "ratio_stalled": [], "bare_cpu_ms": [],
                                          "server_cpu_ms": [], "busiest_thread_cpu_ms": []}
    round_trips: list[float] = []
    async with ServerProcess(patch, naive=naive, device=s.device) as srv:
        osc = OscSender(srv.osc)
        (reader,), _ = await open_clients(srv.port, 1, 0)
        stalled: StalledClient | None = None
        try:
            for phase in ("fps", "fps_stalled"):
                if phase == "fps_stalled":
                    stalled, backlog = await stall(s, srv, osc, streams, MAX_FPS)
                for _ in range(s.repeats):
                    b = None
                    if bare is not None:
                        set_fps(osc, streams, 1.0)  # the server idles while the bare model runs
                        await asyncio.sleep(0.3)
                        b = await asyncio.to_thread(bare.measure, s.window_s, s.threads)
                        set_fps(osc, streams, MAX_FPS)
                        out["bare_fps"].append(b)
                        out["bare_cpu_ms"].append(bare.cpu_ms_per_frame)
                    await asyncio.sleep(s.settle_s)
                    cpu0, threads0 = srv.cpu_s()
                    (f,) = await rates([reader], s.window_s)
                    cpu1, threads1 = srv.cpu_s()
                    out[phase].append(f)
                    frames = f * s.window_s
                    if phase == "fps" and frames > 0 and cpu1 > 0:
                        busiest = max((threads1[t] - threads0.get(t, 0.0) for t in threads1), default=0.0)
                        out["server_cpu_ms"].append((cpu1 - cpu0) * 1000 / frames)
                        out["busiest_thread_cpu_ms"].append(busiest * 1000 / frames)
                    out[phase.replace("fps", "ratio")].append(ratio(f, b))
                    if phase == "fps" and not naive:  # event loop, with the engine flat out
                        for _ in range(3):
                            rtt = await reader.round_trip()
                            if rtt is not None:
                                round_trips.append(rtt * 1000)
            rss = srv.rss_mib()
        finally:
            await reader.close()
            if stalled is not None:
                await stalled.close()
            osc.close()
    keys = ("fps", "fps_stalled", "server_cpu_ms", "busiest_thread_cpu_ms") if naive else tuple(out)
    result: dict[str, Any] = {k: summary(out[k]) for k in keys}
    cap = streams * MAX_FPS  # the most the contract's fps ceiling lets these streams ask for
    if not naive:
        reachable = min(result["bare_fps"]["median"] or cap, cap)
        result["ratio_to_ceiling"] = ratio(result["fps"]["median"], reachable)
    if not naive:
        result["loop_round_trip_ms"] = distribution(round_trips)
    result.update(model=model, resolution=resolution, streams=streams, rss_mib=rss, stalled_backlog=backlog,
                  ceiling_fps=cap,
                  startup_s=round(srv.startup_s, 3))
    return result


# -- 2. fan-out ------------------------------------------------------------------------------

def fanout_configs(s: Settings) -> list[tuple[int, int]]:
    """(readers, stalled): n readers; then n - 1 readers beside one stalled client."""
    return [(n, 0) for n in s.fanout] + [(n - 1, 1) for n in s.fanout if n > 1]


def config_name(readers: int, stalled: int) -> str:
    """A fan-out config's name: the number of clients, and '(1 stalled)' with a stalled one."""
    return f"{readers + stalled}" + (" (1 stalled)" if stalled else "")


async def fanout(s: Settings, srv: ServerProcess, osc: OscSender) -> dict[str, Any]:
    """Each reader's rate with n clients; the worst reader against the lone reader, same repeat.

    The stalled client connects once, after the runs without it, and stays: the server is
    blocked on it (its socket buffer full) throughout the runs with it.
    """
    set_fps(osc, 1, s.fanout_fps)
    configs = fanout_configs(s)
    per: dict[str, dict[str, list[float | None]]] = {
        config_name(*c): {"fps": [], "worst_fps": [], "worst_vs_single": [], "rss_mib": []}
        for c in configs}
    round_trips: dict[str, list[float]] = {config_name(*c): [] for c in configs}
    single: list[float] = []
    stalled: StalledClient | None = None
    backlog = None
    try:
        for with_stall in (False, True):
            if with_stall:
                if not any(st for _, st in configs):
                    break
                stalled, backlog = await stall(s, srv, osc, 1, s.fanout_fps)
                await asyncio.sleep(s.settle_s)
            for r in range(s.repeats):
                for readers, st in configs:
                    if bool(st) != with_stall:
                        continue
                    rs, _ = await open_clients(srv.port, readers, 0)
                    try:
                        await asyncio.sleep(s.settle_s)
                        fps = await rates(rs, s.window_s)
                        rss = srv.rss_mib()
                        if not srv.naive:  # the naive server answers no JSON
                            for _ in range(5):
                                rtt = await rs[0].round_trip()
                                if rtt is not None:
                                    round_trips[config_name(readers, st)].append(rtt * 1000)
                    finally:
                        await close_clients(rs, [])
                    median = sorted(fps)[len(fps) // 2]
                    if (readers, st) == (1, 0):
                        single.append(median)
                    row = per[config_name(readers, st)]
                    row["fps"].append(median)
                    row["worst_fps"].append(min(fps))
                    row["worst_vs_single"].append(ratio(min(fps), single[r] if single else None))
                    row["rss_mib"].append(rss)
    finally:
        if stalled is not None:
            await stalled.close()
    return {"resolution": s.fanout_resolution, "target_fps": s.fanout_fps, "stalled_backlog": backlog,
            "configs": {name: {k: summary(v) for k, v in row.items()}
                        | {"loop_round_trip_ms": distribution(round_trips[name])}
                        for name, row in per.items()}}


# -- 3. control-to-frame latency -------------------------------------------------------------

def match_latencies(sends: list[float], s0: int, arrivals: list[Arrival]
                    ) -> tuple[list[float], list[float]]:
    """For OSC message i (stamp s0 + i + 1): seconds to the first frame rendered and received."""
    rendered, received = [], []
    j = 0
    for i, t_send in enumerate(sends):
        stamp = s0 + i + 1
        while j < len(arrivals) and arrivals[j].stamp < stamp:
            j += 1
        if j == len(arrivals):
            break
        a = arrivals[j]
        rendered.append(a.render_us / 1e6 - t_send)
        received.append(a.t - t_send)
    return rendered, received


async def latency(s: Settings, srv: ServerProcess, osc: OscSender, stalled: bool) -> dict[str, Any]:
    """OSC message in -> first frame whose stamp reflects it: rendered (server) and received."""
    set_fps(osc, 1, s.latency_fps)
    interval = 1.0 / s.latency_fps
    ss = [(await stall(s, srv, osc, 1, s.latency_fps))[0]] if stalled else []
    rs, _ = await open_clients(srv.port, 1, 0)
    reader = rs[0]
    rng = random.Random(5)
    try:
        await asyncio.sleep(max(s.settle_s, 0.5))  # quiet: the newest frame carries the newest stamp
        s0 = reader.latest_stamp()
        sends: list[float] = []
        if s0 is not None:
            for i in range(s.latency_messages):
                sends.append(osc.send("/visual/speed", 1.0 + 0.5 * (i % 2)))
                await asyncio.sleep(rng.uniform(2.5, 6.5) * interval)  # off the frame grid
            await asyncio.sleep(0.5)
        final = reader.latest_stamp()
    finally:
        await close_clients(rs, ss)
    rendered, received = match_latencies(sends, s0, reader.arrivals) if s0 is not None else ([], [])
    ms = 1000.0
    return {
        "fps": s.latency_fps, "frame_interval_ms": round(interval * ms, 3), "stalled": stalled,
        "messages": s.latency_messages, "matched": len(received),
        "all_applied": final is not None and s0 is not None and final >= s0 + len(sends),
        "rendered_ms": distribution([x * ms for x in rendered]),
        "received_ms": distribution([x * ms for x in received]),
        "rendered_frames": distribution([x / interval for x in rendered]),
        "received_frames": distribution([x / interval for x in received]),
    }


# -- server at 128: overhead, fan-out and latency in one process -----------------------------

async def fanout_and_latency(s: Settings, naive: bool) -> dict[str, Any]:
    """Fan-out, then latency alone and beside a stalled client, on one server."""
    patch = write_patch(s, s.fanout_resolution, s.fanout_fps)
    async with ServerProcess(patch, naive=naive, device=s.device) as srv:
        osc = OscSender(srv.osc)
        try:
            fan = await fanout(s, srv, osc)
            lat = {"alone": await latency(s, srv, osc, False),
                   "stalled": await latency(s, srv, osc, True)}
        finally:
            osc.close()
    return {"fanout": fan, "latency": lat}


# -- threads: is (cores - 1) right? ----------------------------------------------------------

async def threads(s: Settings, bare: BareForward) -> dict[str, Any]:
    """Bare forward and delivered fps at 128 with the engine on cores - 1 and on every core."""
    cores = os.cpu_count() or 1
    patch = write_patch(s, bare.resolution, MAX_FPS)
    out: dict[str, Any] = {}
    for n in sorted({max(1, cores - 1), cores}):
        bare_fps, fps = [], []
        env = {"LIVEGEN_TORCH_THREADS": str(n)}
        async with ServerProcess(patch, device=s.device, env=env) as srv:
            osc = OscSender(srv.osc)
            (reader,), _ = await open_clients(srv.port, 1, 0)
            try:
                for _ in range(s.repeats):
                    set_fps(osc, 1, 1.0)
                    await asyncio.sleep(0.3)
                    bare_fps.append(await asyncio.to_thread(bare.measure, s.window_s, n))
                    set_fps(osc, 1, MAX_FPS)
                    await asyncio.sleep(s.settle_s)
                    fps += await rates([reader], s.window_s)
            finally:
                await reader.close()
                osc.close()
        out[str(n)] = {"bare_fps": summary(bare_fps), "fps": summary(fps)}
    return {"resolution": bare.resolution, "engine_default": max(1, cores - 1), "threads": out}


# -- 5. start-up -----------------------------------------------------------------------------

async def startup(s: Settings) -> dict[str, Any]:
    """Process start to ready line on the default patch; SIGTERM to exit."""
    ready, stop, codes = [], [], []
    for _ in range(s.startup_repeats):
        async with ServerProcess(DEFAULT_PATCH, device=s.device) as srv:
            pass
        ready.append(srv.startup_s)
        stop.append(srv.stop_s)
        codes.append(srv.exit_code)
    return {"patch": str(DEFAULT_PATCH.name), "ready_s": summary(ready), "stop_s": summary(stop),
            "exit_codes": codes}

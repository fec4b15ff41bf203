"""The suite's results as a plain-text table: machine first, then each figure with its spread."""

from __future__ import annotations

from typing import Any


def fmt(x: Any, digits: int = 2) -> str:
    """A value as text: '-' for None, a float to `digits` decimals."""
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def spread(s: dict[str, Any] | None, digits: int = 2) -> str:
    """'median [min..max] xN' of a summary, or its distribution's median and p99."""
    if not s or s.get("median") is None:
        return "-"
    if "p99" in s:
        return (f"{fmt(s['median'], digits)} [p10 {fmt(s['p10'], digits)} p90 {fmt(s['p90'], digits)}"
                f" p99 {fmt(s['p99'], digits)}] n={s['n']}")
    return f"{fmt(s['median'], digits)} [{fmt(s['min'], digits)}..{fmt(s['max'], digits)}] x{s['n']}"


class Table:
    """The figures' rows and section titles, laid out in aligned columns."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, label: str, ours: str, naive: str = "", vs: str = "") -> None:
        self.rows.append((label, ours, naive, vs))

    def section(self, title: str) -> None:
        self.rows.append((f"-- {title}", "", "", ""))

    def text(self) -> str:
        head = ("figure", "livegen: median [spread]", "naive baseline", "ours/naive")
        rows = [head, *self.rows]
        body = [r for r in rows if not r[0].startswith("-- ")]  # section titles span the table
        widths = [max(len(r[i]) for r in body) for i in range(4)]
        return "\n".join(r[0] if r[0].startswith("-- ") else
                         "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                         for r in rows)


def one_line(text: str, limit: int = 300) -> str:
    """The last non-empty line of a message (a traceback's error), at most `limit` characters."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= limit else line[:limit - 3] + "..."


def render(r: dict[str, Any]) -> str:
    """The whole report: the machine, a table of every figure, then the targets."""
    m = r["machine"]
    lines = [
        f"livegen bench ({r['mode']}), {r['time']}, {r['elapsed_s']} s",
        f"machine: {m['cpu']}, {m['cores']} cores, python {m['python']}, torch {m['torch']}, "
        f"GPU {m['gpu'] or 'none'}, device {m['device']}, commit {m['commit']}",
        f"load average (1/5/15 min): before {m['load_avg']}, after {m.get('load_avg_after')}; "
        f"engine torch threads {r['engine_threads']}",
        f"model: {r['model']}; window {r['window_s']} s, {r['repeats']} repeats; "
        "spread = [min..max] over repeats",
        "",
    ]
    t = Table()
    for part in (overhead_rows, fanout_rows, latency_rows, threads_rows, startup_rows, notes_rows):
        try:
            part(r, t)
        except (KeyError, TypeError) as e:
            t.section(f"{part.__name__}: not available (missing {e})")
    for key, error in r.get("errors", {}).items():
        t.section(f"figure {key} failed: {one_line(error)}")
    lines.append(t.text())
    lines.append("")
    lines.append("targets:")
    for c in r["targets"]:
        mark = {True: "ok  ", False: "MISS", None: "n/a "}[c["ok"]]
        lines.append(f"  {mark} {c['name']}: {fmt(c['value'], 3)} (target {c['target']})")
    return "\n".join(lines)


def overhead_rows(r: dict[str, Any], t: Table) -> None:
    """Add the overhead figure's rows, with the naive baseline where measured."""
    t.section("1. overhead: fps delivered to one WebSocket client / bare forward fps")
    for row in r["overhead"]:
        ours, base, vs = row["livegen"], row.get("naive"), row.get("vs_naive") or {}
        name = "" if row.get("model", "random") == "random" else f"{row['model']} "
        label = f"{name}{row['resolution']}px x{row['streams']} stream(s)"
        t.add(f"{label}: bare forward fps", spread(ours["bare_fps"], 1))
        t.add(f"{label}: delivered fps", spread(ours["fps"], 1), spread(base and base["fps"], 1),
              fmt(vs.get("fps")))
        t.add(f"{label}: delivered fps, 1 stalled", spread(ours["fps_stalled"], 1),
              spread(base and base["fps_stalled"], 1), fmt(vs.get("fps_stalled")))
        t.add(f"{label}: ratio (target >= 0.85)", spread(ours["ratio"], 3),
              fmt(base and base.get("ratio"), 3))
        t.add(f"{label}: ratio, 1 stalled", spread(ours["ratio_stalled"], 3),
              fmt(base and base.get("ratio_stalled"), 3))
        if ours["ceiling_fps"] < (ours["bare_fps"]["median"] or 0):
            t.add(f"{label}: delivered / min(bare, {ours['ceiling_fps']:.0f} fps ceiling)",
                  fmt(ours["ratio_to_ceiling"], 3))
        t.add(f"{label}: CPU ms/frame, bare forward", spread(ours.get("bare_cpu_ms"), 2))
        t.add(f"{label}: CPU ms/frame, server (all threads)", spread(ours.get("server_cpu_ms"), 2),
              spread(base and base.get("server_cpu_ms"), 2))
        t.add(f"{label}: CPU ms/frame, server busiest thread", spread(ours.get("busiest_thread_cpu_ms"), 2),
              spread(base and base.get("busiest_thread_cpu_ms"), 2))
        t.add(f"{label}: server RSS MiB", fmt(ours["rss_mib"], 1), fmt(base and base["rss_mib"], 1))
        t.add(f"{label}: WS get -> reply ms, engine flat out", spread(ours.get("loop_round_trip_ms"), 2))


def fanout_rows(r: dict[str, Any], t: Table) -> None:
    """Add the fan-out figure's rows, with the naive baseline where measured."""
    fan = r["fanout"]
    t.section(f"2. fan-out at {fan['livegen']['resolution']}px, target {fan['livegen']['target_fps']} "
              "fps: per-client fps (median client; worst client / single)")
    for name, c in fan["livegen"]["configs"].items():
        base = fan["naive"]["configs"][name] if fan.get("naive") else None
        t.add(f"{name} client(s): median client fps", spread(c["fps"], 1),
              spread(base and base["fps"], 1))
        t.add(f"{name} client(s): worst client fps", spread(c["worst_fps"], 1),
              spread(base and base["worst_fps"], 1), fmt((fan.get("vs_naive") or {}).get(name)))
        if name != "1":
            t.add(f"{name} client(s): worst / single (>= 0.95)", spread(c["worst_vs_single"], 3),
                  spread(base and base["worst_vs_single"], 3))
        t.add(f"{name} client(s): server RSS MiB", spread(c["rss_mib"], 1),
              spread(base and base["rss_mib"], 1))
        t.add(f"{name} client(s): WS get -> reply ms (event loop free)",
              spread(c.get("loop_round_trip_ms"), 2))


def latency_rows(r: dict[str, Any], t: Table) -> None:
    """Add the latency figure's rows for each run (alone, beside a stalled client)."""
    lat = r["latency"]
    for key, ours in lat["livegen"].items():
        base = lat["naive"][key] if lat.get("naive") else None
        t.section(f"3. control-to-frame latency at {ours['fps']} fps, {key}: OSC in -> frame "
                  f"(interval {ours['frame_interval_ms']} ms); matched {ours['matched']}/"
                  f"{ours['messages']}" + (f", naive {base['matched']}/{base['messages']}" if base else ""))
        t.add("rendered (server), ms", spread(ours["rendered_ms"], 1),
              spread(base and base["rendered_ms"], 1))
        t.add("received (client), ms", spread(ours["received_ms"], 1),
              spread(base and base["received_ms"], 1), fmt((lat.get("vs_naive") or {}).get(key)))
        t.add("received, frame intervals (median <= 1.5, p99 <= 3)", spread(ours["received_frames"], 2),
              spread(base and base["received_frames"], 2))


def threads_rows(r: dict[str, Any], t: Table) -> None:
    """Add the engine threads figure's rows, when it ran."""
    if "threads" in r:
        th = r["threads"]
        t.section(f"engine torch threads at {th['resolution']}px (engine default {th['engine_default']})")
        for n, v in th["threads"].items():
            t.add(f"{n} thread(s): bare forward fps", spread(v["bare_fps"], 1))
            t.add(f"{n} thread(s): delivered fps", spread(v["fps"], 1))


def startup_rows(r: dict[str, Any], t: Table) -> None:
    """Add the start-up figure's rows."""
    st = r["startup"]
    t.section(f"5. start-up on {st['patch']}")
    t.add("process start -> ready line, s (<= 5)", spread(st["ready_s"], 2))
    t.add("SIGTERM -> exit, s", spread(st["stop_s"], 2) + f" codes {st['exit_codes']}")

def notes_rows(r: dict[str, Any], t: Table) -> None:
    """Add the note timing figure's rows, or its status when it gave none."""
    notes = r["note_timing"]
    t.section("4. note timing under full visual load (bench/note_timing.py), immediate mode")
    if notes.get("status") != "ok":
        t.add("note timing", one_line(notes.get("status", "-")))
        return
    srv, rcv = notes["server_abs_send_minus_due_ms"] or {}, notes["receiver_abs_arrival_minus_due_ms"] or {}
    t.add(f"|send - due| in server, ms (p99 <= 1); {notes['notes']} notes",
          f"{fmt(srv.get('p50'), 3)} [p99 {fmt(srv.get('p99'), 3)} max {fmt(srv.get('max'), 3)}]")
    t.add("|arrival - due| at a UDP receiver, ms",
          f"{fmt(rcv.get('p50'), 3)} [p99 {fmt(rcv.get('p99'), 3)} max {fmt(rcv.get('max'), 3)}]")
    t.add("visual load while measuring, fps", fmt(notes.get("visual_fps"), 1))

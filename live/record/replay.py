"""Rebuild and replay a recorded performance: `python -m live.record.replay DIR`.

From events.jsonl alone it rebuilds the MIDI file (tempo map and every note). Then it runs the
same models with the same seed through the recorded generation log (each control change as the
voice applied it: restarts, primes, styles, keys and settings at the event where they took
effect) and checks that the notes and text come out identical.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch

from live.record.recorder import midi_from_events, read_events, write_midi

MAX_EXTRA_EVENTS = 200_000  # generating past the last record, looking for the last notes


def regenerate_music(name: str, spec: dict[str, Any], seed: int,
                     records: list[dict[str, Any]], notes: list[dict[str, Any]]) -> dict[str, Any]:
    """Run the voice's model through its generation log; compare notes by id."""
    from live.voices.music_gen import MusicGen, Settings, grooves_for, load_music_model
    from models.music_rnn import Event

    model, card = load_music_model(spec, torch.device("cpu"))
    gen = MusicGen(model, name, seed, grooves=grooves_for(spec, card))
    settings = Settings()
    made: dict[int, Any] = {}

    def advance(to_event: int) -> None:
        if gen.sampler is not None and to_event > gen.events:
            for n in gen.run_events(settings, to_event - gen.events):
                made[n.id] = gen.perform(n, settings)

    for rec in records:
        advance(rec["event"])
        op = rec["op"]
        if op == "restart":
            gen.restart(rec["step"], rec["style"], [Event(k, v) for k, v in rec["prime"]])
        elif op == "release":
            gen.release(rec["step"])
        elif op == "close":
            for n in gen.close_all(rec["step"]):
                made[n.id] = gen.perform(n, settings)
        elif op == "settings":
            settings = Settings.from_record(rec)
    want = max((n["id"] for n in notes), default=0)
    extra = 0
    while gen.sampler is not None and gen.next_id < want and extra < MAX_EXTRA_EVENTS:
        for n in gen.run_events(settings, 64):
            made[n.id] = gen.perform(n, settings)
        extra += 64
    same = 0
    first_diff = None
    for rec in notes:
        got = made.get(rec["id"])
        ok = got is not None and got.pitch == rec["pitch"] and got.velocity == rec["velocity"] \
            and got.start == Fraction(rec["beat"]) and got.end - got.start == Fraction(rec["beats"])
        same += ok
        if not ok and first_diff is None:
            first_diff = {"recorded": rec, "regenerated": got and {
                "pitch": got.pitch, "velocity": got.velocity, "beat": str(got.start),
                "beats": str(got.end - got.start)}}
    return {"notes": len(notes), "identical": same, "first_difference": first_diff}


def regenerate_text(name: str, spec: dict[str, Any], seed: int,
                    records: list[dict[str, Any]], chars: list[dict[str, Any]]) -> dict[str, Any]:
    """Each stretch of text between restarts must be the start of what the model says again."""
    from live.voices.text import TextGen, load_text_model
    from models.verse import STANZA_BREAK

    model, _ = load_text_model(spec, torch.device("cpu"))
    gen = TextGen(model, name, seed)
    temperature: float | tuple[float, ...] = 0.8
    top_p = 0.95
    by_restart: dict[int, str] = {}
    for c in chars:
        by_restart[c["restarts"]] = by_restart.get(c["restarts"], "") + c["text"]
    made: dict[int, list[str]] = {}

    def advance(to_event: int) -> None:
        while gen.sampler is not None and gen.events < to_event:
            c = gen.step(temperature, top_p)
            made.setdefault(gen.restarts, []).append("\n" if c == STANZA_BREAK else c)  # as sent

    for rec in records:
        advance(rec["event"])
        if rec["op"] == "restart":
            gen.restart(rec["prime"], rec.get("form", "free"))
        elif rec["op"] == "settings":
            t = rec["temperature"]
            temperature = tuple(t) if isinstance(t, list) else float(t)
            top_p = float(rec["top_p"])
    last = gen.restarts
    left = len(by_restart.get(last, "")) - len(made.get(last, []))
    advance(gen.events + max(0, left))
    same = sum(1 for r, text in by_restart.items() if "".join(made.get(r, [])).startswith(text))
    return {"stretches": len(by_restart), "identical": same,
            "characters": sum(len(t) for t in by_restart.values())}


def replay(folder: Path, out: Path | None, regenerate: bool) -> dict[str, Any]:
    """Rebuild the MIDI file from a recording's events; with regenerate, check the notes and text."""
    events, torn = read_events(folder / "events.jsonl")
    if not events or events[0].get("type") != "header":
        raise ValueError(f"{folder / 'events.jsonl'} does not start with a header line")
    header = events[0]
    out = out or folder / "replay.mid"
    pm = midi_from_events(events)
    write_midi(pm, out)
    notes = [e for e in events if e["type"] == "note"]
    summary: dict[str, Any] = {
        "folder": str(folder), "lines": len(events), "torn_lines": torn, "midi": str(out),
        "notes": sum(len(i.notes) for i in pm.instruments),
        "tempo_changes": len(pm.get_tempo_changes()[0]), "ended_cleanly": events[-1]["type"] == "end",
    }
    if not regenerate:
        return summary
    # The engine's thread count: matrix-vector sums then add up in the same order.
    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
    voices = tomllib.loads(header["patch_text"]).get("voices", {})
    seed = int(header.get("seed", 0))
    with torch.inference_mode():
        for name, spec in voices.items():
            records = [e for e in events if e["type"] == "gen" and e["voice"] == name]
            if spec.get("kind") == "music":
                mine = [e for e in notes if e["voice"] == name]
                summary.setdefault("music", {})[name] = regenerate_music(
                    name, spec, seed, records, mine)
            elif spec.get("kind") == "text":
                chars = [e for e in events if e["type"] == "text" and e["voice"] == name
                         and e["kind"] == "char"]
                summary.setdefault("text", {})[name] = regenerate_text(
                    name, spec, seed, records, chars)
            elif spec.get("kind") == "draw":
                from live.voices.draw import regenerate as regenerate_draw

                points = [e for e in events if e["type"] == "draw" and e["voice"] == name]
                summary.setdefault("draw", {})[name] = regenerate_draw(
                    name, spec, seed, records, points)
    return summary


def main(argv: list[str] | None = None) -> int:
    """The command line; exit 1 (with --check) when a regenerated part differs, 2 on bad input."""
    ap = argparse.ArgumentParser(prog="python -m live.record.replay", description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="a folder written by server.py --record")
    ap.add_argument("--out", type=Path, help="MIDI file to write (default DIR/replay.mid)")
    ap.add_argument("--no-regenerate", action="store_true",
                    help="only rebuild the MIDI file; do not run the models")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless every note, text and drawing stretch regenerates identically")
    args = ap.parse_args(argv)
    try:
        summary = replay(args.folder, args.out, not args.no_regenerate)
    except (OSError, ValueError, KeyError) as e:
        print(f"live.record.replay: cannot replay {args.folder}: {e}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=1, default=str))
    if args.check:
        for kind in ("music", "text", "draw"):
            for result in summary.get(kind, {}).values():
                total = result.get("notes", result.get("stretches"))
                if result["identical"] != total:
                    return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write the OSC map for TouchDesigner from a running livegen server's GET /schema.

    python patches/touchdesigner/osc_map.py                      # http://127.0.0.1:8765
    python patches/touchdesigner/osc_map.py --url http://10.0.0.5:8765 --out my_map.csv

One row per flat OSC address (the server listens on UDP 9000): the CHOP channel name that
an OSC Out CHOP turns into that address (`visual/speed` -> `/visual/speed f`), the OSC type
tags, range, default and choices, and which operator sends it: `CHOP` for one number
(ints and bools take a whole number, 0 or 1), `DAT` for strings, choices and lists
(`op('oscout1').sendOSC('/visual/mode', ['loop'])`). The control addresses that are not
parameters (presets, learn, panic) follow. Plain Python: no livegen import, no packages.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import urllib.request
from pathlib import Path

COLUMNS = ("address", "chop_channel", "operator", "osc_types", "min", "max", "default",
           "choices", "doc")
TYPE_TAGS = {"float": "f", "int": "i", "bool": "i", "choice": "s", "string": "s", "phrase": "s"}

# docs/protocol.md, Patches: the control addresses that are not parameters.
CONTROL = (
    ("/preset/store", "s", "snapshot every parameter under a name (more s: only those paths)"),
    ("/preset/recall", "s", "set every value of a stored preset"),
    ("/preset/morph", "ssf", "a fraction f (0 to 1) of the way from the first preset to the second"),
    ("/preset/quantise", "s", "none, beat or bar: when recall and morph land"),
    ("/preset/list", "", "replies /preset/names s..."),
    ("/learn/start", "s", "map the next unknown OSC address or MIDI CC to this path"),
    ("/learn/save", "", "append the learned mappings to the patch file"),
    ("/learn/cancel", "", "stop learning"),
)


def fmt(x: object) -> str:
    """A number or list as a short CSV cell."""
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    if isinstance(x, list):
        return " ".join(fmt(v) for v in x)
    if isinstance(x, bool):
        return str(int(x))
    return "" if x is None else str(x)


def rows(schema: dict) -> list[dict[str, str]]:
    """The map's rows for a /schema document."""
    out = []
    for p in schema["params"]:
        kind = p["type"]
        lo, hi = (p["range"] if "range" in p else (0, 1) if kind == "bool" else ("", ""))
        if kind == "vector":
            tags, operator = "f" * p.get("size", 0) or "f...", "DAT"
        else:
            tags = TYPE_TAGS.get(kind, "s")
            operator = "CHOP" if kind in ("float", "int", "bool") else "DAT"
        default = p.get("default")
        if isinstance(default, list) and len(default) > 8:
            default = None  # a latent: too long for a cell
        out.append({"address": p["path"],
                    "chop_channel": p["path"].lstrip("/") if operator == "CHOP" else "",
                    "operator": operator, "osc_types": tags, "min": fmt(lo), "max": fmt(hi),
                    "default": fmt(default), "choices": " ".join(p.get("choices", [])),
                    "doc": p.get("doc", "")})
    for address, tags, doc in CONTROL:
        out.append({"address": address, "chop_channel": "", "operator": "DAT", "osc_types": tags,
                    "min": "0" if tags.endswith("f") else "", "max": "1" if tags.endswith("f") else "",
                    "default": "", "choices": "", "doc": doc})
    return out


def to_csv(schema: dict) -> str:
    """The map as CSV text (a Table DAT reads it with its File parameter)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows(schema))
    return buf.getvalue()


def fetch_schema(url: str) -> dict:
    """GET URL/schema from a running server."""
    with urllib.request.urlopen(url.rstrip("/") + "/schema", timeout=10) as response:
        return json.load(response)


def main(argv: list[str] | None = None) -> int:
    """Fetch /schema and write the CSV."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default="http://127.0.0.1:8765", help="the server's HTTP address")
    parser.add_argument("--out", default=str(Path(__file__).with_name("osc_map.csv")))
    args = parser.parse_args(argv)
    text = to_csv(fetch_schema(args.url))
    Path(args.out).write_text(text, encoding="utf-8")
    print(f"wrote {text.count(chr(10)) - 1} addresses to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Draw livegen.pd as an SVG (livegen.svg) from the boxes and wires in the file.

    python patches/pd/diagram.py        # rewrites patches/pd/livegen.svg

The boxes stand where the patch puts them; widths follow the text as Pd sizes it (about
7 px a character at font size 12), and an outlet or inlet sits where Pd would draw it for
the number the wires use. A diagram, not a screenshot: no Pd GUI runs on the CI machine.
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHAR_W, BOX_H = 7.2, 21


def parse(text: str) -> tuple[list[dict], list[tuple[int, int, int, int]]]:
    """The patch's elements (kind, x, y, text) in file order, and its connections."""
    items, wires = [], []
    for record in re.split(r";\n", text.strip().rstrip(";")):
        tokens = record.replace("\n", " ").split()
        if tokens[:2] == ["#X", "connect"]:
            wires.append(tuple(int(t) for t in tokens[2:6]))
        elif tokens[0] == "#X" and tokens[1] in ("obj", "msg", "floatatom", "symbolatom", "text"):
            kind, x, y, rest = tokens[1], float(tokens[2]), float(tokens[3]), tokens[4:]
            label = " ".join(rest).replace(" \\,", ",").replace("\\$", "$").replace("\\;", ";")
            side = "left"
            if kind == "floatatom":  # width min max label_pos label receive send
                label = rest[4] if len(rest) > 4 and rest[4] != "-" else ""
                side = ("left", "right", "top", "bottom")[int(rest[3])]
            if kind == "obj" and rest and rest[0] == "hsl":
                kind = "hsl"
            items.append({"kind": kind, "x": x, "y": y, "text": label, "side": side})
    return items, wires


def size(item: dict) -> tuple[float, float]:
    """Width and height of an element as Pd draws it."""
    if item["kind"] == "hsl":
        return 128.0, 15.0
    if item["kind"] == "floatatom":
        return 5 * CHAR_W + 6, BOX_H
    if item["kind"] == "text":
        return min(len(item["text"]) * CHAR_W, 600), 18
    return max(len(item["text"]) * CHAR_W + 8, 28), BOX_H


def svg(text: str) -> str:
    """The SVG document for a .pd file's text."""
    items, wires = parse(text)
    n_out = [1] * len(items)
    n_in = [1] * len(items)
    for a, o, b, i in wires:
        n_out[a] = max(n_out[a], o + 1)
        n_in[b] = max(n_in[b], i + 1)
    out = []
    width = max(it["x"] + size(it)[0] for it in items) + 20
    height = max(it["y"] + size(it)[1] for it in items) + 20
    out.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
               f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="DejaVu Sans Mono, monospace" '
               'font-size="12">')
    out.append(f'<rect width="{width:.0f}" height="{height:.0f}" fill="white"/>')

    def port(k: int, n: int, x: float, w: float) -> float:
        return x + (w - 7) * k / (n - 1) + 3.5 if n > 1 else x + 3.5

    for a, o, b, i in wires:
        (wa, ha), (wb, _) = size(items[a]), size(items[b])
        x1, y1 = port(o, n_out[a], items[a]["x"], wa), items[a]["y"] + ha
        x2, y2 = port(i, n_in[b], items[b]["x"], wb), items[b]["y"]
        out.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                   'stroke="#444" stroke-width="1"/>')
    for item in items:
        x, y, (w, h) = item["x"], item["y"], size(item)
        label = escape(item["text"])
        if item["kind"] == "text":
            out.append(f'<text x="{x:.0f}" y="{y + 13:.0f}" fill="#555">{label}</text>')
            continue
        if item["kind"] == "msg":
            out.append(f'<path d="M{x:.0f},{y:.0f} h{w + 4:.0f} l-4,4 v{h - 8:.0f} l4,4 h-{w + 4:.0f} z" '
                       'fill="#f4f4f4" stroke="black"/>')
        elif item["kind"] == "floatatom":
            out.append(f'<path d="M{x:.0f},{y:.0f} h{w - 5:.0f} l5,5 v{h - 5:.0f} h-{w:.0f} z" '
                       'fill="white" stroke="black"/>')
            label = "0"
        elif item["kind"] == "hsl":
            out.append(f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}" '
                       'fill="#fcfcfc" stroke="black"/>'
                       f'<line x1="{x + 2:.0f}" y1="{y:.0f}" x2="{x + 2:.0f}" y2="{y + h:.0f}" '
                       'stroke="black" stroke-width="3"/>')
            continue
        else:
            out.append(f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}" '
                       'fill="white" stroke="black"/>')
        out.append(f'<text x="{x + 4:.0f}" y="{y + 15:.0f}">{label}</text>')
        if item["kind"] == "floatatom" and item["text"]:
            lx, ly, anchor = {"left": (x - 4, y + 15, "end"), "right": (x + w + 4, y + 15, "start"),
                              "top": (x, y - 4, "start"), "bottom": (x, y + h + 13, "start")}[item["side"]]
            out.append(f'<text x="{lx:.0f}" y="{ly:.0f}" text-anchor="{anchor}" fill="#555">'
                       f'{escape(item["text"])}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> int:
    """Rewrite livegen.svg beside livegen.pd."""
    (HERE / "livegen.svg").write_text(svg((HERE / "livegen.pd").read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

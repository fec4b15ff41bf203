"""Draw livegen.maxpat as an SVG (livegen.svg) from its boxes and patch cords.

    python patches/max/diagram.py        # rewrites patches/max/livegen.svg

Every box stands at its patching_rect, inlets and outlets spaced as Max spaces them. A
diagram, not a screenshot: Max does not run on the CI machine.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

HERE = Path(__file__).resolve().parent


def port(k: int, n: int, x: float, w: float) -> float:
    """The x of inlet or outlet k of n on a box at x, w wide."""
    return x + 4 + (w - 8) * k / (n - 1) if n > 1 else x + 4


def svg(patch_text: str) -> str:
    """The SVG document for a .maxpat file's text."""
    patcher = json.loads(patch_text)["patcher"]
    boxes = {b["box"]["id"]: b["box"] for b in patcher["boxes"]}
    width = max(b["patching_rect"][0] + b["patching_rect"][2] for b in boxes.values()) + 20
    height = max(b["patching_rect"][1] + b["patching_rect"][3] for b in boxes.values()) + 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="Arial, DejaVu Sans, sans-serif" '
           'font-size="12">',
           f'<rect width="{width:.0f}" height="{height:.0f}" fill="#e5e5e5"/>']
    for line in patcher["lines"]:
        (src, outlet), (dst, inlet) = line["patchline"]["source"], line["patchline"]["destination"]
        a, b = boxes[src], boxes[dst]
        xa, ya, wa, ha = a["patching_rect"]
        xb, yb, wb, _ = b["patching_rect"]
        out.append(f'<line x1="{port(outlet, a["numoutlets"], xa, wa):.1f}" y1="{ya + ha:.1f}" '
                   f'x2="{port(inlet, b["numinlets"], xb, wb):.1f}" y2="{yb:.1f}" '
                   'stroke="#555" stroke-width="1.5"/>')
    for box in boxes.values():
        x, y, w, h = box["patching_rect"]
        kind, text = box["maxclass"], escape(box.get("text", ""))
        if kind == "comment":
            weight = ' font-weight="bold"' if box.get("fontface") == 1 else ""
            out.append(f'<text x="{x + 4:.0f}" y="{y + 14:.0f}" fill="#222"{weight}>{text}</text>')
            continue
        fill = {"message": "#d9d9d9", "slider": "#cfcfcf"}.get(kind, "#333")
        out.append(f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}" rx="4" '
                   f'fill="{fill}" stroke="#777"/>')
        if kind == "slider":
            vertical = h > w
            knob = (f'<rect x="{x + 2:.0f}" y="{y + h - 8:.0f}" width="{w - 4:.0f}" height="6"'
                    if vertical else f'<rect x="{x + 2:.0f}" y="{y + 2:.0f}" width="6" height="{h - 4:.0f}"')
            out.append(knob + ' fill="#555"/>')
        elif kind in ("flonum", "number"):
            out.append(f'<text x="{x + 12:.0f}" y="{y + 15:.0f}" fill="white">'
                       f'{"0." if kind == "flonum" else "0"}</text>')
        else:
            color = "#111" if kind == "message" else "white"
            out.append(f'<text x="{x + 5:.0f}" y="{y + 15:.0f}" fill="{color}">{text}</text>')
        for k in range(box["numinlets"]):
            out.append(f'<rect x="{port(k, box["numinlets"], x, w) - 3:.0f}" y="{y:.0f}" width="6" '
                       'height="2" fill="#9fd"/>')
        for k in range(box["numoutlets"]):
            out.append(f'<rect x="{port(k, box["numoutlets"], x, w) - 3:.0f}" y="{y + h - 2:.0f}" '
                       'width="6" height="2" fill="#fc9"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> int:
    """Rewrite livegen.svg beside livegen.maxpat."""
    (HERE / "livegen.svg").write_text(svg((HERE / "livegen.maxpat").read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Draw the TouchDesigner network this folder's README builds, as network.svg.

    python patches/touchdesigner/diagram.py

Operators in TouchDesigner's family colours (TOP purple, CHOP green, DAT pink), named as
the scripts expect them. A diagram, not a screenshot: TouchDesigner does not run here.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

HERE = Path(__file__).resolve().parent
FAMILY = {"TOP": "#8a5fb0", "CHOP": "#5e9e4a", "DAT": "#b0527c", "server": "#3a4a5a"}

# name, operator type, family, x, y (a box is W x H; the server is a tall box on the left)
NODES = (
    ("websocket1", "WebSocket DAT  ws://127.0.0.1:8765/ws", "DAT", 250, 40),
    ("livegen_ws_callbacks", "Text DAT  (websocket1's Callbacks)", "DAT", 500, 40),
    ("livegen_frame", "Script TOP  (copyNumpyArray)", "TOP", 750, 40),
    ("null1", "Null TOP  -> your composition", "TOP", 1000, 40),
    ("livegen_script_top", "Text DAT  (livegen_frame's Callbacks)", "DAT", 750, 120),
    ("livegen_messages", "Table DAT  (notes, text, params)", "DAT", 500, 200),
    ("livegen_jpeg", "Movie File In TOP  (without Pillow)", "TOP", 750, 200),
    ("oscout1", "OSC Out CHOP  -> 127.0.0.1:9000", "CHOP", 250, 300),
    ("constant1", "Constant CHOP  visual/speed ...", "CHOP", 500, 300),
    ("osc_map", "Table DAT  File: osc_map.csv", "DAT", 750, 300),
    ("oscout2", "OSC Out DAT  strings, lists, presets", "DAT", 250, 380),
    ("oscin1", "OSC In CHOP  port 9001: notes, beats", "CHOP", 250, 460),
    ("oscin2", "OSC In DAT  port 9002: /text/word", "DAT", 250, 540),
    ("oscquery", "Web Client DAT  http://127.0.0.1:8766/", "DAT", 250, 620),
)
# (from, to, label); "server" is the livegen server
EDGES = (
    ("server", "websocket1", "frames"),
    ("websocket1", "livegen_ws_callbacks", ""),
    ("livegen_ws_callbacks", "livegen_frame", "cook"),
    ("livegen_script_top", "livegen_frame", ""),
    ("livegen_ws_callbacks", "livegen_messages", ""),
    ("livegen_ws_callbacks", "livegen_jpeg", ""),
    ("livegen_frame", "null1", ""),
    ("constant1", "oscout1", ""),
    ("osc_map", "constant1", ""),
    ("oscout1", "server", "UDP 9000"),
    ("oscout2", "server", "UDP 9000"),
    ("server", "oscin1", "UDP 9001"),
    ("server", "oscin2", "UDP 9002"),
    ("server", "oscquery", "HTTP 8766"),
)
W, H = 215, 46
SERVER = (20, 40, 170, 626)


def anchor(name: str, other: tuple[float, float]) -> tuple[float, float]:
    """Where an edge leaves or enters a box, on the side facing the other end."""
    if name == "server":
        x, y, w, _ = SERVER
        return x + w, other[1] + H / 2
    x, y = next((n[3], n[4]) for n in NODES if n[0] == name)
    ox, oy = other
    if ox == x:
        return x + W / 2, (y + H if oy > y else y)
    return (x + W if ox > x else x), y + H / 2


def svg() -> str:
    """The SVG document."""
    at = {name: (x, y) for name, _, _, x, y in NODES}
    at["server"] = SERVER[:2]
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="1240" height="690" viewBox="0 0 1240 690" '
           'font-family="DejaVu Sans, Arial, sans-serif" font-size="11">',
           '<defs><marker id="a" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#999"/></marker></defs>',
           '<rect width="1240" height="690" fill="#2b2b2b"/>']
    for a, b, label in EDGES:
        other_b = at[b] if b != "server" else (SERVER[0], at[a][1])
        other_a = at[a] if a != "server" else (SERVER[0], at[b][1])
        x1, y1 = anchor(a, other_b)
        x2, y2 = anchor(b, other_a)
        out.append(f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" stroke="#999" '
                   'stroke-width="1.5" marker-end="url(#a)"/>')
        if label:
            out.append(f'<text x="{(x1 + x2) / 2:.0f}" y="{min(y1, y2) - 5:.0f}" fill="#ccc" '
                       f'text-anchor="middle">{escape(label)}</text>')
    x, y, w, h = SERVER
    out.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="3" fill="{FAMILY["server"]}" '
               'stroke="#111"/>')
    for i, line in enumerate(("livegen server", "", "WebSocket :8765/ws", "OSC in UDP :9000",
                              "OSC out UDP :9001, :9002", "OSCQuery :8766")):
        weight = ' font-weight="bold" font-size="13"' if i == 0 else ""
        out.append(f'<text x="{x + 10}" y="{y + 24 + 18 * i}" fill="white"{weight}>{escape(line)}</text>')
    for name, kind, family, x, y in NODES:
        out.append(f'<rect x="{x}" y="{y}" width="{W}" height="{H}" rx="3" fill="{FAMILY[family]}" '
                   'stroke="#111"/>')
        out.append(f'<text x="{x + 8}" y="{y + 18}" fill="white" font-weight="bold" font-size="12">'
                   f'{escape(name)}</text>')
        out.append(f'<text x="{x + 8}" y="{y + 36}" fill="#eee">{escape(kind)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> int:
    """Rewrite network.svg."""
    (HERE / "network.svg").write_text(svg())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

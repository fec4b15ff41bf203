"""Pen-stroke data sets in stroke-5 for the drawing voice, from Debian packages or SVG folders.

    python -m models.data strokes --from hershey-fonts-data --from python3-kanjidraw --out data/strokes
    python -m models.data strokes --from ~/my-svgs --licence "CC-BY-4.0, me" --out data/mine

Sources: hershey-fonts-data (Hershey vector fonts, .jhf: one class per font file),
python3-kanjidraw (kanjidraw/data.json: KanjiVG-derived kanji, every stroke reduced to its
start and end point; class "kanji"), or a folder of SVG files (path, line, polyline, polygon,
rect, circle and ellipse elements, curves flattened, no transforms; one class per sub-folder,
"svg" at the top).
Every drawing is scaled so that its longer side is 1 and set at the top left of the unit
square, y down; an SVG that cannot be read is skipped (the manifest's `skipped` says why);
OUT/strokes.npz holds the points as stroke-5 rows (dx, dy, pen down, pen up,
end): pen down means a line joins this point to the next, pen up that the pen lifts after it,
end that the drawing is over (one row, the last). OUT/manifest.json lists every source with its
licence from /usr/share/doc/PKG/copyright (models/data/licences.py), and the counts.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.data.licences import package_licence

MAX_POINTS = 250  # longer drawings are dropped: the model trains on windows of this length
MIN_POINTS = 2
Polyline = list[tuple[float, float]]  # absolute points of one stroke, pen down between them


class BuildError(Exception):
    """A source that cannot be read, or an output that is not allowed."""


@dataclass
class Drawing:
    """One glyph or character: its strokes, its class, where it came from."""

    strokes: list[Polyline]
    cls: str
    name: str
    file: str


# ----------------------------------------------------------------------------- readers

def read_jhf(path: Path) -> list[Drawing]:
    """The glyphs of a Hershey .jhf font: 5-digit id, 3-digit pair count (margins included),
    then pairs of characters, each coordinate ord(c) - ord('R'), ' R' lifting the pen.
    Long records wrap onto the next line, so the file is read as one stream."""
    text = path.read_text(encoding="latin-1").replace("\r", "")
    out: list[Drawing] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] == "\n":
            i += 1
        if i + 8 > n:
            break
        head = text[i:i + 8]
        try:
            gid, pairs = int(head[:5]), int(head[5:8])
        except ValueError:
            raise BuildError(f"{path}: not a Hershey .jhf record at character {i}: {head!r}") from None
        i += 8
        body: list[str] = []
        while len(body) < 2 * pairs and i < n:
            if text[i] != "\n":
                body.append(text[i])
            i += 1
        strokes: list[Polyline] = []
        cur: Polyline = []
        for k in range(2, 2 * pairs - 1, 2):  # the first pair is the left and right margin
            a, b = body[k], body[k + 1]
            if a == " " and b == "R":
                if cur:
                    strokes.append(cur)
                cur = []
            else:
                cur.append((float(ord(a) - ord("R")), float(ord(b) - ord("R"))))
        if cur:
            strokes.append(cur)
        strokes = [s for s in strokes if len(s) >= 1]
        if strokes:
            out.append(Drawing(strokes, path.stem, f"{path.stem}:{gid}", str(path)))
    return out


def read_kanjidraw(path: Path) -> list[Drawing]:
    """kanjidraw's data.json: {stroke count: {kanji: [[x1, y1, x2, y2], ...]}} (0-255, y down)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for _, kanji in sorted(data.items(), key=lambda kv: int(kv[0])):
        for ch, lines in kanji.items():
            strokes = [[(float(a), float(b)), (float(c), float(d))] for a, b, c, d in lines]
            out.append(Drawing(strokes, "kanji", ch, str(path)))
    return out


_NUM = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_TOKEN = re.compile(r"[MmLlHhVvCcSsQqTtAaZz]|" + _NUM.pattern)


def _bezier(pts: list[tuple[float, float]], n: int = 8) -> Polyline:
    """Points along a quadratic or cubic Bezier curve, its start excluded."""
    p = np.array(pts)
    t = np.linspace(0, 1, n + 1)[1:, None]
    if len(p) == 3:
        q = (1 - t) ** 2 * p[0] + 2 * (1 - t) * t * p[1] + t ** 2 * p[2]
    else:
        q = (1 - t) ** 3 * p[0] + 3 * (1 - t) ** 2 * t * p[1] + 3 * (1 - t) * t ** 2 * p[2] \
            + t ** 3 * p[3]
    return [(float(x), float(y)) for x, y in q]


ARGS = {"M": 2, "L": 2, "T": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "A": 7}


def _segment(c: str, v: list[float], x: float, y: float, cur: Polyline) -> tuple[float, float]:
    """Append one drawing command's points (absolute numbers v) to cur; the new pen position."""
    if c in "LT":
        x, y = v
    elif c == "H":
        x = v[0]
    elif c == "V":
        y = v[0]
    elif c == "A":
        x, y = v[5], v[6]  # an arc: a line to its end point
    else:  # C, S, Q: flattened Bezier curves (S without its reflected control point)
        ctrl = [(v[j], v[j + 1]) for j in range(0, len(v), 2)]
        if c == "S":
            ctrl = [(x, y)] + ctrl
        cur.extend(_bezier([(x, y)] + ctrl))
        return ctrl[-1]
    cur.append((x, y))
    return x, y


def _absolute(c: str, v: list[float], x: float, y: float) -> list[float]:
    """A relative command's numbers made absolute from the pen position (x, y)."""
    if c == "H":
        return [v[0] + x]
    if c == "V":
        return [v[0] + y]
    if c == "A":  # radii, rotation and flags stay; only the end point moves
        return v[:5] + [v[5] + x, v[6] + y]
    return [t + (x if j % 2 == 0 else y) for j, t in enumerate(v)]


def parse_path(d: str) -> list[Polyline]:
    """An SVG path's subpaths as polylines (curves flattened; arcs become lines to their end)."""
    toks = _TOKEN.findall(d)
    strokes: list[Polyline] = []
    cur: Polyline = []
    x = y = 0.0
    cmd, i = "", 0
    while i < len(toks):
        if not _NUM.fullmatch(toks[i]):
            cmd, i = toks[i], i + 1
            if cmd in "Zz":
                if cur:
                    strokes.append(cur + [cur[0]])
                    x, y = cur[0]
                cur = []
                continue
        elif not cmd:
            raise BuildError(f"SVG path data {d[:60]!r} does not start with a command")
        c, k = cmd.upper(), ARGS[cmd.upper()]
        raw = toks[i:i + k]
        if len(raw) < k or any(not _NUM.fullmatch(t) for t in raw):
            raise BuildError(f"SVG path data {d[:60]!r}: command {cmd} lacks numbers")
        i += k
        v = [float(t) for t in raw]
        if cmd.islower():
            v = _absolute(c, v, x, y)
        if c == "M":
            if cur:
                strokes.append(cur)
            x, y = v
            cur = [(x, y)]
            cmd = "l" if cmd == "m" else "L"  # further pairs after a moveto are linetos
            continue
        if not cur:
            cur = [(x, y)]
        x, y = _segment(c, v, x, y, cur)
    if cur:
        strokes.append(cur)
    return [s for s in strokes if s]


SVG_SHAPES = "path, line, polyline, polygon, rect, circle or ellipse"
ELLIPSE_POINTS = 24  # a circle or ellipse as a closed polygon of this many sides


def _length(el: ET.Element, name: str) -> float:
    """A shape's attribute as a number (user units; a unit suffix like px is read as user units)."""
    raw = (el.get(name) or "0").strip()
    m = _NUM.match(raw)
    if not m or raw[m.end():].strip() not in ("", "px"):
        raise BuildError(f"<{el.tag.rsplit('}', 1)[-1]} {name}={raw!r}>: not a length in user units")
    return float(m.group())


def read_svg(path: Path, cls: str) -> list[Drawing]:
    """One drawing per SVG file: its path, line, polyline, polygon, rect, circle and ellipse
    elements (no transforms, no rounded corners)."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise BuildError(f"{path}: not readable XML: {e}") from None
    strokes: list[Polyline] = []
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "path" and el.get("d"):
            strokes += parse_path(el.get("d", ""))
        elif tag == "line":
            strokes.append([(_length(el, "x1"), _length(el, "y1")), (_length(el, "x2"), _length(el, "y2"))])
        elif tag in ("polyline", "polygon"):
            v = [float(t) for t in _NUM.findall(el.get("points", ""))]
            pts = list(zip(v[0::2], v[1::2], strict=False))
            if tag == "polygon" and pts:
                pts.append(pts[0])
            if pts:
                strokes.append(pts)
        elif tag == "rect":
            x, y, w, h = (_length(el, k) for k in ("x", "y", "width", "height"))
            if w > 0 and h > 0:
                strokes.append([(x, y), (x + w, y), (x + w, y + h), (x, y + h), (x, y)])
        elif tag in ("circle", "ellipse"):
            cx, cy = _length(el, "cx"), _length(el, "cy")
            rx, ry = (_length(el, "r"),) * 2 if tag == "circle" else (_length(el, "rx"), _length(el, "ry"))
            if rx > 0 and ry > 0:
                t = np.linspace(0, 2 * np.pi, ELLIPSE_POINTS + 1)
                strokes.append([(float(cx + rx * np.cos(a)), float(cy + ry * np.sin(a))) for a in t])
    return [Drawing(strokes, cls, path.stem, str(path))] if strokes else []


def read_svg_folder(folder: Path, files: list[Path]) -> tuple[list[Drawing], list[dict[str, str]]]:
    """Every SVG of a folder (class: its first sub-folder, "svg" at the top); a file that cannot
    be read, or draws nothing, is skipped with its reason rather than stopping the build."""
    drawings: list[Drawing] = []
    skipped: list[dict[str, str]] = []
    for f in files:
        rel = f.parent.relative_to(folder)
        try:
            got = read_svg(f, rel.parts[0] if rel.parts else "svg")
        except (BuildError, ValueError) as e:
            skipped.append({"source": str(f), "reason": str(e).removeprefix(f"{f}: ")})
            continue
        if not got:
            skipped.append({"source": str(f), "reason": f"no {SVG_SHAPES} element"})
        drawings += got
    return drawings, skipped


# ----------------------------------------------------------------------------- stroke-5

def to_stroke5(strokes: list[Polyline]) -> np.ndarray:
    """(N, 5) float32 rows: the drawing scaled to longer side 1 at the top left, y down;
    the first row is the first point's offset from the origin."""
    pts = np.array([p for s in strokes for p in s], dtype=np.float64)
    lo = pts.min(0)
    side = float((pts.max(0) - lo).max()) or 1.0
    rows: list[tuple[float, float, float, float, float]] = []
    prev = np.zeros(2)
    for s in strokes:
        for k, p in enumerate(s):
            q = (np.asarray(p) - lo) / side
            last = k == len(s) - 1
            rows.append((float(q[0] - prev[0]), float(q[1] - prev[1]),
                         0.0 if last else 1.0, 1.0 if last else 0.0, 0.0))
            prev = q
    out = np.array(rows, dtype=np.float32)
    out[-1, 2:] = (0.0, 0.0, 1.0)  # the drawing ends after its last point
    return out


def absolute(s5: np.ndarray) -> np.ndarray:
    """(N, 2) absolute positions of stroke-5 rows (from the origin)."""
    return np.cumsum(s5[:, :2], axis=0)


# ----------------------------------------------------------------------------- sources

@dataclass
class Source:
    """A package or folder and the drawings it gave."""

    spec: str
    kind: str  # package or folder
    drawings: list[Drawing]
    info: dict[str, Any]


def _dpkg_files(pkg: str) -> tuple[list[Path], str]:
    proc = subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"{pkg!r} is neither a folder nor an installed Debian package; "
                         f"to use the package: apt-get install {pkg}")
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                             text=True).stdout.strip()
    return [Path(x) for x in proc.stdout.splitlines() if x.startswith("/")], version


def resolve(spec: str, folder_licence: str) -> Source:
    """Read every drawing of one --from: a folder of SVGs or one of the two packages."""
    p = Path(spec).expanduser()
    if p.is_dir():
        files = sorted(f for f in p.rglob("*.svg") if f.is_file())
        if not files:
            raise BuildError(f"folder {p} has no .svg files")
        drawings, skipped = read_svg_folder(p, files)
        return Source(str(p), "folder", drawings, {
            "licence": folder_licence or "unknown: pass --licence for a folder", "files": len(files),
            "skipped": skipped})
    if "/" in spec or spec.startswith("."):
        raise BuildError(f"folder not found: {p}")
    files, version = _dpkg_files(spec)
    lic = package_licence(spec)
    if spec == "hershey-fonts-data":
        used = sorted(f for f in files if f.suffix == ".jhf" and f.is_file())
        drawings = [d for f in used for d in read_jhf(f)]
    elif spec == "python3-kanjidraw":
        used = [f for f in files if f.name == "data.json" and f.is_file()]
        drawings = [d for f in used for d in read_kanjidraw(f)]
    else:
        raise BuildError(f"package {spec!r} is not one this builder reads "
                         "(hershey-fonts-data, python3-kanjidraw) and not a folder")
    if not used:
        raise BuildError(f"package {spec} has none of the files this builder reads")
    licences = {str(f): lic.for_file(f) for f in used}
    return Source(spec, "package", drawings, {
        "version": version, "copyright_file": lic.copyright_file,
        "licences": sorted({r["licence"] for r in licences.values()}),
        "copyright": sorted({r["copyright"] for r in licences.values()}),
        "files": len(used)})


def build(specs: list[str], out: Path, licence: str = "", force: bool = False,
          command: str = "") -> dict[str, Any]:
    """Write OUT/strokes.npz and OUT/manifest.json; the manifest."""
    if not specs:
        raise BuildError("give at least one --from PACKAGE_OR_DIR")
    if (out / "strokes.npz").exists() and not force:
        raise BuildError(f"{out} already holds a data set (pass --force to replace it)")
    sources = [resolve(s, licence) for s in specs]  # every source read before writing
    rows, starts, classes, names = [], [0], [], []
    dropped: Counter[str] = Counter()
    class_names = sorted({d.cls for s in sources for d in s.drawings})
    index = {c: i for i, c in enumerate(class_names)}
    per_class: Counter[str] = Counter()
    for src in sources:
        for d in src.drawings:
            n = sum(len(s) for s in d.strokes)
            if n < MIN_POINTS or n > MAX_POINTS:
                dropped["too short" if n < MIN_POINTS else f"over {MAX_POINTS} points"] += 1
                continue
            s5 = to_stroke5(d.strokes)
            rows.append(s5)
            starts.append(starts[-1] + len(s5))
            classes.append(index[d.cls])
            names.append(d.name)
            per_class[d.cls] += 1
    if not rows:
        raise BuildError("no drawings: every source was empty or every drawing was dropped")
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "strokes.npz", points=np.concatenate(rows),
                        starts=np.array(starts, np.int64), classes=np.array(classes, np.int16),
                        class_names=np.array(class_names), names=np.array(names))
    man = {"format": "stroke-5 (dx, dy, pen down, pen up, end); unit square, y down",
           "command": command, "drawings": len(rows), "points": int(starts[-1]),
           "classes": {c: per_class[c] for c in class_names}, "dropped": dict(dropped),
           "skipped": [k for s in sources for k in s.info.get("skipped", [])],
           "sources": [{"from": s.spec, "kind": s.kind, "drawings": len(s.drawings), **s.info}
                       for s in sources]}
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(man, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(out / "manifest.json")
    return man


@dataclass
class StrokeSet:
    """A built data set in memory: stroke-5 rows, where each drawing starts, its class."""

    points: np.ndarray  # (P, 5) float32
    starts: np.ndarray  # (M + 1,) int64
    classes: np.ndarray  # (M,) int
    class_names: list[str]
    names: list[str]
    manifest: dict[str, Any]

    def __len__(self) -> int:
        return len(self.classes)

    def drawing(self, i: int) -> np.ndarray:
        """Stroke-5 rows of drawing i."""
        return self.points[self.starts[i]:self.starts[i + 1]]


def load(folder: str | Path) -> StrokeSet:
    """Read a data set written by build(); FileNotFoundError when there is none."""
    f = Path(folder)
    path = f / "strokes.npz" if f.is_dir() else f
    if not path.is_file():
        raise FileNotFoundError(f"no stroke data set at {f} (build one: python -m models.data "
                                "strokes --from hershey-fonts-data --out DIR)")
    z = np.load(path)
    man_path = path.parent / "manifest.json"
    man = json.loads(man_path.read_text()) if man_path.is_file() else {}
    return StrokeSet(z["points"], z["starts"], z["classes"].astype(np.int64),
                     [str(c) for c in z["class_names"]], [str(n) for n in z["names"]], man)


# ----------------------------------------------------------------------------- command line

def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of `python -m models.data strokes`."""
    ap.add_argument("--from", dest="sources", action="append", default=[], metavar="PACKAGE_OR_DIR",
                    help="hershey-fonts-data, python3-kanjidraw, or a folder of SVGs; repeat")
    ap.add_argument("--out", required=True, type=Path, help="output folder (strokes.npz, manifest.json)")
    ap.add_argument("--licence", default="", help="licence of the SVGs in the folders given")
    ap.add_argument("--force", action="store_true", help="replace an existing data set in --out")


def main(args: argparse.Namespace, argv: list[str]) -> None:
    """Run the build; errors become one line and exit status 2."""
    try:
        man = build(args.sources, args.out, args.licence, args.force,
                    "python -m models.data " + shlex.join(argv))
    except (BuildError, OSError, ValueError) as e:
        raise SystemExit(f"error: {e}") from None
    print(json.dumps({"event": "built", "out": str(args.out), "drawings": man["drawings"],
                      "points": man["points"], "classes": len(man["classes"]),
                      "dropped": man["dropped"], "skipped": len(man["skipped"])}))
    for k in man["skipped"]:
        print(f"skipped {k['source']}: {k['reason']}", file=sys.stderr)

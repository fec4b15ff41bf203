"""Build an image data set for the GAN from Debian packages or folders.

    python -m models.data images --from openclipart-png --from mate-backgrounds --out data/art

Each source image becomes square crops at --size pixels in OUT/images/: a drawing on a plain
or transparent background is trimmed to its content, centred and padded with its background
(white where transparent) into one square; a photograph or wallpaper gives several crops
(a centred one of the whole short side, then smaller ones at the same relative places in
every image, so the same picture at two resolutions gives the same crops). Near-duplicates go:
a 64-bit DCT hash of each crop within --max-distance bits of a kept one whose colours
(a 4x4 thumbnail) are also alike. OUT/manifest.json
lists every crop with its source file, package, licence and sha256, and a summary.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import shlex
import shutil
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from models.data.licences import PackageLicence, package_licence

SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".svg"}
MAX_PIXELS = 40_000_000  # larger sources are skipped (one clip-art PNG has 231 M pixels)
CROP_MIN = 0.8  # what the manifest suggests to training: crops of 80-100% of each image
_RES_NAME = re.compile(r"^(\d+)x(\d+)$")  # wallpaper resolution variants: 1920x1080.png


class BuildError(ValueError):
    """A source that cannot be read, or a build that found no images."""


@dataclass
class Source:
    """One --from: a Debian package (its files from dpkg -L) or a folder (walked)."""

    name: str
    kind: str  # "package" or "folder"
    files: list[Path]
    version: str = ""
    licence: PackageLicence | None = None
    folder_licence: str = ""

    def licence_of(self, path: Path) -> dict[str, str]:
        """The licence record of one file of this source."""
        if self.licence is not None:
            return self.licence.for_file(path)
        return {"licence": self.folder_licence, "copyright": "", "matched": "--licence"}

    def describe(self) -> dict[str, Any]:
        """What the manifest says about the source."""
        out: dict[str, Any] = {"from": self.name, "kind": self.kind, "files": len(self.files)}
        if self.kind == "package":
            out["version"] = self.version
            assert self.licence is not None
            out["copyright_file"] = self.licence.copyright_file
            out["machine_readable"] = self.licence.machine_readable
        else:
            out["licence"] = self.folder_licence
        return out


@dataclass
class Options:
    """What the crops look like (travels to worker processes)."""

    size: int = 256
    crops: int = 8
    min_side: int = 192  # smallest content (drawings: long side; photographs: short side)
    min_detail: float = 0.5  # crops flatter than this (see detail()) are dropped
    mode: str = "auto"  # auto, crop or pad
    background: tuple[int, int, int] = (255, 255, 255)


@dataclass
class Crop:
    """One square crop of a source, before deduplication."""

    pixels: np.ndarray  # (size, size, 3) uint8
    box: list[int]  # x, y, side in the source's pixels (after any shrink: see scale)
    mode: str  # "pad" (whole drawing) or "crop"
    hash: int = 0
    colour: np.ndarray | None = None  # (48,) int16: a 4x4 RGB thumbnail


@dataclass
class Result:
    """What one source file gave: crops, or why it gave none."""

    path: Path
    crops: list[Crop] = field(default_factory=list)
    skipped: str = ""
    source_sha256: str = ""
    source_size: tuple[int, int] = (0, 0)
    flat: int = 0  # crops dropped for having no detail


# ----------------------------------------------------------------------------- sources


def resolve(spec: str, folder_licence: str = "") -> Source:
    """A folder (walked for images) or an installed Debian package (dpkg -L); BuildError else."""
    p = Path(spec).expanduser()
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES)
        return Source(str(p), "folder", files,
                      folder_licence=folder_licence or "unknown: pass --licence for a folder")
    if "/" in spec or spec.startswith("."):
        raise BuildError(f"folder not found: {p}")
    if shutil.which("dpkg") is None:
        raise BuildError(f"{spec!r} is not a folder, and without dpkg it cannot be a Debian package")
    proc = subprocess.run(["dpkg", "-L", spec], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"{spec!r} is neither a folder nor an installed Debian package "
                         f"(dpkg -L: {(proc.stderr.strip() or str(proc.returncode)).splitlines()[0]}); "
                         f"to use the package: apt-get install {spec}")
    listed = [Path(line) for line in proc.stdout.splitlines() if line.startswith("/")]
    files = sorted(f for f in listed if f.suffix.lower() in SUFFIXES and f.is_file())
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", spec], capture_output=True,
                             text=True).stdout.strip()
    return Source(spec, "package", files, version, package_licence(spec))


def largest_variants(files: Iterable[Path]) -> list[Path]:
    """Of files named WIDTHxHEIGHT in one folder (a wallpaper's sizes), only the largest."""
    best: dict[Path, tuple[int, Path]] = {}
    out = []
    for f in files:
        m = _RES_NAME.match(f.stem)
        if m is None:
            out.append(f)
            continue
        area = int(m[1]) * int(m[2])
        if f.parent not in best or area > best[f.parent][0]:
            best[f.parent] = (area, f)
    return sorted(out + [f for _, f in best.values()])


# ----------------------------------------------------------------------------- one image


def _open(path: Path, want: int) -> Image.Image:
    """The image at path (SVG through rsvg-convert), JPEGs decoded at a reduced size."""
    if path.suffix.lower() == ".svg":
        exe = shutil.which("rsvg-convert")
        if exe is None:
            raise BuildError("SVG needs rsvg-convert (apt-get install librsvg2-bin)")
        proc = subprocess.run([exe, str(path)], capture_output=True, timeout=120)
        if proc.returncode != 0:
            raise BuildError(f"rsvg-convert failed: {proc.stderr.decode(errors='replace')[:200]}")
        return Image.open(io.BytesIO(proc.stdout))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        im = Image.open(path)
    if im.width * im.height > MAX_PIXELS:
        raise BuildError(f"too large ({im.width}x{im.height})")
    if im.format == "JPEG":
        im.draft("RGB", (want, want))  # decode at 1/2, 1/4 or 1/8 when that is still >= want
    return im


def _rgba(im: Image.Image) -> np.ndarray:
    """(H, W, 4) uint8; images without transparency get alpha 255."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        return np.asarray(im.convert("RGBA"))
    rgb = np.asarray(im.convert("RGB"))
    return np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)


def plain_background(a: np.ndarray) -> tuple[int, int, int] | None:
    """The colour of a plain border (transparent counts as white), or None for a photograph.

    Plain: at least 90% of the 2-pixel border is transparent or within 12 levels of its median.
    """
    border = np.concatenate([a[:2].reshape(-1, 4), a[-2:].reshape(-1, 4),
                             a[:, :2].reshape(-1, 4), a[:, -2:].reshape(-1, 4)])
    clear = border[:, 3] < 128
    if clear.mean() >= 0.5:
        return (255, 255, 255)
    rgb = border[~clear, :3].astype(np.int16)
    med = np.median(rgb, axis=0)
    near = np.abs(rgb - med).max(axis=1) <= 12
    if (near.sum() + clear.sum()) / len(border) >= 0.9:
        return (int(med[0]), int(med[1]), int(med[2]))
    return None


def _flatten(a: np.ndarray, bg: tuple[int, int, int]) -> np.ndarray:
    """RGBA over a plain colour -> (H, W, 3) uint8."""
    alpha = a[..., 3:4].astype(np.float32) / 255
    out = a[..., :3].astype(np.float32) * alpha + np.array(bg, np.float32) * (1 - alpha)
    return out.round().astype(np.uint8)


def _resize(rgb: np.ndarray, size: int) -> np.ndarray:
    """A square (S, S, 3) array resized to (size, size, 3): Lanczos down, bicubic up."""
    im = Image.fromarray(rgb)
    if im.width == size:
        return rgb
    how = Image.Resampling.LANCZOS if im.width > size else Image.Resampling.BICUBIC
    return np.asarray(im.resize((size, size), how))


def pad_drawing(a: np.ndarray, bg: tuple[int, int, int], opts: Options) -> Crop:
    """A drawing trimmed to its content, centred on a square of its background, margin 6%."""
    rgb = _flatten(a, bg)
    ink = (np.abs(rgb.astype(np.int16) - np.array(bg)).max(axis=2) > 24) & (a[..., 3] > 16)
    ys, xs = np.nonzero(ink)
    if len(ys) == 0:
        raise BuildError("blank: nothing but background")
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    h, w = y1 - y0, x1 - x0
    if max(h, w) < opts.min_side:
        raise BuildError(f"drawing too small ({w}x{h} px of content, need {opts.min_side})")
    if max(h, w) > 4 * min(h, w):
        raise BuildError(f"drawing too thin ({w}x{h} px of content: a bar or a line, not a picture)")
    side = int(max(h, w) * 1.12) + 2
    canvas = np.empty((side, side, 3), np.uint8)
    canvas[:] = bg
    oy, ox = (side - h) // 2, (side - w) // 2
    canvas[oy : oy + h, ox : ox + w] = rgb[y0:y1, x0:x1]
    return Crop(_resize(canvas, opts.size), [int(x0 - ox), int(y0 - oy), int(side)], "pad")


def crop_photo(rgb: np.ndarray, opts: Options) -> list[Crop]:
    """The centred square of the whole short side, then smaller squares (40-100% of it).

    How many: one per four times size^2 of area, at most opts.crops. The places, as fractions
    of the image, are the same for every image (a fixed seed), so one picture at two
    resolutions gives the same crops, which deduplication then drops.
    """
    h, w = rgb.shape[:2]
    short = min(h, w)
    if short < opts.min_side:
        raise BuildError(f"too small ({w}x{h}, need a short side of {opts.min_side})")
    n = int(min(opts.crops, max(1, (w * h) // (4 * opts.size * opts.size))))
    u = np.random.default_rng(0).random((max(n - 1, 0), 3))  # (side, x, y) in [0, 1)
    lo = max(opts.min_side / short, 0.4)
    boxes = [((w - short) // 2, (h - short) // 2, short)]
    for fs, fx, fy in u:
        side = int(short * (lo + fs * (1 - lo)))
        boxes.append((int(fx * (w - side + 1)), int(fy * (h - side + 1)), side))
    return [Crop(_resize(rgb[y : y + s, x : x + s], opts.size), [x, y, s], "crop")
            for x, y, s in boxes]


def crops_of(path: Path, opts: Options) -> Result:
    """Every crop of one file, or the reason it gave none (never raises for a bad image)."""
    res = Result(path)
    try:
        data = path.read_bytes()
        res.source_sha256 = hashlib.sha256(data).hexdigest()
        with _open(path, 4 * opts.size) as im:
            res.source_size = im.size
            a = _rgba(im)
        a = _shrink(a, 4 * opts.size)
        bg = plain_background(a) if opts.mode != "crop" else None
        if opts.mode == "pad" and bg is None:
            bg = opts.background
        crops = [pad_drawing(a, bg, opts)] if bg is not None else crop_photo(
            _flatten(a, opts.background), opts)
        for c in crops:
            c.hash, c.colour = dct_hash(c.pixels), thumbnail(c.pixels)
        res.crops = [c for c in crops if detail(c.pixels) >= opts.min_detail]
        res.flat = len(crops) - len(res.crops)
        if not res.crops:
            raise BuildError(f"flat: no detail (below {opts.min_detail})")
    except (BuildError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            subprocess.TimeoutExpired) as e:
        res.skipped = str(e) if isinstance(e, BuildError) else f"unreadable: {type(e).__name__}: {e}"
    return res


def _shrink(a: np.ndarray, short_max: int) -> np.ndarray:
    """An (H, W, 4) array whose short side is at most short_max (Lanczos)."""
    h, w = a.shape[:2]
    if min(h, w) <= short_max:
        return a
    f = short_max / min(h, w)
    im = Image.fromarray(a, "RGBA").resize((max(1, round(w * f)), max(1, round(h * f))),
                                           Image.Resampling.LANCZOS)
    return np.asarray(im)


def detail(rgb: np.ndarray) -> float:
    """Mean absolute difference of neighbouring pixels of a 64x64 grey copy, in levels of 255.

    Smooth gradients and flat colour score below 0.5 (about a tenth of the crops of the
    desktop wallpapers); drawings and photographs score 1 to 25.
    """
    g = np.asarray(Image.fromarray(rgb).convert("L").resize((64, 64), Image.Resampling.BILINEAR),
                   np.float32)
    return float(np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean()) / 2


# ----------------------------------------------------------------------------- dedup

_DCT = np.array([[np.cos(np.pi * (2 * x + 1) * u / 64) for x in range(32)] for u in range(32)])


def dct_hash(rgb: np.ndarray) -> int:
    """64-bit perceptual hash: the 8x8 lowest DCT frequencies of a 32x32 grey copy vs their median."""
    grey = np.asarray(Image.fromarray(rgb).convert("L").resize((32, 32), Image.Resampling.BILINEAR),
                      np.float64)
    low = (_DCT @ grey @ _DCT.T)[:8, :8].flatten()
    bits = low > np.median(low[1:])  # the DC term is left out of the median
    return int(sum(1 << i for i, b in enumerate(bits) if b))


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """A 4x4 RGB copy, flattened to (48,) int16: the colours the grey hash cannot see."""
    im = Image.fromarray(rgb).resize((4, 4), Image.Resampling.BOX)
    return np.asarray(im, np.int16).reshape(-1)


class Deduper:
    """Kept crops' hashes and thumbnails. A near-duplicate: within max_distance bits of a kept
    hash and within max_colour levels (mean over the 4x4 thumbnail) of the same crop's colours,
    so a drawing in another colour (a red and a green arrow) is kept, and so is a different
    drawing that only shares a silhouette's hash with another."""

    def __init__(self, max_distance: int, max_colour: float = 24.0) -> None:
        self.max_distance, self.max_colour = max_distance, max_colour
        self.hashes = np.zeros(1024, np.uint64)
        self.colours = np.zeros((1024, 48), np.int16)
        self.n = 0

    def duplicate_of(self, h: int, colour: np.ndarray) -> tuple[int, int]:
        """(index, Hamming distance) of a kept crop this one duplicates, or (-1, -1)."""
        if self.n == 0:
            return -1, -1
        d = np.bitwise_count(self.hashes[: self.n] ^ np.uint64(h))
        for i in np.flatnonzero(d <= self.max_distance):
            if np.abs(self.colours[i] - colour).mean() <= self.max_colour:
                return int(i), int(d[i])
        return -1, -1

    def add(self, h: int, colour: np.ndarray) -> None:
        """Keep a crop's hash and thumbnail."""
        if self.n == len(self.hashes):
            self.hashes = np.concatenate([self.hashes, np.zeros_like(self.hashes)])
            self.colours = np.concatenate([self.colours, np.zeros_like(self.colours)])
        self.hashes[self.n] = np.uint64(h)
        self.colours[self.n] = colour
        self.n += 1


# ----------------------------------------------------------------------------- the build


def _results(files: list[Path], opts: Options, jobs: int) -> Iterator[Result]:
    """crops_of for each file, in order; in `jobs` processes when more than one."""
    if jobs <= 1:
        yield from (crops_of(f, opts) for f in files)
        return
    with ProcessPoolExecutor(jobs) as pool:
        yield from pool.map(crops_of, files, [opts] * len(files), chunksize=4)


class Builder:
    """Writes OUT/images/NNNNN.png and OUT/manifest.json from a list of sources."""

    def __init__(self, out: Path, opts: Options, max_distance: int, jobs: int = 1,
                 progress: bool = True) -> None:
        self.out, self.opts, self.jobs, self.progress = out, opts, jobs, progress
        self.dedup = Deduper(max_distance)
        self.images: list[dict[str, Any]] = []
        self.dropped: list[dict[str, Any]] = []
        self.skipped: list[dict[str, str]] = []
        self.seen: set[str] = set()  # sha256 of source files already read
        self.counts: Counter[str] = Counter()

    def add_source(self, src: Source) -> None:
        """Crop, deduplicate and write every image of one source."""
        from tqdm import tqdm

        files = largest_variants(src.files)
        self.counts["variants_skipped"] += len(src.files) - len(files)
        bar = tqdm(total=len(files), desc=src.name, unit="file", disable=not self.progress,
                   dynamic_ncols=True, mininterval=0.5)
        for res in _results(files, self.opts, self.jobs):
            self._take(src, res)
            bar.set_postfix(kept=len(self.images), dup=len(self.dropped),
                            skipped=len(self.skipped), refresh=False)
            bar.update(1)
        bar.close()

    def _take(self, src: Source, res: Result) -> None:
        self.counts["files"] += 1
        self.counts["flat"] += res.flat
        if res.skipped:
            self.skipped.append({"source": str(res.path), "reason": res.skipped})
            return
        if res.source_sha256 in self.seen:
            self.counts["same_file_twice"] += 1
            return
        self.seen.add(res.source_sha256)
        lic = src.licence_of(res.path)
        for k, c in enumerate(res.crops):
            assert c.colour is not None
            i, dist = self.dedup.duplicate_of(c.hash, c.colour)
            if i >= 0:
                self.dropped.append({"source": str(res.path), "box": c.box,
                                     "like": self.images[i]["file"], "distance": dist})
                continue
            self.dedup.add(c.hash, c.colour)
            self._write(src, res, k, c, lic)

    def _write(self, src: Source, res: Result, k: int, c: Crop, lic: dict[str, str]) -> None:
        name = f"images/{len(self.images):05d}.png"
        buf = io.BytesIO()
        Image.fromarray(c.pixels).save(buf, format="PNG", compress_level=6)
        data = buf.getvalue()
        (self.out / name).write_bytes(data)
        self.images.append({
            "file": name, "sha256": hashlib.sha256(data).hexdigest(), "source": str(res.path),
            "source_sha256": res.source_sha256, "source_size": list(res.source_size),
            "package": src.name if src.kind == "package" else None, "crop": k, "mode": c.mode,
            "box": c.box, "phash": f"{c.hash:016x}", **lic,
        })

    def manifest(self, sources: list[Source], command: str) -> dict[str, Any]:
        """The manifest: sources, summary, every crop, what was dropped or skipped."""
        reasons = Counter(s["reason"].split(" (")[0].split(":")[0] for s in self.skipped)
        summary = {
            "images": len(self.images), "files_read": self.counts["files"],
            "duplicates_dropped": len(self.dropped), "flat_crops_dropped": self.counts["flat"],
            "skipped": len(self.skipped),
            "skipped_by_reason": dict(reasons.most_common()),
            "same_file_twice": self.counts["same_file_twice"],
            "resolution_variants_skipped": self.counts["variants_skipped"],
            "by_source": dict(Counter(im["package"] or "folder" for im in self.images)),
            "by_mode": dict(Counter(im["mode"] for im in self.images)),
            "by_licence": dict(Counter(im["licence"] for im in self.images).most_common()),
        }
        o = self.opts
        return {
            "format": "livegen image set 1", "command": command,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "size": o.size, "crops_per_image": o.crops, "min_side": o.min_side,
            "min_detail": o.min_detail, "mode": o.mode,
            "dedup": f"dropped: 64-bit DCT hash within {self.dedup.max_distance} bits and 4x4 "
                     f"colours within {self.dedup.max_colour:g} levels of a kept crop",
            "crop_min": CROP_MIN, "sources": [s.describe() for s in sources], "summary": summary,
            "images": self.images, "dropped": self.dropped, "skipped": self.skipped,
        }


def build(specs: list[str], out: str | Path, size: int = 256, crops: int = 8,
          min_side: int | None = None, max_distance: int = 4, mode: str = "auto",
          min_detail: float = 0.5,
          licence: str = "", force: bool = False, limit: int = 0, jobs: int = 1,
          progress: bool = True, command: str = "") -> dict[str, Any]:
    """Build the data set; the manifest (also written to OUT/manifest.json)."""
    if not specs:
        raise BuildError("nothing to build from: give --from PACKAGE_OR_DIR at least once")
    sources = [resolve(s, licence) for s in specs]  # every source checked before any work
    for s in sources:
        if not s.files:
            raise BuildError(f"no image files in {s.kind} {s.name!r} "
                             f"(looked for {', '.join(sorted(SUFFIXES))})")
        if limit:
            s.files = s.files[:limit]
    out = Path(out)
    _prepare(out, force)
    opts = Options(size, crops, min_side if min_side is not None else size * 3 // 4, min_detail, mode)
    b = Builder(out, opts, max_distance, jobs, progress)
    for s in sources:
        b.add_source(s)
    if not b.images:
        why = Counter(s["reason"] for s in b.skipped).most_common(3)
        raise BuildError(f"no images found: {b.counts['files']} files read, none gave a crop "
                         f"(most common reasons: {why})")
    man = b.manifest(sources, command)
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(man, indent=1) + "\n")
    tmp.replace(out / "manifest.json")
    return man


def _prepare(out: Path, force: bool) -> None:
    """An empty OUT/images; an existing data set is replaced only with force."""
    if out.exists() and any(out.iterdir()):
        if not force:
            raise BuildError(f"{out} exists and is not empty: pass --force to replace it")
        if not (out / "manifest.json").is_file() and not (out / "images").is_dir():
            raise BuildError(f"{out} holds something other than a data set: not replacing it")
        shutil.rmtree(out / "images", ignore_errors=True)
        (out / "manifest.json").unlink(missing_ok=True)
    (out / "images").mkdir(parents=True, exist_ok=True)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of `python -m models.data images`."""
    ap.add_argument("--from", dest="sources", action="append", default=[], metavar="PACKAGE_OR_DIR",
                    help="an installed Debian package (its files from dpkg -L) or a folder; repeat")
    ap.add_argument("--out", required=True, type=Path, help="output folder (images/, manifest.json)")
    ap.add_argument("--size", type=int, default=256, help="side of the square crops (default 256)")
    ap.add_argument("--crops", type=int, default=8,
                    help="most crops per photograph or wallpaper (drawings give one)")
    ap.add_argument("--min-side", type=int, help="smallest usable content (default 3/4 of --size)")
    ap.add_argument("--max-distance", type=int, default=4,
                    help="near-duplicate: within this many bits of a kept crop's hash (default 4)")
    ap.add_argument("--min-detail", type=float, default=0.5,
                    help="drop crops flatter than this (mean neighbour difference at 64 px, 0-255)")
    ap.add_argument("--mode", choices=["auto", "crop", "pad"], default="auto",
                    help="auto: pad drawings on plain backgrounds, crop the rest")
    ap.add_argument("--licence", default="", help="licence of the images in the folders given")
    ap.add_argument("--limit", type=int, default=0, help="at most this many files per source")
    ap.add_argument("--jobs", type=int, default=1, help="processes that decode and crop")
    ap.add_argument("--force", action="store_true", help="replace an existing data set in --out")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")


def main(args: argparse.Namespace, argv: list[str]) -> None:
    """Run the build from parsed arguments; errors become one line and exit status 2."""
    if args.size < 16 or args.crops < 1:
        raise SystemExit("error: --size must be at least 16 and --crops at least 1")
    try:
        man = build(args.sources, args.out, size=args.size, crops=args.crops,
                    min_side=args.min_side, max_distance=args.max_distance, mode=args.mode,
                    min_detail=args.min_detail, licence=args.licence, force=args.force,
                    limit=args.limit, jobs=args.jobs, progress=not args.quiet,
                    command="python -m models.data " + shlex.join(argv))
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    print(json.dumps({"out": str(args.out), **man["summary"]}, indent=1))

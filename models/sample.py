"""Samples of shipped weights: python -m models.sample NAME --out PATH.

GAN: a PNG grid. Music: a MIDI file (and --roll PATH for a piano-roll PNG).
Text: a text excerpt. Strokes: a PNG grid of drawings, a row per class (--class, --n).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from models.gan import ImageGenerator
from models.music_rnn import MusicRNN
from models.strokes import StrokeRNN
from models.text_rnn import TextRNN
from models.weights import WeightsError, load


def gan_grid(model: ImageGenerator, n: int, seed: int, truncation: float = 1.0) -> np.ndarray:
    """n images in a square-ish grid, (H, W, 3) uint8."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, model.cfg.nz, generator=gen) * truncation
    with torch.no_grad():
        x = model(z).clamp(-1, 1)
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    r, pad = model.cfg.resolution, 2
    grid = np.full((rows * (r + pad) + pad, cols * (r + pad) + pad, 3), 16, np.uint8)
    imgs = ((x + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    for i, im in enumerate(imgs):
        y0, x0 = pad + (i // cols) * (r + pad), pad + (i % cols) * (r + pad)
        grid[y0 : y0 + r, x0 : x0 + r] = im
    return grid


def music_notes(model: MusicRNN, styles: list[str], beats: int, seed: int, temperature: float,
                top_p: float, name: str = "") -> list[tuple[str, list]]:
    """`beats` beats per style, from the live voice's generator with its default feel.

    The same generator, settings and groove prior as the music voice (live.voices.music_gen),
    so a sample is what the voice plays, velocities and timing included.
    """
    from live.voices.music_gen import MusicGen, Settings, grooves_for
    from models.music_rnn import Note

    grooves = grooves_for({"model": name}, {"trained": bool(name), "arch": model.cfg.to_dict()})
    settings = Settings(temperature=temperature, top_p=top_p)
    out = []
    for k, style in enumerate(styles):
        if style not in model.cfg.styles:
            raise ValueError(f"unknown style {style!r}; choose from {', '.join(model.cfg.styles)}")
        gen = MusicGen(model, "music", seed + k, grooves=grooves)
        gen.restart(0, style)
        played = [gen.perform(n, settings) for n in gen.run(settings, beats * gen.spb)]
        out.append((style, sorted((Note(p.pitch, p.velocity, float(p.start), float(p.end - p.start))
                                   for p in played), key=lambda n: (n.start_beat, n.pitch))))
    return out


def write_midi(parts: list[tuple[str, list]], path: Path, bpm: float, gap_beats: float = 2.0) -> None:
    """One track per style on the style's General MIDI program, the styles one after another."""
    import pretty_midi

    from live.voices.music_band import program_for

    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    spb = 60.0 / bpm
    t0 = 0.0
    for style, notes in parts:
        inst = pretty_midi.Instrument(program=program_for(style, -1), name=style)
        end = 0.0
        for n in notes:
            s = t0 + n.start_beat
            inst.notes.append(pretty_midi.Note(velocity=max(1, min(127, n.velocity)),
                                               pitch=n.pitch, start=s * spb,
                                               end=(s + n.duration_beats) * spb))
            end = max(end, n.start_beat + n.duration_beats)
        pm.instruments.append(inst)
        t0 += end + gap_beats
    pm.write(str(path))


def render_styles(parts: list[tuple[str, list]], folder: Path, bpm: float) -> None:
    """Each style's part as STYLE.mid and STYLE.oga in folder, all at one loudness."""
    from models.render import RenderError, render

    folder.mkdir(parents=True, exist_ok=True)
    for part in parts:
        midi = folder / f"{part[0]}.mid"
        write_midi([part], midi, bpm)
        try:
            level = render(midi, folder / f"{part[0]}.oga")
        except RenderError as e:
            print(f"error: {e}", file=sys.stderr)
            raise SystemExit(2) from None
        print(f"{folder / part[0]}.oga: {level} dBFS RMS")


def piano_roll(parts: list[tuple[str, list]], path: Path, beats: float = 32.0,
               px_per_beat: int = 20) -> None:
    """A piano-roll PNG: one row per style (its first `beats` beats), one colour per style."""
    from PIL import Image, ImageDraw

    colours = [(230, 120, 60), (80, 170, 230), (120, 210, 110), (220, 90, 170), (240, 210, 80),
               (160, 120, 230), (90, 220, 200), (200, 200, 200)]
    label, px = 90, 3  # label column width; pixels per semitone
    rows = []
    for _, notes in parts:
        ps = [n.pitch for n in notes if n.start_beat < beats] or [60]
        rows.append((min(ps) - 2, max(ps) + 2))
    height = sum((hi - lo) * px + 6 for lo, hi in rows)
    img = Image.new("RGB", (label + int(beats * px_per_beat), height), (18, 18, 22))
    d = ImageDraw.Draw(img)
    y0 = 0
    for k, ((style, notes), (lo, hi)) in enumerate(zip(parts, rows, strict=True)):
        c = colours[k % len(colours)]
        d.text((4, y0 + 2), style, fill=c)
        for b in range(0, int(beats) + 1, 4):  # a faint line every four beats
            x = label + b * px_per_beat
            d.line([x, y0, x, y0 + (hi - lo) * px + 4], fill=(45, 45, 52))
        for n in notes:
            if n.start_beat >= beats:
                continue
            x0 = label + n.start_beat * px_per_beat
            x1 = label + min(beats, n.start_beat + n.duration_beats) * px_per_beat - 1
            y = y0 + (hi - n.pitch) * px
            d.rectangle([x0, y, max(x0, x1), y + px - 1], fill=c)
        y0 += (hi - lo) * px + 6
    img.save(path)


def strokes_grid(model: StrokeRNN, classes: list[str], n: int, seed: int, temperature: float,
                 cell: int = 96, max_points: int = 250) -> np.ndarray:
    """(H, W, 3) uint8: a row of n drawings per class, each drawn until its end point."""
    from PIL import Image, ImageDraw

    from models.strokes import StrokeSampler

    img = Image.new("RGB", (cell * n, cell * len(classes)), "white")
    for row, name in enumerate(classes):
        s = StrokeSampler(model, model.cfg.classes.index(name) if model.cfg.classes else 0,
                          seed=seed + row)
        for col in range(n):
            pts = [(0.0, 0.0, 0)]  # each drawing starts at the origin, pen up
            for _ in range(max_points):
                pts.append(s.next_point(temperature))
                if pts[-1][2] == 2:
                    break
            else:
                s.reset()
            tile = Image.new("RGB", (cell, cell), "white")  # a drawing that strays is cut here
            d = ImageDraw.Draw(tile)
            o, span = cell * 0.1, cell * 0.8
            for (x0, y0, p0), (x1, y1, _) in zip(pts, pts[1:], strict=False):
                if p0 == 1:
                    d.line([(o + x0 * span, o + y0 * span), (o + x1 * span, o + y1 * span)],
                           fill="black", width=2)
            if col == 0:
                d.text((3, 2), name, fill=(160, 0, 0))
            d.rectangle([0, 0, cell - 1, cell - 1], outline=(225, 225, 225))
            img.paste(tile, (col * cell, row * cell))
    return np.asarray(img)


def main(argv: list[str] | None = None) -> None:
    """python -m models.sample: a PNG grid, a MIDI file (and piano roll), a text excerpt, or a
    grid of drawings."""
    ap = argparse.ArgumentParser(prog="python -m models.sample", description=__doc__.splitlines()[0])
    ap.add_argument("name")
    ap.add_argument("--out", required=True, type=Path, help="PNG, MIDI or text file ('-': stdout)")
    ap.add_argument("--n", type=int, default=16, help="GAN: images in the grid")
    ap.add_argument("--truncation", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--temperature", type=float, default=0.9)
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--style", action="append", help="music: style(s); default all of them")
    ap.add_argument("--beats", type=int, default=32, help="music: beats per style")
    ap.add_argument("--bpm", type=float, default=100.0)
    ap.add_argument("--roll", type=Path, help="music: also a piano-roll PNG")
    ap.add_argument("--audio", type=Path, help="music: also each style rendered through "
                    "FluidSynth into this folder (STYLE.oga, one loudness)")
    ap.add_argument("--chars", type=int, default=1500, help="text: characters")
    ap.add_argument("--prime", default="\n", help="text: text to continue")
    ap.add_argument("--class", dest="classes", action="append",
                    help="strokes: a class (a row of --n drawings); default every class")
    args = ap.parse_args(argv)
    try:
        model, card = load(args.name, "cpu")
    except WeightsError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    if isinstance(model, ImageGenerator):
        from PIL import Image

        Image.fromarray(gan_grid(model, args.n, args.seed, args.truncation)).save(args.out)
    elif isinstance(model, MusicRNN):
        styles = args.style or model.cfg.styles
        try:
            parts = music_notes(model, styles, args.beats, args.seed, args.temperature,
                                args.top_p, args.name if card.get("kind") == "music" else "")
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            raise SystemExit(2) from None
        write_midi(parts, args.out, args.bpm)
        if args.roll:
            piano_roll(parts, args.roll)
        if args.audio:
            render_styles(parts, args.audio, args.bpm)
    elif isinstance(model, TextRNN):
        from models.text_rnn import TextSampler

        s = TextSampler(model, seed=args.seed)
        s.prime(args.prime)
        text = args.prime + s.generate(args.chars, args.temperature, args.top_p)
        if str(args.out) == "-":
            print(text)
            return
        args.out.write_text(text)
    elif isinstance(model, StrokeRNN):
        from PIL import Image

        classes = args.classes or model.cfg.classes or ["none"]
        unknown = [c for c in classes if model.cfg.classes and c not in model.cfg.classes]
        if unknown:
            print(f"error: unknown class {unknown[0]!r}; the model's: {', '.join(model.cfg.classes)}",
                  file=sys.stderr)
            raise SystemExit(2)
        Image.fromarray(strokes_grid(model, classes, args.n, args.seed, args.temperature)).save(args.out)
    else:
        print(f"error: no sampler for a {card['kind']!r} model", file=sys.stderr)
        raise SystemExit(2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

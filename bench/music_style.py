"""Music per style: `python -m bench.music_style [--beats B] [--samples N] [--json]`.

Generates each style of the shipped music model through the live voice's generator
(MusicGen, default settings) and sets it beside the style's held-out corpus pieces
(models/data/music_heldout.npz) and beside a bigram of the training pieces' events: mean
polyphony and voice count, in-key rate (a style counts as diatonic where its corpus has at
least 90% of its notes in key), parallel fifths and octaves per 100 beats, KL of the
note-length and onset histograms (the corpus against itself: its held-out pieces split in
two), the longest note in the first 8 beats, and the velocity spread the performance layer
gives at several settings. "unsteered" is the generator without its sampling-time steering
(no key, no voice leading, no style density): what the model alone writes.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import Any

import numpy as np
import torch

from bench.machine import info
from live.voices.music_gen import MusicGen, Settings, grooves_for, load_music_model
from models import music_stats as ms
from models.datasets import MUSIC_HELDOUT
from models.music_data import NoteCorpus, load_corpus
from models.music_rnn import Event, MusicConfig, events_to_notes

START_BEATS = 8  # "at start-up": the first this many beats
DIATONIC = 0.9  # a style is diatonic where its held-out pieces have at least this many notes in key
# The generator without the sampling-time steering: no key, no voice leading, no style density.
UNSTEERED = Settings(key="any", voice_leading=0.0, style_density=False)
FEELS = {"as written": Settings(dynamics=0.0, humanize=0.0), "default": Settings(),
         "dynamics 1": Settings(dynamics=1.0, humanize=0.0),
         "dynamics 1, humanize 1": Settings(dynamics=1.0, humanize=1.0)}


def corpus_pieces(nc: NoteCorpus, style: str, beats: float) -> list[np.ndarray]:
    """The style's held-out pieces, each cut to its first `beats` beats, as note arrays."""
    k = nc.styles.index(style)
    tpb = nc.ticks_per_beat
    out = []
    for i in range(len(nc)):
        if int(nc.piece_style[i]) != k or not nc.is_val(i):
            continue
        p = nc.piece(i).astype(float)
        start = p[:, 1] / tpb
        a = ms.notes_array([(int(r[0]), s, s + r[2] / tpb, int(r[3]))
                            for r, s in zip(p, start, strict=True) if s < beats])
        if len(a) >= 8:
            out.append(a)
    return out


def generated(model: Any, style: str, beats: int, seed: int, settings: Settings,
              grooves: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(written notes, performed notes) of `beats` beats from the live generator."""
    gen = MusicGen(model, "music", seed, grooves=grooves)
    gen.restart(0, style)
    notes = gen.run(settings, beats * gen.spb)
    written = ms.notes_array([(n.pitch, n.start / gen.spb, n.end / gen.spb, n.velocity)
                              for n in notes])
    played = [gen.perform(n, settings) for n in notes]
    performed = ms.notes_array([(p.pitch, float(p.start), float(p.end), p.velocity)
                                for p in played])
    return written, performed


def bigram_sample(cfg: MusicConfig, uni: np.ndarray, big: np.ndarray, style: str, beats: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Notes from the training events' bigram (0.9, with 0.1 of the unigram), in a style."""
    v = cfg.vocab
    pu = uni / uni.sum()
    rows = big.sum(1, keepdims=True)
    pb = np.divide(big, rows, out=np.zeros_like(big), where=rows > 0)
    tok = v.style0 + cfg.styles.index(style)
    events, step, sounding = [], 0, set()
    while step < beats * cfg.steps_per_beat and len(events) < 50_000:
        p = 0.9 * pb[tok] + 0.1 * pu
        p[v.style0:] = 0
        tok = int(rng.choice(len(p), p=p / p.sum()))
        kind, value = v.kind(tok)
        if kind == "note_off" and value not in sounding:
            continue
        if kind == "note_on":
            sounding.add(value)
        elif kind == "note_off":
            sounding.discard(value)
        elif kind == "time_shift":
            step += value
        events.append(Event(kind, value))
    return ms.notes_array([(n.pitch, n.start_beat, n.start_beat + n.duration_beats, n.velocity)
                           for n in events_to_notes(events, cfg.steps_per_beat)])


def mean(rows: list[dict[str, float]]) -> dict[str, float]:
    """Key-wise mean over stretches (NaNs left out)."""
    keys = rows[0].keys()
    return {k: round(float(np.nanmean([r[k] for r in rows])), 3) for k in keys}


def style_report(model: Any, nc: NoteCorpus, uni: np.ndarray, big: np.ndarray, style: str,
                 beats: int, samples: int, grooves: dict[str, np.ndarray]) -> dict[str, Any]:
    """Generated (with and without the groove prior) vs corpus vs bigram for one style."""
    corpus = corpus_pieces(nc, style, beats)
    if not corpus:
        return {"corpus_pieces": 0, "note": "no held-out piece of this style to compare with"}
    runs = {"generated": Settings(), "groove_0": Settings(groove=0.0),
            "groove_1": Settings(groove=1.0), "unsteered": UNSTEERED}
    written = {name: [w for w, _ in (generated(model, style, beats, seed, settings, grooves)
                                     for seed in range(samples)) if len(w)]
               for name, settings in runs.items()}
    rng = np.random.default_rng(0)
    bigram = [b for b in (bigram_sample(model.cfg, uni, big, style, beats, rng)
                          for _ in range(samples)) if len(b)]
    cat = np.concatenate
    c_all = cat(corpus)
    half_a, half_b = cat(corpus[0::2]), cat(corpus[1::2]) if len(corpus) > 1 else cat(corpus)
    out: dict[str, Any] = {"corpus_pieces": len(corpus),
                           "corpus": mean([ms.describe(c) for c in corpus]),
                           "bigram": mean([ms.describe(b) for b in bigram])}
    out |= {name: mean([ms.describe(w) for w in ws]) for name, ws in written.items()}
    for kind, hist in (("duration", ms.duration_hist), ("onset", ms.onset_hist)):
        ref = hist(c_all)
        out[f"{kind}_kl"] = {name: round(ms.kl(hist(cat(ws)), ref), 3) for name, ws in written.items()}
        out[f"{kind}_kl"] |= {"bigram": round(ms.kl(hist(cat(bigram)), ref), 3),
                              "corpus_halves": round(ms.kl(hist(half_a), hist(half_b)), 3)}
    durations = c_all[:, 2] - c_all[:, 1]
    first = [w[w[:, 1] < START_BEATS] for w in written["generated"]]
    out["start"] = {"longest_generated_note_beats": round(max(
                        float((f[:, 2] - f[:, 1]).max()) for f in first if len(f)), 3),
                    "corpus_p99_note_beats": round(float(np.percentile(durations, 99)), 3)}
    g, c = out["generated"], out["corpus"]
    out["polyphony_ratio"] = round(g["polyphony"] / c["polyphony"], 3)
    out["unsteered_polyphony_ratio"] = round(out["unsteered"]["polyphony"] / c["polyphony"], 3)
    out["diatonic"] = bool(c["in_key"] >= DIATONIC)
    out["voices_ratio"] = round(g["voices"] / c["voices"], 3) if c["voices"] else math.nan
    return out


def feel_report(model: Any, style: str, beats: int, samples: int,
                grooves: dict[str, np.ndarray]) -> dict[str, Any]:
    """Velocity spread of the same notes played at several settings of the performance layer."""
    out = {}
    for name, settings in FEELS.items():
        played = [generated(model, style, beats, seed, settings, grooves)[1]
                  for seed in range(samples)]
        out[name] = {k: round(v, 2) for k, v in
                     ms.velocity_spread(np.concatenate(played)).items()}
    return out


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    p = argparse.ArgumentParser(prog="python -m bench.music_style", description=__doc__)
    p.add_argument("--model", default="corpus", help="a music model name or card (default: corpus)")
    p.add_argument("--beats", type=int, default=64, help="beats per stretch (default 64)")
    p.add_argument("--samples", type=int, default=6, help="generated stretches per style")
    p.add_argument("--styles", default="", help="comma-separated styles (default: all)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.time()
    model, card = load_music_model({"model": a.model}, torch.device("cpu"))
    grooves = grooves_for({"model": a.model}, card)
    nc = load_corpus(MUSIC_HELDOUT)
    if nc.ngram is None:
        raise SystemExit(f"{MUSIC_HELDOUT} has no n-gram counts for the bigram baseline")
    uni, big = nc.ngram.dense(model.cfg.vocab.size)
    styles = [s for s in (a.styles.split(",") if a.styles else model.cfg.styles)]
    report: dict[str, Any] = {"machine": info("cpu"), "model": a.model, "beats": a.beats,
                              "samples": a.samples, "styles": {}}
    for style in styles:
        report["styles"][style] = style_report(model, nc, uni, big, style, a.beats, a.samples,
                                                 grooves)
        if not a.json:
            r = report["styles"][style]
            if not r["corpus_pieces"]:
                print(f"{style:11s} {r['note']}")
                continue
            g, c, b, u = r["generated"], r["corpus"], r["bigram"], r["unsteered"]
            print(f"{style:11s} polyphony {g['polyphony']:.2f} (corpus {c['polyphony']:.2f}, "
                  f"bigram {b['polyphony']:.2f}) voices {g['voices']:.1f}/{c['voices']:.1f} "
                  f"in-key {g['in_key']:.3f}/{c['in_key']:.3f} parallels/100 beats "
                  f"{g['parallels_per_100_beats']:.1f}/{c['parallels_per_100_beats']:.1f}\n"
                  f"{'':11s} unsteered: polyphony {u['polyphony']:.2f} in-key {u['in_key']:.3f} "
                  f"parallels {u['parallels_per_100_beats']:.1f}\n"
                  f"{'':11s} duration KL {r['duration_kl']}\n{'':11s} onset KL {r['onset_kl']}\n"
                  f"{'':11s} start {r['start']}", flush=True)
    report["feel"] = {"style": styles[0], **feel_report(model, styles[0], a.beats, a.samples, grooves)}
    report["elapsed_s"] = round(time.time() - t0, 1)
    if a.json:
        print(json.dumps(report, indent=1))
    else:
        print("velocity by feel (" + styles[0] + "):", json.dumps(report["feel"]))
        print("machine:", json.dumps(report["machine"]))


if __name__ == "__main__":
    main()

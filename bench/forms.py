"""How often generated lines keep their form, with constrained decoding on and off.

    python -m bench.forms [--model poetry] [--lines 56] [--seeds 3] [--samples docs/samples]

For each form, `on` writes lines with models/verse.py's constrained decoder; `off` samples
the same model freely (same temperature, top-p and seeds) and reads its lines as if the
first began a poem. Both are measured by models/forms.check_lines with the same dictionary:
the fraction of lines with the form's syllable count, of rhyme-closing lines that rhyme with
their partner, and of lines that meet both (in form). The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import torch

from models import weights
from models.datasets import TINYSHAKESPEARE
from models.forms import FORMS, check_lines, compliance
from models.pronounce import pronouncer
from models.text_rnn import TextRNN, TextSampler
from models.verse import RhymeIndex, VerseWriter, word_list, write_poems


def free_lines(model: TextRNN, seed: int, prime: str, lines: int, temperature: float,
               top_p: float) -> list[str]:
    """The model's own non-blank lines, sampled without constraints."""
    s = TextSampler(model, seed)
    s.prime(prime)
    out, cur = [], ""
    for _ in range(lines * 200):
        c = s.next_char(temperature, top_p)
        if c != "\n":
            cur += c
            continue
        if cur.strip():
            out.append(cur)
            if len(out) >= lines:
                break
        cur = ""
    return out


def measure(name: str, lines: int, seeds: int, temperature: float, top_p: float,
            samples: Path | None) -> dict[str, Any]:
    """Per form: compliance on and off, seconds per constrained line, lines given up."""
    model, _ = weights.load(name)
    assert isinstance(model, TextRNN)
    pron = pronouncer()
    index = RhymeIndex(word_list(TINYSHAKESPEARE), pron)
    out: dict[str, Any] = {"model": name, "lines_per_seed": lines, "seeds": seeds,
                           "temperature": temperature, "top_p": top_p, "forms": {}}
    for form in (f for f in FORMS.values() if not f.free):
        on, off, gave_up, secs, text = [], [], 0, 0.0, []
        for seed in range(seeds):
            s = TextSampler(model, seed)
            s.prime("\n")
            writer = VerseWriter(s, pron, index)
            t0 = time.perf_counter()
            got = write_poems(s, writer, form, lines, temperature, top_p)
            secs += time.perf_counter() - t0
            gave_up += writer.gave_up
            on += check_lines(form, got, pron)
            off += check_lines(form, free_lines(model, seed, "\n", lines, temperature, top_p), pron)
            if seed == 0:
                text = got
        n_on = max(len(on), 1)
        out["forms"][form.name] = {"on": compliance(on), "off": compliance(off),
                                   "s_per_line": round(secs / n_on, 3), "gave_up": gave_up}
        if samples is not None:
            head = f"# {name}, form {form.name} ({form.doc}); seed 0, temperature {temperature}\n\n"
            (samples / f"{name}_{form.name}.txt").write_text(head + "\n".join(text) + "\n")
    return out


def table(res: dict[str, Any]) -> str:
    """The figures as aligned text."""
    rows = [f"model {res['model']}: {res['seeds']} seeds x {res['lines_per_seed']} lines, "
            f"temperature {res['temperature']}, top-p {res['top_p']}",
            f"{'form':10} {'in form on':>10} {'off':>6} {'syll on':>8} {'off':>6} "
            f"{'rhyme on':>9} {'off':>6} {'s/line':>7} {'gave up':>8}"]
    for name, f in res["forms"].items():
        on, off = f["on"], f["off"]

        def pct(x: float | None) -> str:
            return "-" if x is None else f"{x:.1%}"
        rows.append(f"{name:10} {pct(on['in_form']):>10} {pct(off['in_form']):>6} "
                    f"{pct(on['syllables_ok']):>8} {pct(off['syllables_ok']):>6} "
                    f"{pct(on['rhyme_ok']):>9} {pct(off['rhyme_ok']):>6} {f['s_per_line']:>7} "
                    f"{f['gave_up']:>8}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    """Measure, print the table, then one JSON line."""
    ap = argparse.ArgumentParser(prog="python -m bench.forms", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="poetry", help="a shipped text model")
    ap.add_argument("--lines", type=int, default=56, help="lines per seed and form")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--samples", type=Path, help="write the first seed's lines of each form here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    with torch.inference_mode():
        res = measure(args.model, args.lines, args.seeds, args.temperature, args.top_p, args.samples)
    print(table(res))
    print(json.dumps(res))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

"""Strokes: the stroke-5 data builder (Hershey fonts, kanjidraw, SVG folders), the sketch-RNN
decoder, its training job (smoke, resume, card against the baseline) and its sampler."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from models import strokes_samples as samples
from models import weights
from models.data import strokes as data
from models.jobs import StrokesJob, split_strokes, stroke_baseline
from models.strokes import StrokeConfig, StrokeRNN, StrokeSampler
from tests.model_helpers import resume_matches, run_train, shipped

TINY = ["--arch", "hidden=16", "--arch", "mixtures=3", "--arch", "n_embd=4", "--batch", "4"]
HAVE_PACKAGES = Path("/usr/share/hershey-fonts/futural.jhf").is_file() and \
    Path("/usr/lib/python3/dist-packages/kanjidraw/data.json").is_file() and shutil.which("dpkg")


def svg(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">{body}</svg>')


@pytest.fixture
def svg_set(tmp_path: Path) -> Path:
    """Twenty-four small drawings in two classes (sub-folders), built into a data set."""
    src = tmp_path / "svgs"
    for i in range(12):
        svg(src / "boxes" / f"b{i}.svg", f'<path d="M{10 + i} 10 h50 v{40 + i} h-50 z"/>')
        svg(src / "marks" / f"m{i}.svg", f'<line x1="0" y1="0" x2="{50 + i}" y2="90"/>'
            f'<polyline points="10,90 50,{10 + i} 90,90"/><path d="m 5 5 c 10 0 20 10 20 20"/>')
    out = tmp_path / "set"
    data.build([str(src)], out, licence="CC0-1.0, the test")
    return out


def test_jhf_records_wrap_and_lift_the_pen(tmp_path: Path) -> None:
    # Hershey's "A" (futural 2): margins MW, then M..V R..M, lift, R..M V..V, lift, P..S T..S;
    # a second record wraps onto a continuation line, as long glyphs do in the .jhf files.
    f = tmp_path / "t.jhf"
    f.write_text("    1  9MWRMNV RRMVV RPSTS\n    2  4MWRMN\nVRV\n")
    glyphs = data.read_jhf(f)
    assert [g.name for g in glyphs] == ["t:1", "t:2"]
    assert glyphs[0].strokes == [[(0.0, -5.0), (-4.0, 4.0)], [(0.0, -5.0), (4.0, 4.0)],
                                 [(-2.0, 1.0), (2.0, 1.0)]]
    assert glyphs[1].strokes == [[(0.0, -5.0), (-4.0, 4.0), (0.0, 4.0)]]
    bad = tmp_path / "bad.jhf"
    bad.write_text("hello world\n")
    with pytest.raises(data.BuildError, match="not a Hershey .jhf record"):
        data.read_jhf(bad)


def test_stroke5_rows_round_trip() -> None:
    strokes = [[(0.0, 0.0), (10.0, 0.0)], [(0.0, 5.0), (10.0, 5.0), (10.0, 10.0)]]
    s5 = data.to_stroke5(strokes)
    assert s5.shape == (5, 5) and s5.dtype == np.float32
    assert np.all(s5[:, 2:].sum(1) == 1)  # exactly one pen state each
    assert s5[:, 2].tolist() == [1, 0, 1, 1, 0] and s5[:, 3].tolist() == [0, 1, 0, 0, 0]
    assert s5[-1, 4] == 1 and s5[:-1, 4].sum() == 0  # the end on the last row only
    pos = data.absolute(s5)  # longer side 10 -> 1, at the top left
    assert np.allclose(pos, [[0, 0], [1, 0], [0, 0.5], [1, 0.5], [1, 1]])


def test_svg_paths_parse() -> None:
    assert data.parse_path("M10 10 L20 10 l0 10 h-10 z") == [
        [(10.0, 10.0), (20.0, 10.0), (20.0, 20.0), (10.0, 20.0), (10.0, 10.0)]]
    curve = data.parse_path("m0 0 c 5 0 10 5 10 10")[0]
    assert curve[0] == (0.0, 0.0) and curve[-1] == (10.0, 10.0) and len(curve) == 9
    with pytest.raises(data.BuildError, match="lacks numbers"):
        data.parse_path("M 10")


def test_svg_folder_reads_shapes_and_skips_what_it_cannot_read(tmp_path: Path) -> None:
    src = tmp_path / "mine"
    svg(src / "shapes" / "rect.svg", '<rect x="10" y="20" width="40px" height="20"/>')
    svg(src / "shapes" / "round.svg", '<circle cx="50" cy="50" r="10"/>'
        '<ellipse cx="50" cy="50" rx="40" ry="20"/>')
    svg(src / "broken.svg", "<path d=")  # not XML
    svg(src / "empty.svg", "<text>no lines</text>")
    svg(src / "units.svg", '<line x1="0" y1="0" x2="5cm" y2="3"/>')  # not user units
    svg(src / "path.svg", '<path d="M 10"/>')  # lacks numbers
    (src / "plain.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg">'
                                   '<line x1="0" y1="0" x2="10" y2="5"/></svg>')
    man = data.build([str(src)], tmp_path / "set", licence="CC0-1.0, the test")
    assert man["classes"] == {"shapes": 2, "svg": 1}
    reasons = {Path(k["source"]).name: k["reason"] for k in man["skipped"]}
    assert set(reasons) == {"broken.svg", "empty.svg", "units.svg", "path.svg"}
    assert "not readable XML" in reasons["broken.svg"] and "no path, line" in reasons["empty.svg"]
    assert "'5cm'" in reasons["units.svg"] and "lacks numbers" in reasons["path.svg"]
    assert man["sources"][0]["files"] == 7 and len(man["sources"][0]["skipped"]) == 4
    ds = data.load(tmp_path / "set")
    by = {n: data.absolute(ds.drawing(i)) for i, n in enumerate(ds.names)}
    # The rectangle: its corners closed, 40 x 20 scaled to a longer side of 1 at the top left.
    assert np.allclose(by["rect"], [[0, 0], [1, 0], [1, 0.5], [0, 0.5], [0, 0]], atol=1e-6)
    # The circle and the ellipse: two closed strokes of 25 points, the circle inside the ellipse.
    rows = ds.drawing(ds.names.index("round"))
    assert len(rows) == 50 and rows[24, 3] == 1 and rows[49, 4] == 1
    circle, ellipse = by["round"][:25], by["round"][25:]
    assert np.allclose(circle[0], circle[-1], atol=1e-6) and np.allclose(ellipse[0], ellipse[-1], atol=1e-6)
    assert np.allclose(np.hypot(*(circle - [0.5, 0.25]).T), 10 / 80, atol=1e-5)
    assert np.allclose(ellipse.min(0), [0, 0], atol=1e-6) and np.allclose(ellipse.max(0), [1, 0.5], atol=1e-6)
    # Everything unreadable: no data set, and the reason.
    for f in (src / "shapes").iterdir():
        f.unlink()
    (src / "plain.svg").unlink()
    with pytest.raises(data.BuildError, match="no drawings"):
        data.build([str(src)], tmp_path / "none")


@pytest.mark.skipif(not HAVE_PACKAGES, reason="hershey-fonts-data and python3-kanjidraw not installed")
def test_packages_build_with_their_licences(tmp_path: Path) -> None:
    man = data.build(["hershey-fonts-data", "python3-kanjidraw"], tmp_path / "s")
    by = {s["from"]: s for s in man["sources"]}
    assert by["hershey-fonts-data"]["licences"] == ["hershey-license"]
    assert by["python3-kanjidraw"]["licences"] == ["CC-BY-SA-3.0"]  # data.json, not the AGPL code
    assert "Hershey" in " ".join(by["hershey-fonts-data"]["copyright"])
    assert man["classes"]["kanji"] > 6000 and man["classes"]["futural"] > 90
    ds = data.load(tmp_path / "s")
    assert len(ds) == man["drawings"] and ds.starts[-1] == len(ds.points)
    ends = ds.points[ds.starts[1:] - 1, 4]
    assert np.all(ends == 1) and ds.points[:, 4].sum() == len(ds)
    with pytest.raises(data.BuildError, match="already holds a data set"):
        data.build(["hershey-fonts-data"], tmp_path / "s")


def test_bad_sources_are_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(data.BuildError, match="has no .svg files"):
        data.build([str(tmp_path / "empty")], tmp_path / "o")
    with pytest.raises(data.BuildError, match="folder not found"):
        data.build([str(tmp_path / "nope")], tmp_path / "o")
    with pytest.raises(data.BuildError, match="neither a folder nor an installed Debian package"):
        data.build(["no-such-package-here"], tmp_path / "o")
    with pytest.raises(FileNotFoundError, match="no stroke data set"):
        data.load(tmp_path / "o")


def test_loss_falls(svg_set: Path) -> None:
    torch.manual_seed(0)
    ns = argparse.Namespace(data=str(svg_set), batch=8, lr=1e-2, seed=0)
    job = StrokesJob(ns, torch.device("cpu"), {"hidden": 32, "mixtures": 3})
    assert job.arch["classes"] == ["boxes", "marks"]
    losses = [job.step()["loss"] for _ in range(60)]
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.5


def test_train_writes_card_with_baseline_and_resume_is_exact(svg_set: Path, tmp_path: Path) -> None:
    card = run_train(["strokes", "--data", str(svg_set), "--name", "s", "--steps", "4",
                      "--save-dtype", "float16"] + TINY, tmp_path)
    m = card["metrics"]
    assert {"val_nll", "baseline_nll", "baseline_pen_nll", "nll_gain"} <= set(m)
    assert m["nll_gain"] == pytest.approx(m["baseline_nll"] - m["val_nll"], abs=1e-3)
    assert card["bar"]["metric"] == "nll_gain" and card["below_bar"] is (m["nll_gain"] < 0.25)
    assert "CC0-1.0, the test" in card["data"]["licence"]
    on_disk = json.loads((tmp_path / "w" / "s.json").read_text())
    assert on_disk["kind"] == "strokes" and on_disk["steps"] == 4
    model, _ = weights.load(str(tmp_path / "w" / "s"))
    assert isinstance(model, StrokeRNN) and model.cfg.classes == ["boxes", "marks"]
    from models.evaluate import evaluate

    res = evaluate(str(tmp_path / "w" / "s"), data=str(svg_set))  # what shipped: the same figures
    assert res["val_nll"] == pytest.approx(m["val_nll"], abs=1e-3) and "target_met" in res
    from PIL import Image

    from models.sample import main as sample_main

    sample_main([str(tmp_path / "w" / "s"), "--out", str(tmp_path / "g.png"), "--n", "3"])
    assert Image.open(tmp_path / "g.png").size == (3 * 96, 2 * 96)  # a row per class
    with pytest.raises(SystemExit):
        sample_main([str(tmp_path / "w" / "s"), "--out", str(tmp_path / "x.png"), "--class", "nope"])
    assert resume_matches(["strokes", "--data", str(svg_set), "--val-every", "2"] + TINY,
                          tmp_path, 6)


def test_baseline_is_a_density_of_the_held_out_points() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(50):
        r = np.zeros((10, 5), np.float32)
        r[:, :2] = rng.normal(0, 0.2, (10, 2))
        r[:, 2] = 1
        r[-1, 2:] = (0, 0, 1)
        rows.append(r)
    b = stroke_baseline(rows[:40], rows[40:], scale=0.2)
    # unit-variance Gaussian in scaled units: about log(2 pi) + 1 nats per point
    assert b["baseline_offset_nll"] == pytest.approx(np.log(2 * np.pi) + 1, abs=0.3)
    assert 0 < b["baseline_pen_nll"] < np.log(3)  # the bigram knows pen down is usual
    assert b["baseline_nll"] == pytest.approx(b["baseline_offset_nll"] + b["baseline_pen_nll"], abs=1e-3)


def test_sampler_is_seeded_and_continues_a_prime() -> None:
    torch.manual_seed(0)
    m = StrokeRNN(StrokeConfig(classes=["a", "b"], hidden=16, mixtures=3, n_embd=4)).eval()
    a = [StrokeSampler(m, 1, seed=5).next_point(0.5) for _ in range(1)]
    assert a == [StrokeSampler(m, 1, seed=5).next_point(0.5)]
    s = StrokeSampler(m, 0, seed=5)
    assert s.prime([(0.2, 0.2, 1), (2.0, 3.0, 1)]) == 2
    x, y, pen = s.next_point(0.05)
    assert abs(x - 2.0) < 0.3 and abs(y - 3.0) < 0.3 and pen in (0, 1, 2)
    # the one-step stream computes what the batched forward computes
    rows = torch.rand(1, 6, 5)
    with torch.no_grad():
        full, _ = m(rows, torch.tensor([1]))
        state = None
        for t in range(6):
            last, state = m(rows[:, t:t + 1], torch.tensor([1]), state)
    assert torch.allclose(last.mu[0, -1], full.mu[0, -1], atol=1e-5)
    with pytest.raises(ValueError, match="needs class ids"):
        m(rows)
    # the sampler's NumPy step is the same LSTM: its head output matches the torch forward
    s = StrokeSampler(m, 1, seed=0)
    for t in range(6):
        s._feed(rows[0, t].numpy())
    assert s.out is not None
    assert np.allclose(s.out, m.head(state[0][-1, 0]).detach().numpy(), atol=1e-5)


def test_completions_prime_the_first_strokes_of_held_out_drawings(svg_set: Path, tmp_path: Path) -> None:
    real = [(0.0, 0.0, 1), (1.0, 0.0, 0), (0.0, 0.5, 1), (1.0, 0.5, 1), (1.0, 1.0, 0), (0.5, 0.5, 2)]
    assert samples.prime_of(real) == [(0.0, 0.0, 1), (1.0, 0.0, 0)]  # the strokes before half
    assert samples.prime_of(real[2:5] + [(0.0, 0.0, 2)]) == [(0.0, 0.5, 1), (1.0, 0.5, 1), (1.0, 1.0, 0)]
    ds = data.load(svg_set)
    assert samples.points(ds.drawing(0))[-1][2] == 2
    torch.manual_seed(0)
    m = StrokeRNN(StrokeConfig(classes=ds.class_names, hidden=16, mixtures=3, n_embd=4)).eval()
    prime = samples.prime_of(samples.points(ds.drawing(0)))
    drawn = samples.complete(m, prime, 0, seed=3, temperature=0.5, max_points=40)
    assert 1 <= len(drawn) <= 40 and (drawn[-1][2] == 2 or len(drawn) == 40)
    s = StrokeSampler(m, 0, seed=3)  # what a sampler fed the same prime draws
    s.prime(prime)
    assert drawn == [s.next_point(0.5) for _ in drawn]
    held = sorted({ds.class_names[ds.classes[i]] for i in split_strokes(len(ds))[1]})  # one of 24
    img = np.asarray(samples.completion_grid(m, ds, held, 3, 0, 0.5, cell=48))
    assert img.shape == (48 * len(held), 48 * 3, 3)
    colours = {tuple(c) for c in img.reshape(-1, 3)}
    assert {samples.REAL, samples.PRIME, samples.DRAWN} <= colours
    other = next(c for c in ds.class_names if c not in held)
    with pytest.raises(ValueError, match="has no held-out drawing"):
        samples.completion_grid(m, ds, [other], 3, 0, 0.5)
    with pytest.raises(SystemExit, match="no stroke data set"):
        samples.main(["--data", str(tmp_path / "none"), "--out", str(tmp_path / "x.png")])


@pytest.mark.skipif(not shipped("glyphs"), reason="no shipped stroke weights yet")
def test_shipped_weights_clear_their_bar_and_draw() -> None:
    card = weights.load_card("glyphs")
    assert card["kind"] == "strokes" and card["below_bar"] is False
    assert card["metrics"]["val_nll"] < card["metrics"]["baseline_nll"]
    model, _ = weights.load("glyphs")
    s = StrokeSampler(model, model.cfg.classes.index("futural"), seed=1)
    pts = [s.next_point(0.3) for _ in range(40)]
    assert any(p[2] == 1 for p in pts)

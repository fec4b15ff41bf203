"""Music LSTM: event encoding, training, resume, sampler steering, corpus cache, bad input."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import torch

from models.jobs import MusicJob
from models.music_data import (
    EventVocab,
    NoteCorpus,
    build_cache,
    encode_notes,
    ensure_cache,
    heldout_corpus,
    load_corpus,
    save_corpus,
)
from models.music_rnn import Event, MusicConfig, MusicRNN, MusicSampler, events_to_notes
from tests.model_helpers import resume_matches, run_train, shipped

TINY = ["--arch", "hidden=32", "--arch", "n_embd=16", "--batch", "4", "--seq", "48"]


def scale_piece(up: bool, n: int = 24) -> np.ndarray:
    """Eighth notes (6 ticks) up or down a C major scale, velocity 80."""
    steps = [0, 2, 4, 5, 7, 9, 11, 12]
    pitches = [60 + steps[i % 8] if up else 72 - steps[i % 8] for i in range(n)]
    return np.array([(p, 6 * i, 6, 80) for i, p in enumerate(pitches)], dtype=np.int32)


def tiny_corpus(path: Path, styles: tuple[str, ...] = ("up", "down"), n: int = 40) -> Path:
    pieces = [scale_piece(i % 2 == 0) for i in range(n)]
    nc = NoteCorpus(
        notes=np.concatenate(pieces),
        piece_start=np.cumsum([0] + [len(p) for p in pieces]),
        piece_style=np.array([i % len(styles) for i in range(n)], dtype=np.int16),
        piece_ids=[f"{styles[i % len(styles)]}/{i}" for i in range(n)],
        styles=list(styles), failed=dict.fromkeys(styles, 0))
    save_corpus(nc, path)
    return path


def test_events_round_trip() -> None:
    v = EventVocab(n_styles=2)
    notes = np.array([(60, 0, 12, 100), (64, 0, 6, 100), (67, 6, 30, 40)], dtype=np.int32)
    toks = encode_notes(notes, v, style=1, tick_div=1)
    assert v.kind(int(toks[0])) == ("style", 1)
    from models.music_rnn import Event as Ev

    evs = [Ev(*v.kind(int(t))) for t in toks[1:]]
    got = [(n.pitch, n.start_beat, n.duration_beats) for n in events_to_notes(evs, 12)]
    assert got == [(60, 0.0, 1.0), (64, 0.0, 0.5), (67, 0.5, 2.5)]  # shifts over 1 beat split
    assert sum(1 for e in evs if e.kind == "time_shift") == 4  # 6, 6, then 12 + 12 for 24


def test_loss_falls(tmp_path: Path) -> None:
    torch.manual_seed(0)
    data = tiny_corpus(tmp_path / "c.npz")
    ns = argparse.Namespace(data=str(data), seq=48, batch=8, lr=1e-2, seed=0)
    job = MusicJob(ns, torch.device("cpu"), {"hidden": 32, "n_embd": 16, "dropout": 0.0})
    losses = [job.step()["loss"] for _ in range(40)]
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5


def test_train_card_resume_and_metrics(tmp_path: Path) -> None:
    data = str(tiny_corpus(tmp_path / "c.npz"))
    card = run_train(["music", "--data", data, "--name", "m", "--steps", "4"] + TINY, tmp_path)
    assert card["arch"]["styles"] == ["up", "down"]
    assert {"val_ce", "bigram_ce", "unigram_ce", "pc_hist_distance",
            "in_key_fraction"} <= set(card["metrics"])
    assert "license.txt" in card["data"]["licence"]
    assert isinstance(card["below_bar"], bool) and card["bar"]["metric"] == "val_ce"
    assert card["bar"]["max"] == pytest.approx(0.9 * card["metrics"]["bigram_ce"], abs=1e-4)
    assert resume_matches(["music", "--data", data] + TINY, tmp_path, 6)


def test_sampler_steering() -> None:
    torch.manual_seed(0)
    m = MusicRNN(MusicConfig(styles=["bach", "folk"], hidden=32, n_embd=16)).eval()
    s = MusicSampler(m, seed=1)
    with pytest.raises(ValueError, match="bach, folk"):
        s.set_style("polka")
    s.set_style("folk")
    s.prime([60, 62, 64])
    sounding: set[int] = set()
    evs = [s.next_event(temperature=1.0, top_p=0.95, transpose=5) for _ in range(300)]
    for e in evs:
        assert e.kind in {"note_on", "note_off", "time_shift", "velocity"}
        if e.kind == "note_on":
            assert e.value not in sounding
            sounding.add(e.value)
        elif e.kind == "note_off":
            assert e.value in sounding  # only a sounding note ends, at its transposed pitch
            sounding.remove(e.value)

    def frac_on(density: float) -> float:
        s.set_style("bach")
        ev = [s.next_event(density=density) for _ in range(300)]
        return sum(e.kind == "note_on" for e in ev) / len(ev)

    assert frac_on(3.0) > frac_on(-3.0)
    s.set_style("bach")
    ons = [e.value for e in (s.next_event(key="D", key_strength=8.0) for _ in range(400))
           if e.kind == "note_on"]
    d_major = {2, 4, 6, 7, 9, 11, 1}
    assert ons and sum(p % 12 in d_major for p in ons) / len(ons) > 0.9


def test_sampler_never_stays_silent() -> None:
    torch.manual_seed(0)
    m = MusicRNN(MusicConfig(styles=["a"], hidden=16, n_embd=8)).eval()
    s = MusicSampler(m, seed=0)
    evs = [s.next_event(density=-30.0) for _ in range(200)]  # everything but notes favoured
    assert any(e.kind == "note_on" for e in evs)
    silent = sum(e.value for e in evs[: next(i for i, e in enumerate(evs) if e.kind == "note_on")]
                 if e.kind == "time_shift")
    assert silent <= s.max_rest_beats * m.cfg.steps_per_beat + m.cfg.max_shift


def test_sampler_is_deterministic() -> None:
    torch.manual_seed(0)
    m = MusicRNN(MusicConfig(styles=["a"], hidden=16, n_embd=8)).eval()
    a = [MusicSampler(m, seed=7).next_event() for _ in range(1)]
    b = [MusicSampler(m, seed=7).next_event() for _ in range(1)]
    assert a == b and isinstance(a[0], Event)


def test_cache_skips_and_counts_bad_files(tmp_path: Path) -> None:
    pytest.importorskip("music21", reason="music21 is not installed (make install: the dev extra)")
    root = tmp_path / "corpus"
    (root / "tunes").mkdir(parents=True)
    (root / "tunes" / "good.abc").write_text(
        "X:1\nT:Scale\nM:4/4\nL:1/8\nK:C\nCDEF GABc|cBAG FEDC|]\n")
    (root / "tunes" / "bad.xml").write_text("<score-partwise><part>not music")
    out = tmp_path / "cache.npz"
    nc = build_cache(out, root=root, collections={"folk": (("tunes",), (".abc", ".xml"), 10)})
    assert len(nc) == 1 and nc.failed == {"folk": 1}
    again = load_corpus(out)
    assert again.piece(0)[:3, 0].tolist() == [60, 62, 64]


def test_missing_or_empty_cache(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="models.music_data"):
        load_corpus(tmp_path / "none.npz")
    empty = NoteCorpus(np.zeros((0, 4), np.int32), np.zeros(1, np.int64), np.zeros(0, np.int16),
                       [], ["x"], {"x": 0})
    save_corpus(empty, tmp_path / "e.npz")
    with pytest.raises(ValueError, match="no pieces"):
        load_corpus(tmp_path / "e.npz")


@pytest.mark.skipif(not shipped("corpus"), reason="no shipped music weights yet")
def test_shipped_weights_evaluate_and_sample(tmp_path: Path) -> None:
    from models.evaluate import evaluate
    from models.sample import main as sample_main
    from models.weights import load_card

    styles = tuple(load_card("corpus")["arch"]["styles"])
    data = tiny_corpus(tmp_path / "c.npz", styles, n=8 * len(styles))
    res = evaluate("corpus", data=str(data), quick=True)
    assert res["val_ce"] > 0 and res["bigram_ce"] > 0
    out = tmp_path / "s.mid"
    sample_main(["corpus", "--out", str(out), "--beats", "8", "--style", styles[0]])
    import pretty_midi

    assert pretty_midi.PrettyMIDI(str(out)).instruments[0].notes


def test_heldout_cache_gives_the_full_cache_figures(tmp_path: Path) -> None:
    from models.metrics import music_metrics

    full = load_corpus(tiny_corpus(tmp_path / "full.npz", n=60))
    assert sum(full.is_val(i) for i in range(len(full))) == 2  # down/21 and down/55
    save_corpus(heldout_corpus(full), tmp_path / "held.npz")
    held = load_corpus(tmp_path / "held.npz")
    assert len(held) == 2 and all(held.is_val(i) for i in range(len(held)))
    assert held.ngram is not None and held.ngram.train_pieces == 58
    torch.manual_seed(0)
    m = MusicRNN(MusicConfig(styles=["up", "down"], hidden=16, n_embd=8)).eval()
    a = music_metrics(m, full, samples_per_style=1, events=50)
    b = music_metrics(m, held, samples_per_style=1, events=50)
    for k in ("val_pieces", "val_events", "val_ce", "unigram_ce", "bigram_ce", "vs_bigram"):
        assert a[k] == b[k], k
    other = MusicRNN(MusicConfig(styles=["up", "down"], max_shift=6, hidden=16, n_embd=8)).eval()
    with pytest.raises(ValueError, match="vocabulary"):
        music_metrics(other, held, samples_per_style=1, events=10)
    with pytest.raises(ValueError, match="no training pieces"):
        MusicJob(argparse.Namespace(data=str(tmp_path / "held.npz"), seq=48, batch=4, lr=None,
                                    seed=0), torch.device("cpu"), {"hidden": 8, "n_embd": 4})


def test_cache_is_built_on_first_use(tmp_path: Path, monkeypatch) -> None:
    import sys

    import models.music_data as md

    pytest.importorskip("music21", reason="music21 is not installed (make install: the dev extra)")
    root = tmp_path / "corpus"
    (root / "tunes").mkdir(parents=True)
    for k in range(3):
        (root / "tunes" / f"t{k}.abc").write_text(
            f"X:1\nT:Scale {k}\nM:4/4\nL:1/8\nK:C\nCDEF GABc|cBAG FEDC|]\n")
    cols = {"folk": (("tunes",), (".abc",), 10)}
    out = tmp_path / "cache.npz"
    cut = md.build_cache(out, max_minutes=0.0, root=root, collections=cols, progress=False)
    assert not cut.complete and len(cut) == 1  # the budget ran out after one tune
    assert ensure_cache(out, progress=False, root=root, collections=cols) == out
    done = load_corpus(out)
    assert done.complete and len(done) == 3
    monkeypatch.setattr(md, "build_cache", lambda *a, **k: pytest.fail("rebuilt a complete cache"))
    ensure_cache(out, root=root, collections=cols)
    monkeypatch.setitem(sys.modules, "music21", None)  # as if not installed
    with pytest.raises(FileNotFoundError, match="music21 is not installed"):
        ensure_cache(tmp_path / "absent.npz")


def test_training_without_data_builds_the_default_cache(tmp_path: Path, monkeypatch) -> None:
    import models.jobs as jobs

    calls = []

    def fake_ensure(path: Path, progress: bool = True) -> Path:
        calls.append((path, progress))
        return tiny_corpus(tmp_path / "built.npz")

    monkeypatch.setattr(jobs, "ensure_cache", fake_ensure)
    ns = argparse.Namespace(data=None, seq=48, batch=4, lr=None, seed=0, quiet=True)
    job = MusicJob(ns, torch.device("cpu"), {"hidden": 8, "n_embd": 4})
    assert calls == [(jobs.DEFAULT_CACHE, False)] and job.data_info["pieces"] == 40


def test_shipped_heldout_cache_reproduces_the_card() -> None:
    """models/data/music_heldout.npz: evaluate corpus on a fresh clone, figures as in its card."""
    from models.datasets import MUSIC_HELDOUT, SHA256, sha256_of
    from models.evaluate import evaluate
    from models.weights import load_card

    assert sha256_of(MUSIC_HELDOUT) == SHA256["music_heldout.npz"]
    card = load_card("corpus")["metrics"]
    res = evaluate("corpus", quick=True)
    assert res["data"] == str(MUSIC_HELDOUT)
    assert res["val_pieces"] == card["val_pieces"] and res["val_events"] == card["val_events"]
    assert res["bigram_ce"] == card["bigram_ce"] and res["unigram_ce"] == card["unigram_ce"]
    assert res["val_ce"] == pytest.approx(card["val_ce"], abs=0.01)  # CPU float32 vs GPU
    assert res["below_bar"] is False

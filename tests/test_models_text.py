"""Text LSTM: training, resume, streaming sampler, shipped weights, bad input."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch

from models import weights
from models.datasets import TINYSHAKESPEARE
from models.jobs import TextJob
from models.text_rnn import TextConfig, TextRNN, TextSampler
from tests.model_helpers import resume_matches, run_train, shipped

TINY = ["--arch", "hidden=32", "--arch", "n_embd=16", "--batch", "4", "--seq", "32"]
SHAKESPEARE = TINYSHAKESPEARE  # ships in models/data/


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    p = tmp_path / "t.txt"
    p.write_text("the quick brown fox jumps over the lazy dog.\n" * 60)
    return p


def test_loss_falls(text_file: Path) -> None:
    torch.manual_seed(0)
    ns = argparse.Namespace(data=str(text_file), seq=32, batch=8, lr=1e-2, seed=0)
    job = TextJob(ns, torch.device("cpu"), {"hidden": 32, "n_embd": 16, "dropout": 0.0})
    losses = [job.step()["loss"] for _ in range(40)]
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5


def test_train_writes_card_and_resume_is_exact(text_file: Path, tmp_path: Path) -> None:
    card = run_train(["text", "--data", str(text_file), "--name", "t", "--steps", "4"] + TINY,
                     tmp_path)
    on_disk = json.loads((tmp_path / "w" / "t.json").read_text())
    assert on_disk["kind"] == "text" and on_disk["steps"] == 4 and on_disk["trained"]
    assert "val_nats_per_char" in on_disk["metrics"] and on_disk["command"].startswith("python")
    model, _ = weights.load(str(tmp_path / "w" / "t"))
    assert model.cfg.vocab == card["arch"]["vocab"]
    assert resume_matches(["text", "--data", str(text_file), "--val-every", "2"] + TINY,
                          tmp_path, 6)


def test_half_precision_weights_load_as_float32(text_file: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    run_train(["text", "--data", str(text_file), "--name", "h", "--steps", "2",
               "--save-dtype", "float16"] + TINY, tmp_path)
    raw = load_file(str(tmp_path / "w" / "h.safetensors"))
    assert all(t.dtype == torch.float16 for t in raw.values() if t.is_floating_point())
    model, card = weights.load(str(tmp_path / "w" / "h"))
    assert card["dtype"] == "float16" and model.head.weight.dtype == torch.float32
    s = TextSampler(model)
    assert len(s.generate(10)) == 10


def test_sampler_streams_with_state() -> None:
    torch.manual_seed(0)
    m = TextRNN(TextConfig(vocab="abc \n", hidden=24, n_embd=8, layers=2)).eval()
    a = TextSampler(m, seed=3)
    a.prime("ab zzz c")  # z is unknown: skipped
    first = a.generate(20, temperature=0.8, top_p=0.9)
    b = TextSampler(m, seed=3)
    b.prime("abc")
    assert b.generate(20, temperature=0.8, top_p=0.9) == first  # same seed, same stream
    assert set(first) <= set("abc \n")
    a.reset()
    assert a.state is None
    # the one-step fast path computes what the batched forward computes
    ids = torch.tensor([[0, 1, 2, 3, 4, 0, 1]])
    with torch.no_grad():
        logits, _ = m(ids)
    state = None
    for i in ids[0].tolist():
        last, state = m.step(i, state)
    assert torch.allclose(last, logits[0, -1], atol=1e-2)


def test_empty_text_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="no characters"):
        run_train(["text", "--data", str(empty), "--name", "e", "--steps", "1"], tmp_path)
    with pytest.raises(FileNotFoundError):
        run_train(["text", "--data", str(tmp_path / "nope.txt"), "--name", "e"], tmp_path)


def test_bad_weights_are_refused(tmp_path: Path) -> None:
    m = TextRNN(TextConfig(vocab="ab", hidden=8, n_embd=4, layers=1))
    card = {"kind": "text", "arch": m.cfg.to_dict()}
    st, cp = weights.save(m, str(tmp_path / "m"), card)
    bad = dict(card, arch=dict(card["arch"], hidden=16))
    cp.write_text(json.dumps(bad))
    with pytest.raises(weights.WeightsError, match="do not match"):
        weights.load(str(tmp_path / "m"))
    cp.write_text(json.dumps(card))
    st.write_bytes(st.read_bytes()[:100])
    with pytest.raises(weights.WeightsError, match="corrupt or truncated"):
        weights.load(str(tmp_path / "m"))


@pytest.mark.skipif(not shipped("shakespeare"), reason="no shipped text weights yet")
def test_shipped_weights_evaluate_and_sample(tmp_path: Path) -> None:
    from models.evaluate import evaluate
    from models.sample import main as sample_main

    small = tmp_path / "val.txt"  # the last 30k characters: evaluate reads its last 10%
    small.write_text(SHAKESPEARE.read_text()[-30_000:])
    res = evaluate("shakespeare", data=str(small), quick=True)
    assert 0.5 < res["val_nats_per_char"] < 3.0
    out = tmp_path / "s.txt"
    sample_main(["shakespeare", "--out", str(out), "--chars", "200"])
    assert len(out.read_text()) >= 200


def test_evaluate_and_sample_cli(text_file: Path, tmp_path: Path, capsys) -> None:
    from models.evaluate import main as evaluate_main
    from models.sample import main as sample_main

    run_train(["text", "--data", str(text_file), "--name", "c", "--steps", "2"] + TINY, tmp_path)
    name = str(tmp_path / "w" / "c")
    capsys.readouterr()
    evaluate_main([name, "--json", "--data", str(text_file)])
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["kind"] == "text" and res["val_nats_per_char"] > 0 and "target_met" in res
    sample_main([name, "--out", str(tmp_path / "s.txt"), "--chars", "50", "--prime", "the "])
    assert (tmp_path / "s.txt").read_text().startswith("the ")
    with pytest.raises(SystemExit):
        evaluate_main([str(tmp_path / "w" / "missing")])


def test_sigint_stops_and_saves(text_file: Path, tmp_path: Path, monkeypatch) -> None:
    import os
    import signal

    calls = {"n": 0}
    step = TextJob.step
    before = signal.getsignal(signal.SIGINT)  # ignored when pytest runs in the background

    def step_then_interrupt(self):
        calls["n"] += 1
        if calls["n"] == 3:
            os.kill(os.getpid(), signal.SIGINT)  # as a user pressing Ctrl-C
        return step(self)

    monkeypatch.setattr(TextJob, "step", step_then_interrupt)
    card = run_train(["text", "--data", str(text_file), "--name", "i", "--steps", "1000",
                      "--no-eval"] + TINY, tmp_path)
    assert card["steps"] == 3 and (tmp_path / "w" / "i.safetensors").is_file()
    assert "below_bar" not in card and weights.quality_note(card) is None  # --no-eval: unknown
    assert signal.getsignal(signal.SIGINT) is before  # the handler training found is back


def test_shipped_text_is_checksummed(tmp_path: Path, monkeypatch) -> None:
    from models import datasets

    assert datasets.verify(TINYSHAKESPEARE) == TINYSHAKESPEARE
    assert datasets.sha256_of(TINYSHAKESPEARE) == datasets.SHA256["tinyshakespeare.txt"]
    fake = tmp_path / "data"  # a shipped folder whose text was edited
    fake.mkdir()
    (fake / "tinyshakespeare.txt").write_text(TINYSHAKESPEARE.read_text()[:-1] + "?")
    monkeypatch.setattr(datasets, "DATA_DIR", fake.resolve())
    with pytest.raises(datasets.DataError, match="was changed: sha256"):
        TextJob(argparse.Namespace(data=str(fake / "tinyshakespeare.txt"), seq=32, batch=4,
                                   lr=None, seed=0), torch.device("cpu"), {"hidden": 8})
    (fake / "tinyshakespeare.txt").unlink()
    with pytest.raises(datasets.DataError, match="missing"):
        datasets.verify(fake / "tinyshakespeare.txt")


def test_missing_model_names_the_available_ones(tmp_path: Path) -> None:
    with pytest.raises(weights.WeightsError) as e:
        weights.load("nosuch")
    msg = str(e.value)
    assert "model 'nosuch' not found in" in msg and "models/weights" in msg
    listed = msg.split("available: ")[1]
    for model in ("clipart (gan)", "corpus (music)", "glyphs (strokes)", "poetry (text)",
                  "shakespeare (text)", "textures (gan)"):  # by name; others may join them
        assert model in listed
    assert listed.index("poetry (text)") < listed.index("shakespeare (text)")  # sorted
    with pytest.raises(weights.WeightsError, match="available: none"):
        weights.load(str(tmp_path / "nosuch"))


def test_saved_weights_are_world_readable(tmp_path: Path) -> None:
    import os
    import stat

    m = TextRNN(TextConfig(vocab="ab", hidden=8, n_embd=4, layers=1))
    old = os.umask(0o077)
    try:
        st, cp = weights.save(m, str(tmp_path / "m"), {"kind": "text", "arch": m.cfg.to_dict()})
    finally:
        os.umask(old)
    assert stat.S_IMODE(st.stat().st_mode) == 0o644 and stat.S_IMODE(cp.stat().st_mode) == 0o644


def test_quality_bar_in_the_card(text_file: Path, tmp_path: Path) -> None:
    card = run_train(["text", "--data", str(text_file), "--name", "q", "--steps", "3"] + TINY,
                     tmp_path)
    m = card["metrics"]
    assert m["bigram_nats_per_char"] < m["unigram_nats_per_char"]
    # three steps cannot beat the bigram of a text that repeats one sentence
    assert card["below_bar"] is True
    bar = card["bar"]
    assert bar["metric"] == "val_nats_per_char" and bar["value"] == m["val_nats_per_char"]
    assert bar["max"] == pytest.approx(0.9 * m["bigram_nats_per_char"], abs=1e-4)
    assert "above the bigram baseline" in bar["note"] and "(bar: at least 10% below" in bar["note"]
    assert weights.quality_note(card) == bar["note"]
    on_disk = json.loads((tmp_path / "w" / "q.json").read_text())
    assert on_disk["below_bar"] is True and on_disk["bar"] == bar


def test_shipped_cards_clear_their_bars() -> None:
    for name in ("textures", "corpus", "shakespeare"):
        card = weights.load_card(name)
        assert card["below_bar"] is False and card["bar"]["note"], name
        assert weights.quality_note(card) is None
        graded = weights.apply_bar(dict(card), {"bigram_nats_per_char": 2.4886})  # the rule
        assert graded["bar"] == card["bar"], name


def test_progress_bar_follows_the_time_budget() -> None:
    import math

    from models.train import Progress

    ns = argparse.Namespace(kind="gan", name="x", quiet=False)
    timed = Progress(ns, steps=20000, start=0, elapsed=0.0, budget=120.0)
    timed.update(1, 5.0, {"d_loss": 1.0})  # 20000 steps at 5 s: the budget ends first
    assert timed.bar.total == 120.0 and timed.bar.n == 5.0 and timed.bar.unit == "s"
    few = Progress(ns, steps=10, start=0, elapsed=0.0, budget=120.0)
    few.update(5, 10.0, {})  # 10 steps at 2 s each end after 20 s, before the budget
    assert few.bar.total == pytest.approx(20.0)
    steps = Progress(ns, steps=100, start=0, elapsed=0.0, budget=math.inf)
    steps.update(1, 1.0, {})
    assert steps.bar.total == 100 and steps.bar.n == 1 and steps.bar.unit == "step"
    for p in (timed, few, steps):
        p.close()

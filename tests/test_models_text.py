"""Text LSTM: training, resume, streaming sampler, shipped weights, bad input."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch

from models import weights
from models.jobs import TextJob
from models.text_rnn import TextConfig, TextRNN, TextSampler
from tests.model_helpers import resume_matches, run_train, shipped

TINY = ["--arch", "hidden=32", "--arch", "n_embd=16", "--batch", "4", "--seq", "32"]
SHAKESPEARE = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "tinyshakespeare.txt"


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

    def step_then_interrupt(self):
        calls["n"] += 1
        if calls["n"] == 3:
            os.kill(os.getpid(), signal.SIGINT)  # as a user pressing Ctrl-C
        return step(self)

    monkeypatch.setattr(TextJob, "step", step_then_interrupt)
    card = run_train(["text", "--data", str(text_file), "--name", "i", "--steps", "1000",
                      "--no-eval"] + TINY, tmp_path)
    assert card["steps"] == 3 and (tmp_path / "w" / "i.safetensors").is_file()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored

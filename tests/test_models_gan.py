"""GAN: image data, training, resume, SWD, shipped weights, bad input."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from live.engine import TracedGenerator, trace_generator
from models import weights
from models.diffaug import diff_augment
from models.fastgan import FastGANConfig, FastGenerator
from models.gan import GANConfig, Generator, build_generator, gan_config
from models.images import CropSampler, load_images
from models.jobs import GANJob
from models.metrics import diversity, swd
from tests.model_helpers import resume_matches, run_train, shipped

FAST = ["--arch", "fastgan", "--arch", "resolution=64", "--arch", "g_base=4", "--arch", "g_max=16",
        "--arch", "d_base=8", "--arch", "d_max=16", "--arch", "nz=16", "--batch", "4"]
TINY = ["--arch", "resolution=32", "--arch", "g_base=4", "--arch", "g_max=16",
        "--arch", "d_base=8", "--arch", "d_max=16", "--arch", "nz=16", "--batch", "4"]


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        a = np.zeros((80, 96, 3), np.uint8)
        a[:, :, i] = 200
        a[::8] = rng.integers(0, 255, (10, 96, 3), dtype=np.uint8)  # stripes
        Image.fromarray(a).save(d / f"im{i}.png")
    Image.fromarray(np.full((64, 64), 128, np.uint8)).save(d / "grey.png")  # greyscale: to RGB
    (d / "broken.png").write_bytes(b"\x89PNG not really")
    (d / "notes.txt").write_text("ignored: not an image suffix")
    return d


def test_folder_loading_skips_and_counts(image_dir: Path) -> None:
    ims = load_images(image_dir)
    assert len(ims.images) == 4 and len(ims.skipped) == 1 and "broken.png" in ims.skipped[0]
    assert all(im.shape[0] == 3 and im.dtype == torch.uint8 for im in ims.images)
    x = CropSampler(ims, 32).sample(5, torch.Generator().manual_seed(0))
    assert x.shape == (5, 3, 32, 32) and x.min() >= -1 and x.max() <= 1


def test_empty_or_missing_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no readable images"):
        load_images(tmp_path / "empty")
    with pytest.raises(FileNotFoundError):
        load_images(tmp_path / "missing")


def test_diffaugment_keeps_shape_and_gradient() -> None:
    x = torch.randn(4, 3, 32, 32, requires_grad=True)
    y = diff_augment(x)
    y.sum().backward()
    assert y.shape == x.shape and x.grad is not None and x.grad.abs().sum() > 0


def test_d_loss_falls(image_dir: Path) -> None:
    torch.manual_seed(0)
    ns = argparse.Namespace(data=str(image_dir), batch=8, lr=2e-3, seed=0)
    arch = {"resolution": 32, "g_base": 4, "g_max": 16, "d_base": 8, "d_max": 32, "nz": 16}
    job = GANJob(ns, torch.device("cpu"), arch)
    losses = [job.step()["d_loss"] for _ in range(30)]
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.1


def test_train_card_resume(image_dir: Path, tmp_path: Path) -> None:
    card = run_train(["gan", "--data", str(image_dir), "--name", "g", "--steps", "2"] + TINY,
                     tmp_path)
    assert card["arch"]["resolution"] == 32 and len(card["data"]["skipped"]) == 1
    assert {"swd", "swd_real_vs_real", "swd_untrained", "gap_closed"} <= set(card["metrics"])
    assert isinstance(card["below_bar"], bool) and card["bar"]["metric"] == "gap_closed"
    assert card["bar"]["min"] == 0.5 and card["bar"]["value"] == card["metrics"]["gap_closed"]
    g, _ = weights.load(str(tmp_path / "w" / "g"))
    assert g(torch.randn(2, 16)).shape == (2, 3, 32, 32)
    assert resume_matches(["gan", "--data", str(image_dir)] + TINY, tmp_path, 4)


def test_swd_orders_sets() -> None:
    torch.manual_seed(0)
    a = torch.rand(32, 3, 32, 32) * 2 - 1
    b = torch.rand(32, 3, 32, 32) * 2 - 1
    smooth = torch.nn.functional.avg_pool2d(a, 5, 1, 2)
    assert swd(a, b) < swd(a, smooth)


def test_card_mismatch_and_truncation(tmp_path: Path) -> None:
    cfg = GANConfig(resolution=32, g_base=4, g_max=8, nz=8)
    card = {"kind": "gan", "arch": cfg.to_dict()}
    st, cp = weights.save(Generator(cfg), str(tmp_path / "g"), card)
    cp.write_text(cp.read_text().replace('"g_max": 8', '"g_max": 16'))
    with pytest.raises(weights.WeightsError, match="do not match"):
        weights.load(str(tmp_path / "g"))
    cp.write_text(cp.read_text().replace('"g_max": 16', '"g_max": 8'))
    st.write_bytes(st.read_bytes()[:-10])
    with pytest.raises(weights.WeightsError, match="corrupt or truncated"):
        weights.load(str(tmp_path / "g"))


@pytest.mark.skipif(not shipped("textures"), reason="no shipped GAN weights yet")
def test_shipped_weights_evaluate_and_sample(tmp_path: Path) -> None:
    from models.evaluate import evaluate
    from models.sample import main as sample_main

    res = evaluate("textures", data="skimage", quick=True)
    assert res["swd"] > 0 and "gap_closed" in res
    out = tmp_path / "grid.png"
    sample_main(["textures", "--out", str(out), "--n", "4"])
    assert Image.open(out).size[0] > 100


def test_fast_inference_path_matches() -> None:
    torch.manual_seed(0)
    g = Generator(GANConfig(resolution=32, g_base=4, g_max=16, nz=8))
    g(torch.randn(8, 8))  # train mode: BatchNorm statistics move off their defaults
    g.eval()
    z = torch.randn(3, 8)
    with torch.no_grad():
        fast = g(z)  # phase convs with BatchNorm folded in
    slow = g(z)  # grad enabled: the plain upsample-conv-BN path
    assert torch.allclose(fast, slow, atol=1e-5)
    with torch.no_grad():
        g.blocks[0].conv.weight.mul_(1.5)  # a weight changes: the folded copy is rebuilt
        fast = g(z)
    assert torch.allclose(fast, g(z), atol=1e-5)


def test_quality_bar_of_a_gan() -> None:
    card = weights.apply_bar({"kind": "gan", "metrics": {"gap_closed": -0.04}})
    assert card["below_bar"] is True
    assert card["bar"] == {"metric": "gap_closed", "value": -0.04, "min": 0.5,
                           "note": "closed -4% of the gap between untrained and real (bar: 50%)"}
    assert weights.quality_note(card) == card["bar"]["note"]
    good = weights.apply_bar({"kind": "gan", "metrics": {"gap_closed": 0.9}})
    assert good["below_bar"] is False and weights.quality_note(good) is None
    unknown = weights.apply_bar({"kind": "gan", "metrics": {"train_loss_ema": 1.0}, "below_bar": True})
    assert "below_bar" not in unknown and weights.quality_note(unknown) is None  # --no-eval


def test_fastgan_shapes() -> None:
    torch.manual_seed(0)
    g = FastGenerator(FastGANConfig(resolution=256, nz=32, g_base=2, g_max=16)).eval()
    with torch.no_grad():
        y = g(torch.randn(2, 32))
    assert y.shape == (2, 3, 256, 256) and float(y.abs().max()) <= 1
    assert sorted(g.sle, key=int) == ["64", "128", "256"]  # excited from 4, 8 and 16 px
    assert g.cfg.channels(4) == 16 and g.cfg.channels(256) == 2
    default = build_generator({"arch": "fastgan"})
    assert isinstance(default, FastGenerator) and default.cfg.resolution == 256
    assert isinstance(build_generator({"resolution": 32, "g_base": 4}), Generator)  # no arch: DCGAN


def test_fastgan_round_trip_and_trace(tmp_path: Path) -> None:
    torch.manual_seed(0)
    cfg = FastGANConfig(resolution=64, nz=16, g_base=4, g_max=16)
    g = build_generator(cfg.to_dict())
    g(torch.randn(4, 16))  # train mode: BatchNorm statistics move off their defaults
    g.eval()
    weights.save(g, str(tmp_path / "f"), {"kind": "gan", "arch": cfg.to_dict()})
    g2, card = weights.load(str(tmp_path / "f"))
    assert isinstance(g2, FastGenerator) and card["arch"]["arch"] == "fastgan"
    z = torch.randn(3, 16)
    with torch.no_grad():
        assert torch.equal(g(z), g2(z))
    traced = trace_generator("f", g2, pixels=True)  # what the live engine does on the CPU
    assert isinstance(traced, TracedGenerator) and traced.cfg.nz == 16
    px = traced(z)
    assert px.shape == (3, 64, 64, 3) and px.dtype == torch.uint8
    plain = trace_generator("f", g2)
    assert isinstance(plain, TracedGenerator)
    with torch.no_grad():
        assert torch.allclose(plain(z), g2(z), atol=1e-5)


def test_fastgan_trains_and_resumes(image_dir: Path, tmp_path: Path) -> None:
    card = run_train(["gan", "--data", str(image_dir), "--name", "f", "--steps", "2"] + FAST, tmp_path)
    assert card["arch"]["arch"] == "fastgan" and card["arch"]["resolution"] == 64
    assert "gap_closed" in card["metrics"]
    g, _ = weights.load(str(tmp_path / "w" / "f"))
    assert isinstance(g, FastGenerator) and g(torch.randn(2, 16)).shape == (2, 3, 64, 64)
    assert resume_matches(["gan", "--data", str(image_dir)] + FAST, tmp_path, 4)


def test_unknown_architecture(image_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown GAN architecture 'stylegan9'"):
        gan_config({"arch": "stylegan9"})
    with pytest.raises(weights.WeightsError, match="unknown GAN architecture"):
        weights.build("gan", {"arch": "stylegan9"})
    with pytest.raises(ValueError, match="unknown GAN architecture 'stylegan9'"):
        run_train(["gan", "--data", str(image_dir), "--name", "x", "--arch", "stylegan9"], tmp_path)
    with pytest.raises(ValueError, match="only gan has named architectures"):
        run_train(["text", "--name", "x", "--arch", "fastgan"], tmp_path)
    with pytest.raises(ValueError, match="at least 64"):
        FastGANConfig(resolution=32)


def test_diversity_sees_repeats_and_collapse() -> None:
    torch.manual_seed(0)
    varied = torch.rand(32, 3, 64, 64) * 2 - 1
    mean, nearest = diversity(varied)
    assert mean > 0.3 and nearest > 0.3
    repeated = varied.clone()
    repeated[1] = repeated[0]  # one repeat in the first grid of 16
    assert diversity(repeated)[1] < nearest
    collapsed = varied[:1].repeat(32, 1, 1, 1) + 0.01 * torch.randn(32, 3, 64, 64)
    assert diversity(collapsed)[0] < 0.05 * mean

"""models/style.py and models/style_features.py: the conditional network at any size, mixes,
strength, shipping and loading, the random and VGG feature nets, the Gram and Gatys losses."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from models import weights
from models.style import StyleConfig, StyleNet, normalise_mix, one_hot, stylise, stylise_pixels
from models.style_features import (
    VGG19_CONVS,
    PerceptualLoss,
    RandomFeatures,
    VGGFeatures,
    feature_net,
    gatys,
    gram,
)


def net(styles: int = 3) -> StyleNet:
    torch.manual_seed(0)
    model = StyleNet(StyleConfig(styles=[f"s{i}" for i in range(styles)], channels=(8, 16), blocks=1))
    with torch.no_grad():  # distinct norm tables, as training makes them
        for name, p in model.named_parameters():
            if name.endswith(("gamma", "beta")):
                p.add_(torch.randn_like(p))
    return model.eval()


def test_the_network_runs_at_any_size_and_stays_in_range() -> None:
    model = net()
    for h, w in ((16, 16), (37, 53), (64, 30)):
        y = stylise(model, torch.rand(2, 3, h, w) * 2 - 1, torch.tensor([one_hot(0, 3)] * 2))
        assert y.shape == (2, 3, h, w) and y.abs().max() <= 1


def test_a_batch_gives_what_each_frame_gives_alone() -> None:
    model = net()
    x, mix = torch.rand(2, 3, 32, 32) * 2 - 1, torch.tensor([one_hot(0, 3), one_hot(2, 3)])
    with torch.no_grad():
        both = model(x, mix)
        assert torch.allclose(both[1:], model(x[1:], mix[1:]), atol=1e-5)


def test_a_mix_morphs_between_styles_continuously() -> None:
    model = net()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        ends = [model(x, torch.tensor([one_hot(i, 3)])) for i in (0, 1)]
        mids = [model(x, torch.tensor([[1 - t, t, 0.0]])) for t in (0.25, 0.5, 0.75)]
    steps = [(b - a).abs().mean().item() for a, b in zip([ends[0], *mids], [*mids, ends[1]], strict=True)]
    assert (ends[0] - ends[1]).abs().mean() > 0.05
    assert max(steps) < (ends[0] - ends[1]).abs().mean().item()  # small steps, no jump


def test_mixes_are_normalised_and_bad_ones_refused() -> None:
    assert normalise_mix([1, 3, 0], 3) == [0.25, 0.75, 0.0]
    with pytest.raises(ValueError, match="expected 3"):
        normalise_mix([1, 1], 3)
    with pytest.raises(ValueError, match="all zeros"):
        normalise_mix([0, 0, 0], 3)
    with pytest.raises(ValueError, match="negative"):
        normalise_mix([1, -1, 1], 3)


def test_strength_blends_the_pixels_with_the_input() -> None:
    model = net()
    pixels = torch.randint(0, 256, (2, 20, 24, 3), dtype=torch.uint8)
    mix = torch.tensor([one_hot(1, 3)] * 2)
    assert torch.equal(stylise_pixels(model, pixels, mix, 0.0), pixels)
    full = stylise_pixels(model, pixels, mix, torch.tensor([1.0, 1.0]))
    half = stylise_pixels(model, pixels, mix, 0.5).float()
    assert full.shape == pixels.shape and full.dtype == torch.uint8
    assert torch.allclose(half, (pixels.float() + full.float()) / 2, atol=1.01)


def test_weights_ship_and_load_and_a_corrupt_file_says_so(tmp_path: Path) -> None:
    model = net()
    card = {"kind": "style", "arch": model.cfg.to_dict()}
    weights.save(model, str(tmp_path / "mine"), card)
    loaded, got = weights.load(str(tmp_path / "mine.json"))
    assert isinstance(loaded, StyleNet) and got["arch"]["styles"] == ["s0", "s1", "s2"]
    x, mix = torch.rand(1, 3, 16, 16), torch.tensor([one_hot(2, 3)])
    with torch.no_grad():
        assert torch.equal(loaded(x, mix), model(x, mix))
    (tmp_path / "mine.safetensors").write_bytes(b"\x00" * 40)
    with pytest.raises(weights.WeightsError, match="corrupt"):
        weights.load(str(tmp_path / "mine.json"))


def test_random_features_come_from_the_seed_alone() -> None:
    a, b, c = RandomFeatures(seed=1), RandomFeatures(seed=1), RandomFeatures(seed=2)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    fa, fb, fc = a(x), b(x), c(x)
    assert [f.shape[1:] for f in fa] == [(48, 32, 32), (96, 16, 16), (192, 8, 8), (256, 4, 4)]
    assert all(torch.equal(p, q) for p, q in zip(fa, fb, strict=True))
    assert not torch.equal(fa[0], fc[0])
    assert gram(fa[1]).shape == (1, 96, 96)
    assert not any(p.requires_grad for p in a.parameters())


def test_a_vgg19_file_in_torchvision_layout_is_read(tmp_path: Path) -> None:
    widths = [64, 64, 128, 128, 256, 256, 256, 256, 512]
    state, c_in = {}, 3
    for i, w in zip(VGG19_CONVS, widths, strict=False):
        state[f"features.{i}.weight"] = torch.randn(w, c_in, 3, 3) * 0.05
        state[f"features.{i}.bias"] = torch.zeros(w)
        c_in = w
    save_file(state, str(tmp_path / "vgg19.safetensors"))
    features = feature_net(f"vgg19:{tmp_path / 'vgg19.safetensors'}")
    assert isinstance(features, VGGFeatures)
    maps = features(torch.zeros(1, 3, 32, 32))
    assert [m.shape[1] for m in maps] == [64, 128, 256, 512, 128]  # four style maps, then content
    save_file({"features.0.weight": torch.zeros(1)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(ValueError, match="not a torchvision VGG-19"):
        feature_net(f"vgg19:{tmp_path / 'bad.safetensors'}")
    with pytest.raises(ValueError, match="unknown"):
        feature_net("resnet")


def test_gatys_lowers_the_style_loss_of_the_content_image() -> None:
    torch.manual_seed(0)
    loss = PerceptualLoss(RandomFeatures(widths=(16, 32)), content_weight=0.3)
    content = torch.rand(1, 3, 32, 32) * 2 - 1
    style = torch.rand(1, 3, 32, 32).pow(3) * 2 - 1
    targets = loss.style_grams(style)
    before, _, _ = loss.parts(content, content, targets)
    painted = gatys(loss, content, targets, steps=30, lr=0.05)
    after, content_after, _ = loss.parts(painted, content, targets)
    assert after.item() < 0.7 * before.item() and content_after.item() > 0


def test_a_feature_net_we_trained_is_read_back_and_a_bad_file_refused(tmp_path: Path) -> None:
    mine = RandomFeatures(seed=5)
    save_file({k: v.contiguous() for k, v in mine.state_dict().items()}, str(tmp_path / "f.safetensors"))
    read = feature_net(f"trained:{tmp_path / 'f.safetensors'}")
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(read(x)[2], mine(x)[2]) and not any(p.requires_grad for p in read.parameters())
    (tmp_path / "bad.safetensors").write_bytes(b"nonsense")
    with pytest.raises(ValueError, match="unreadable"):
        feature_net(f"trained:{tmp_path / 'bad.safetensors'}")

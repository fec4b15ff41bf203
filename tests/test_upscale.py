"""The learned 2x upscaler: bicubic when untrained, trained and carded by models.train, and live
as /visual/upscale (off, bicubic, learned) on a real server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from websockets.asyncio.client import connect

from live.voices.upscale import FrameUpscaler
from models import weights
from models.images import ImageSet
from models.jobs import split_images
from models.upscale import UpscaleConfig, Upscaler, downscale, psnr, upscale_pixels
from tests.conftest import Server, poll_until
from tests.livetools import recv_frames, send, write_patch
from tests.model_helpers import run_train


def test_an_untrained_upscaler_is_bicubic_and_doubles_the_size() -> None:
    torch.manual_seed(0)
    model = Upscaler(UpscaleConfig()).eval()
    x = torch.rand(2, 3, 16, 24) * 2 - 1
    with torch.no_grad():
        y = model(x)
    bicubic = F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False).clamp(-1, 1)
    assert y.shape == (2, 3, 32, 48) and torch.allclose(y, bicubic)
    pixels = upscale_pixels(model, torch.randint(0, 256, (1, 8, 8, 3), dtype=torch.uint8))
    assert pixels.shape == (1, 16, 16, 3) and pixels.dtype == torch.uint8
    assert downscale(y, 2).shape == x.shape and psnr(x, x) > 100 > psnr(x, -x)


def test_held_out_images_are_never_trained_on() -> None:
    ims = ImageSet([torch.zeros(3, 8, 8)] * 40, [f"{i:02d}.png" for i in range(40)])
    train, held = split_images(ims)
    assert len(held.names) == 2 and not set(train.names) & set(held.names)
    assert len(train.names) + len(held.names) == 40


def test_training_writes_a_card_with_psnr_against_bicubic(tmp_path: Path) -> None:
    card = run_train(["upscale", "--data", "skimage", "--name", "up", "--steps", "30",
                      "--arch", "channels=16", "--batch", "4"], tmp_path)
    m = card["metrics"]
    assert {"psnr", "psnr_bicubic", "gain_db"} <= set(m) and m["n_crops"] == 64
    assert m["gain_db"] == pytest.approx(m["psnr"] - m["psnr_bicubic"], abs=2e-3)
    assert card["bar"]["metric"] == "gain_db" and card["below_bar"] == (m["gain_db"] < 0)
    assert card["data"]["held_out_images"] >= 1
    model, _ = weights.load(str(tmp_path / "w" / "up"))
    assert isinstance(model, Upscaler) and model.cfg.channels == 16


def test_the_frame_upscaler_modes_without_a_learned_one() -> None:
    up = FrameUpscaler(None)
    assert up.modes() == ("off", "bicubic")
    frame = np.random.default_rng(0).integers(0, 256, (8, 12, 3), dtype=np.uint8)
    assert up.apply(frame, "off") is frame and up.apply(frame, "bicubic").shape == (16, 24, 3)


async def test_upscale_live_off_bicubic_learned(run_server, tmp_path: Path) -> None:
    run_train(["upscale", "--data", "skimage", "--name", "up", "--steps", "5",
               "--arch", "channels=8", "--batch", "2"], tmp_path)
    patch = write_patch(tmp_path, f"""\
[voices.visual]
kind = "visual"
model = "random"
resolution = 32
fps = 15
upscaler = "{tmp_path / 'w' / 'up'}"
""")
    server: Server = run_server(patch=patch)
    schema = {p["path"]: p for p in server.get_json("/schema")["params"]}
    assert schema["/visual/upscale"]["choices"] == ["off", "bicubic", "learned"]
    async with connect(server.ws, compression=None) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topics": ["frames"]}))
        for mode, width in (("learned", 64), ("bicubic", 64), ("off", 32)):
            send(server, "/visual/upscale", mode)
            poll_until(lambda m=mode: server.param("/visual/upscale") == m, 5.0)
            async with asyncio.timeout(20):
                while (await recv_frames(ws, 1))[0][0].width != width:
                    pass
    error = send(server, "/visual/upscale", "x4", reply=True)
    assert error is not None and "off, bicubic, learned" in error

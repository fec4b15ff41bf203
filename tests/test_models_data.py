"""python -m models.data images: crops, deduplication, manifest and licences, bad input."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from models.data import images as builder
from models.data.__main__ import main as data_main
from models.data.licences import package_licence

SIZE = 64


def _texture(seed: int, w: int, h: int) -> Image.Image:
    """A photograph stand-in: smooth random blobs in colour (detail everywhere, no plain border)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "pics"
    (d / "sub").mkdir(parents=True)
    wall = _texture(1, 480, 320)
    wall.save(d / "wall1.png")
    _texture(2, 400, 300).save(d / "sub" / "wall2.jpg", quality=95)
    wall.resize((720, 480), Image.Resampling.BICUBIC).save(d / "wall1_big.png")  # all duplicates
    drawing = Image.new("RGBA", (200, 150), (0, 0, 0, 0))  # transparent background
    a = np.asarray(drawing).copy()
    a[30:120, 40:160] = (200, 30, 30, 255)
    a[60:90, 70:130] = (20, 20, 160, 255)
    Image.fromarray(a).save(d / "drawing.png")
    white = np.full((160, 120, 3), 255, np.uint8)  # a drawing on white, taller than wide
    white[20:140, 30:90] = (10, 120, 10)
    white[50:60, 30:90] = 0
    Image.fromarray(white).save(d / "tree.png")
    _texture(3, 30, 30).save(d / "tiny.png")  # too small
    Image.new("RGB", (200, 200), (90, 90, 90)).save(d / "flat.png")  # nothing but background
    (d / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    (d / "notes.txt").write_text("not an image")
    return d


def _build(src: Path | str, out: Path, **kw) -> dict:
    kw = {"size": SIZE, "crops": 3, "min_side": 48, "progress": False} | kw
    return builder.build([str(src)], out, **kw)


def test_folder_crops_dedup_manifest(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "set"
    man = _build(folder, out, licence="CC0-1.0 (test pictures)")
    files = sorted((out / "images").glob("*.png"))
    assert len(files) == man["summary"]["images"] == len(man["images"]) > 0
    for f in files:
        with Image.open(f) as im:
            assert im.size == (SIZE, SIZE) and im.mode == "RGB"
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["summary"] == man["summary"] and on_disk["size"] == SIZE
    by_source: dict[str, list[dict]] = {}
    for rec in man["images"]:
        by_source.setdefault(Path(rec["source"]).name, []).append(rec)
        assert rec["licence"] == "CC0-1.0 (test pictures)" and rec["package"] is None
        assert rec["sha256"] == builder.hashlib.sha256((out / rec["file"]).read_bytes()).hexdigest()
    # wallpapers give several crops, drawings one (padded), the larger copy none (duplicates)
    assert len(by_source["wall1.png"]) == len(by_source["wall2.jpg"]) == 3  # --crops 3
    assert [r["mode"] for r in by_source["drawing.png"]] == ["pad"]
    assert [r["mode"] for r in by_source["tree.png"]] == ["pad"]
    assert "wall1_big.png" not in by_source
    dropped = [d for d in man["dropped"] if d["source"].endswith("wall1_big.png")]
    assert dropped and all(d["like"].startswith("images/") for d in dropped)
    assert man["summary"]["duplicates_dropped"] == len(man["dropped"])
    reasons = {Path(s["source"]).name: s["reason"] for s in man["skipped"]}
    assert set(reasons) == {"tiny.png", "flat.png", "broken.jpg"}
    assert "too small" in reasons["tiny.png"] and "blank" in reasons["flat.png"]
    assert reasons["broken.jpg"].startswith("unreadable")
    assert man["sources"] == [{"from": str(folder), "kind": "folder", "files": 8,
                               "licence": "CC0-1.0 (test pictures)"}]


def test_drawing_is_centred_on_its_background(folder: Path, tmp_path: Path) -> None:
    man = _build(folder, tmp_path / "set")
    rec = next(r for r in man["images"] if r["source"].endswith("drawing.png"))
    a = np.asarray(Image.open(tmp_path / "set" / rec["file"])).astype(int)
    assert (a[0, 0] == 255).all() and (a[-1, -1] == 255).all()  # transparent became white
    ys, xs = np.nonzero((a != 255).any(axis=2))
    assert abs((ys.min() + ys.max()) / 2 - SIZE / 2) < 3 and abs((xs.min() + xs.max()) / 2 - SIZE / 2) < 3
    assert xs.max() - xs.min() > 0.8 * SIZE  # trimmed to the drawing, then a small margin


def test_same_input_same_output(folder: Path, tmp_path: Path) -> None:
    a = _build(folder, tmp_path / "a")
    b = _build(folder, tmp_path / "b", jobs=2)
    assert [r["sha256"] for r in a["images"]] == [r["sha256"] for r in b["images"]]


def test_bad_input_is_named(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(builder.BuildError, match="folder not found"):
        _build(tmp_path / "missing", tmp_path / "o1")
    with pytest.raises(builder.BuildError, match="neither a folder nor an installed Debian package"):
        _build("no-such-package-livegen", tmp_path / "o2")
    (tmp_path / "empty").mkdir()
    with pytest.raises(builder.BuildError, match="no image files"):
        _build(tmp_path / "empty", tmp_path / "o3")
    only_small = tmp_path / "small"
    only_small.mkdir()
    _texture(0, 20, 20).save(only_small / "a.png")
    with pytest.raises(builder.BuildError, match="no images found: 1 files read"):
        _build(only_small, tmp_path / "o4")
    with pytest.raises(builder.BuildError, match="nothing to build from"):
        builder.build([], tmp_path / "o5")
    _build(folder, tmp_path / "o6")
    with pytest.raises(builder.BuildError, match="pass --force"):
        _build(folder, tmp_path / "o6")
    assert _build(folder, tmp_path / "o6", force=True)["summary"]["images"] > 0


def test_command_line(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "cli"
    data_main(["images", "--from", str(folder), "--out", str(out), "--size", "32", "--crops", "2",
               "--min-side", "24", "--quiet", "--licence", "mine"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["images"] == len(list((out / "images").glob("*.png")))
    man = json.loads((out / "manifest.json").read_text())
    assert man["command"].startswith("python -m models.data images --from ")
    with pytest.raises(SystemExit) as e:
        data_main(["images", "--from", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")])
    assert e.value.code == 2 and "error: folder not found" in capsys.readouterr().err


def test_the_gan_job_takes_a_built_folder(folder: Path, tmp_path: Path) -> None:
    from models.jobs import GANJob

    _build(folder, tmp_path / "set", licence="CC0-1.0")
    ns = argparse.Namespace(data=str(tmp_path / "set"), batch=4, lr=2e-4, seed=0)
    arch = {"resolution": 32, "g_base": 4, "g_max": 16, "d_base": 8, "d_max": 16, "nz": 16}
    job = GANJob(ns, torch.device("cpu"), arch)
    assert job.ims.crop_min == builder.CROP_MIN and job.crops.min_frac == builder.CROP_MIN
    assert job.data_info["licence"]["by_licence"] == {"CC0-1.0": len(job.ims.names)}
    assert job.data_info["crops"].startswith("random squares 80%-100%")
    assert set(job.step()) == {"d_loss", "g_loss"}


def test_dep5_licences(tmp_path: Path) -> None:
    doc = tmp_path / "doc" / "pkg"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files: *\nCopyright: 2020 Someone\nLicense: GPL-2+\n\n"
        "Files: art/Sky*.png\n       art/sea.jpg\nCopyright: 2021 Painter\n"
        "License: CC-BY-SA-4.0\n full text here\n\n"
        "License: GPL-2+\n the text\n")
    lic = package_licence("pkg", tmp_path / "doc")
    assert lic.machine_readable
    sky = lic.for_file("/usr/share/backgrounds/pkg/art/SkyBlue.png")
    assert (sky["licence"], sky["copyright"], sky["matched"]) == (
        "CC-BY-SA-4.0", "2021 Painter", "Files: art/Sky*.png")
    assert lic.for_file("/usr/share/pkg/art/sea.jpg")["licence"] == "CC-BY-SA-4.0"
    assert lic.for_file("/usr/share/pkg/other/x.png")["licence"] == "GPL-2+"
    (doc / "copyright").write_text("Free-form text, no Format line.\n")
    assert package_licence("pkg", tmp_path / "doc").for_file("/a.png")["licence"].startswith(
        "unknown: read ")


def _installed(pkg: str) -> bool:
    if shutil.which("dpkg-query") is None:
        return False
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return r.returncode == 0 and "install ok installed" in r.stdout


@pytest.mark.parametrize("pkg, licence", [
    ("openclipart-png", "CC-PDDC"), ("mate-backgrounds", "GPL-2+")])
def test_a_debian_package(pkg: str, licence: str, tmp_path: Path) -> None:
    if not _installed(pkg):
        pytest.skip(f"Debian package {pkg} not installed (apt-get install {pkg})")
    man = builder.build([pkg], tmp_path / "set", size=SIZE, crops=2, limit=12, progress=False)
    assert man["sources"][0]["kind"] == "package" and man["sources"][0]["version"]
    assert man["sources"][0]["copyright_file"] == f"/usr/share/doc/{pkg}/copyright"
    assert man["images"] and all(r["package"] == pkg for r in man["images"])
    assert all(r["source"].startswith("/usr/share/") for r in man["images"])
    assert any(r["licence"].startswith(licence) for r in man["images"])
    assert all(r["licence"] and not r["licence"].startswith("unknown") for r in man["images"])

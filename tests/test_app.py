"""The whole server process: start-up refuses broken patches, weights and options with a
message that names the file; SIGTERM and SIGINT stop it cleanly."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from models import weights
from models.gan import GANConfig, Generator
from tests.conftest import ROOT, start_server


def start_fails(patch: Path, *args: str) -> str:
    """Run the server, expect exit 2 before any ready line; return stderr."""
    proc = subprocess.run([sys.executable, str(ROOT / "server.py"), "--patch", str(patch),
                           "--port", "0", "--osc-port", "0", "--oscquery-port", "0", *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""  # no ready line
    assert "Traceback" not in proc.stderr
    return proc.stderr


def write_patch(tmp_path: Path, body: str) -> Path:
    patch = tmp_path / "p.toml"
    patch.write_text(body)
    return patch


def visual(model: str, extra: str = "") -> str:
    return f'[voices.visual]\nkind = "visual"\nmodel = "{model}"\nresolution = 64\n{extra}'


@pytest.fixture
def tiny_weights(tmp_path: Path) -> Path:
    cfg = GANConfig(resolution=64, g_base=4, g_max=16)
    card = {"kind": "gan", "arch": cfg.to_dict(), "trained": True, "name": "tiny"}
    weights.save(Generator(cfg), str(tmp_path / "tiny"), card)
    return tmp_path / "tiny"


@pytest.mark.parametrize(("body", "words"), [
    ("[voices.visual\nkind=", ["not valid TOML"]),
    ('[voices.visual]\nkind = "laser"\n', ["'laser'", "visual, music, text"]),
    ('[lights]\nx = 1\n', ["unknown section", "lights"]),
    (visual("random", "speed = 99\n"), ["/visual/speed", "99", "[0, 8]"]),
    (visual("random", "wobble = 1\n"), ["unknown parameter", "/visual/wobble"]),
    (visual("nosuchmodel"), ["weights card not found", "nosuchmodel.json"]),
])
def test_bad_patch_stops_startup_naming_file_and_problem(tmp_path, body, words) -> None:
    patch = write_patch(tmp_path, body)
    err = start_fails(patch)
    for word in words:
        assert word in err, err
    assert "p.toml" in err or "nosuchmodel" in err


def test_missing_patch_file(tmp_path: Path) -> None:
    err = start_fails(tmp_path / "absent.toml")
    assert "patch file not found" in err and "absent.toml" in err


def test_truncated_weights_stop_startup(tmp_path: Path, tiny_weights: Path) -> None:
    st = tiny_weights.with_suffix(".safetensors")
    st.write_bytes(st.read_bytes()[:200])
    err = start_fails(write_patch(tmp_path, visual(str(tiny_weights))))
    assert "corrupt or truncated" in err and "tiny.safetensors" in err


def test_weights_not_matching_card_stop_startup(tmp_path: Path, tiny_weights: Path) -> None:
    card = weights.load_card(str(tiny_weights))
    card["arch"]["g_max"] = 32
    tiny_weights.with_suffix(".json").write_text(__import__("json").dumps(card))
    err = start_fails(write_patch(tmp_path, visual(str(tiny_weights))))
    assert "do not match the network" in err


def test_good_weights_load_and_match(tiny_weights: Path) -> None:
    model, card = weights.load(str(tiny_weights))
    assert card["trained"] is True
    out = model(torch.zeros(2, 128))
    assert out.shape == (2, 3, 64, 64)


def test_bad_command_line_values(tmp_path: Path) -> None:
    patch = write_patch(tmp_path, visual("random"))
    assert "HOST:PORT" in start_fails(patch, "--osc-out", "nowhere")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        err = start_fails(patch, "--port", str(busy.getsockname()[1]))
    assert "cannot listen for HTTP/WebSocket" in err


def test_sigterm_and_sigint_stop_cleanly() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        srv = start_server()
        t0 = time.monotonic()
        assert srv.stop(sig) == 0
        assert time.monotonic() - t0 < 10  # generous; the contract's 5 s is in bench
        assert not any("Traceback" in line for line in srv.stderr_lines)

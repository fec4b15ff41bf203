"""The Pure Data patch under real `pd -nogui`: it sets the tempo on the server and receives notes,
recalls, morphs and stores presets, and learns a mapping."""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pythonosc.osc_message import OscMessage

from tests.conftest import PATCHES, ROOT, Server, poll_until, start_server
from tests.livetools import MUSIC, osc, send

PD = shutil.which("pd")
PATCH = ROOT / "patches" / "pd" / "livegen.pd"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(PD is None, reason="pd not found: install Debian puredata-core (make deps)")
def test_pd_patch_sets_tempo_and_receives_notes() -> None:
    pd_port = free_udp_port()
    server = start_server("--osc-out", f"127.0.0.1:{pd_port}", patch=MUSIC)
    lines: list[str] = []
    pd = subprocess.Popen(
        [PD, "-nogui", "-nosound", "-nomidi", "-stderr", "-open", str(PATCH),
         "-send", f"livegen-listen {pd_port}",
         "-send", f"livegen-connect 127.0.0.1 {server.ready['osc_port']}",
         "-send", "livegen-bpm 132", "-send", "livegen-temperature 0.5"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    threading.Thread(target=lambda: lines.extend(pd.stderr), daemon=True).start()
    try:
        deadline = time.monotonic() + 20
        while not (server.param("/clock/bpm") == 132
                   and sum(line.startswith("livegen-note:") for line in list(lines)) >= 5):
            assert time.monotonic() < deadline, "".join(lines[-20:])
            assert pd.poll() is None, "".join(lines)
            time.sleep(0.1)
        assert server.param("/music/temperature") == 0.5
        for line in [x for x in list(lines) if x.startswith("livegen-note:")]:
            pitch, velocity, duration = (float(v) for v in line.split(":", 1)[1].split())
            assert 0 <= pitch <= 127 and 1 <= velocity <= 127 and duration > 0
    finally:
        pd.terminate()
        pd.wait(5)
        assert server.stop() == 0


PRESETS = """
[presets.calm]
"/visual/speed" = 0.5

[presets.wild]
"/visual/speed" = 6.0
"""


def run_pd(server: Server, *sends: str, until: Callable[[], bool], timeout: float = 20) -> None:
    """Open the patch in `pd -nogui`, pointed at the server, with these -send messages; wait until."""
    args = [PD, "-nogui", "-nosound", "-nomidi", "-stderr", "-open", str(PATCH),
            "-send", f"livegen-listen {free_udp_port()}",
            "-send", f"livegen-connect 127.0.0.1 {server.ready['osc_port']}"]
    for message in sends:
        args += ["-send", message]
    pd = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(pd.stderr), daemon=True).start()
    try:
        deadline = time.monotonic() + timeout
        while not until():
            assert time.monotonic() < deadline, "".join(lines[-20:])
            assert pd.poll() is None, "".join(lines)
            time.sleep(0.05)
        assert not [line for line in lines if "error" in line.lower() or "no method" in line], lines
    finally:
        pd.terminate()
        pd.wait(5)


@pytest.mark.skipif(PD is None, reason="pd not found: install Debian puredata-core (make deps)")
def test_pd_recalls_morphs_stores_and_learns(tmp_path: Path) -> None:
    patch = tmp_path / "patch.toml"
    patch.write_text((PATCHES / "small.toml").read_text() + PRESETS)
    server = start_server(patch=patch)
    try:
        run_pd(server, "livegen-recall wild", until=lambda: server.param("/visual/speed") == 6.0)
        run_pd(server, "livegen-morph calm wild 0.25",
               until=lambda: server.param("/visual/speed") == pytest.approx(1.875))
        run_pd(server, "livegen-speed 2.5", "livegen-store mine",
               until=lambda: (tmp_path / ".livegen-state" / "presets.sqlite").exists()
               and server.param("/visual/speed") == 2.5)
        send(server, "/visual/speed", 7.0)
        poll_until(lambda: server.param("/visual/speed") == 7.0, 10)
        run_pd(server, "livegen-recall mine", until=lambda: server.param("/visual/speed") == 2.5)
        run_pd(server, "livegen-morph-between calm mine", "livegen-morph-position 0.5",
               until=lambda: server.param("/visual/speed") == pytest.approx(1.5))  # the slider

        replies: list[str] = []

        def fader() -> bool:  # a control the server does not know yet, moved until learned
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(1.0)
                s.sendto(osc("/my/fader", 0.25), server.osc)
                with contextlib.suppress(TimeoutError):
                    replies.append(OscMessage(s.recvfrom(65536)[0]).address)
            return "/learn/learned" in replies

        run_pd(server, "livegen-learn /visual/truncation", until=fader)
        send(server, "/my/fader", 0.25)  # now mapped: 0.25 of [0, 2]
        poll_until(lambda: server.param("/visual/truncation") == 0.5, 10)
        assert server.param("/visual/truncation") == 0.5
        run_pd(server, "livegen-learn-save bang", until=lambda: "/my/fader" in patch.read_text())
        assert 'target = "/visual/truncation"' in patch.read_text()
    finally:
        assert server.stop() == 0


def test_the_diagram_is_drawn_from_the_patch() -> None:
    """patches/pd/livegen.svg is what diagram.py draws from livegen.pd today."""
    spec = importlib.util.spec_from_file_location("pd_diagram", PATCH.with_name("diagram.py"))
    assert spec and spec.loader
    diagram = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(diagram)
    drawn = diagram.svg(PATCH.read_text())
    assert drawn == PATCH.with_suffix(".svg").read_text()
    assert drawn.count("<rect") > 50 and "oscformat preset morph" in drawn

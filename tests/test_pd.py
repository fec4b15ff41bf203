"""The Pure Data patch under real `pd -nogui`: it sets the tempo on the server and receives notes."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time

import pytest

from tests.conftest import ROOT, start_server
from tests.livetools import MUSIC

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

"""Inside a network namespace (tests/netns.py): Janus with deploy/janus, livegen pushing VP8 RTP to
its mountpoint, Chromium watching through Janus; prints one JSON line of what the page measured."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.conftest import ROOT, start_server
from tests.outputs_tools import visual_voice
from tests.webrtc_check import watch_server

PATCH = visual_voice() + """
[outputs.audience]
kind = "janus"
voice = "visual"
rtp = "127.0.0.1:5004"
"""
JANUS_API = "http://127.0.0.1:8088/janus"


def start_janus(log: Path) -> subprocess.Popen:
    """deploy/janus/run.sh, once its HTTP API answers /janus/info."""
    proc = subprocess.Popen([str(ROOT / "deploy" / "janus" / "run.sh")], stdout=log.open("w"),
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{JANUS_API}/info", timeout=1) as reply:
                if json.load(reply).get("janus") == "server_info":
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("janus did not answer /janus/info:\n" + log.read_text()[-3000:])


def main(args: list[str]) -> None:
    seconds = float(args[0]) if args else 3.0
    with tempfile.TemporaryDirectory() as tmp:
        janus = start_janus(Path(tmp) / "janus.log")
        patch = Path(tmp) / "janus.toml"
        patch.write_text(PATCH)
        server = start_server(patch=patch)
        try:
            result = watch_server(server, f"voice=visual&janus={JANUS_API}&mount=1", "audience", seconds)
        finally:
            try:
                server.stop()
            finally:  # Janus goes even when the server is slow to stop
                janus.terminate()
                janus.wait(10)
        result["janus_log"] = (Path(tmp) / "janus.log").read_text()[-2000:] if "first" not in result else ""
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])

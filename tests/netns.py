"""Run a check in a network namespace of its own: loopback up and a veth pair with both ends inside.

WebRTC's ICE (aioice, Chromium) leaves loopback addresses out of its candidates, so on a machine
with only `lo` no candidate pair is found. Inside the namespace there is a non-loopback interface
and nothing can leave the machine. `python -m tests.netns MODULE ARGS...` (as root) sets it up and
runs MODULE's main(ARGS); tests call run_in_netns(), which answers with the check's JSON line.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from typing import Any

from tests.conftest import ROOT

ADDRESSES = ("10.231.0.1/24", "10.231.0.2/24")


def why_not() -> str | None:
    """Why a network namespace cannot be made here, or None."""
    if os.geteuid() != 0:
        return "needs root to make a network namespace (unshare -n) with a veth pair"
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (util-linux, iproute2)"
    probe = subprocess.run(["unshare", "-n", "ip", "link", "add", "lgp0", "type", "veth", "peer", "name",
                            "lgp1"], capture_output=True, text=True, timeout=10)
    if probe.returncode != 0:
        return f"cannot make a network namespace with a veth pair here: {probe.stderr.strip()}"
    return None


def checked(module: str, *args: str) -> dict[str, Any]:
    """run_in_netns, or skip the test saying why a namespace cannot be made here."""
    import pytest

    reason = why_not()
    if reason:
        pytest.skip(reason)
    return run_in_netns(module, *args)


def setup() -> None:
    """Inside the namespace: lo up, veth lg0/lg1 up with an address each."""
    for cmd in (["ip", "link", "set", "lo", "up"],
                ["ip", "link", "add", "lg0", "type", "veth", "peer", "name", "lg1"],
                ["ip", "addr", "add", ADDRESSES[0], "dev", "lg0"],
                ["ip", "addr", "add", ADDRESSES[1], "dev", "lg1"],
                ["ip", "link", "set", "lg0", "up"], ["ip", "link", "set", "lg1", "up"]):
        subprocess.run(cmd, check=True, capture_output=True, timeout=10)


def run_in_netns(module: str, *args: str, timeout: float = 180) -> dict[str, Any]:
    """Run MODULE's main(args) in a fresh network namespace; its last stdout line as JSON."""
    proc = subprocess.run(["unshare", "-n", sys.executable, "-m", "tests.netns", module, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise AssertionError(f"{module} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                             f"{proc.stderr[-5000:]}")
    return json.loads(lines[-1])


if __name__ == "__main__":
    setup()
    importlib.import_module(sys.argv[1]).main(sys.argv[2:])

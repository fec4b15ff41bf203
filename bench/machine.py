"""What the benchmark ran on: CPU, cores, load, torch, GPU and the git commit."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent


def cpu_model() -> str:
    """The CPU's model name, from /proc/cpuinfo or else the platform module."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, or None where the system has none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def git_commit() -> str:
    """$LIVEGEN_COMMIT when set, else HEAD's short hash ('+dirty' when the tree differs)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    given = os.environ.get("LIVEGEN_COMMIT")  # a copied tree (a GPU machine): its .git may be stale
    if given:
        return given
    try:
        head = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        head, dirty = "", ""
    if not head:
        return "unknown"
    return head + ("+dirty" if dirty else "")


def gpu_name() -> str | None:
    """The first CUDA device's name, or None without one."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return None


def info(device: str) -> dict[str, Any]:
    """The machine: CPU, cores, Python, torch, GPU, device, git commit and load average."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "gpu": gpu_name(),
        "device": device,
        "commit": git_commit(),
        "load_avg": load_average(),
    }

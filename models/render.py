"""A MIDI file rendered to audio through FluidSynth and a General MIDI font, at one loudness."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")  # Debian's fluid-soundfont-gm
TARGET_RMS_DBFS = -20.0
BASE_GAIN = 0.2  # FluidSynth's own default
RATE = 22050


class RenderError(RuntimeError):
    """FluidSynth or its font is missing, or it failed."""


def _fluidsynth(midi: Path, out: Path, gain: float, soundfont: Path) -> None:
    exe = shutil.which("fluidsynth")
    if exe is None or not soundfont.is_file():
        raise RenderError("rendering audio needs Debian's fluidsynth and fluid-soundfont-gm "
                          "(make deps installs them)")
    proc = subprocess.run([exe, "-ni", "-q", "-g", f"{gain:.4f}", "-r", str(RATE), "-F", str(out),
                           str(soundfont), str(midi)], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 or not out.is_file():
        raise RenderError(f"fluidsynth failed on {midi}: {proc.stderr.strip()[-300:]}")


def rms_dbfs(path: Path) -> float:
    """RMS level of a 16-bit WAV file in dB below full scale."""
    with wave.open(str(path)) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64) / 32768
    return float(20 * np.log10(max(np.sqrt(np.mean(x**2)) if len(x) else 0.0, 1e-9)))


def render(midi: Path, out: Path, soundfont: Path = SOUNDFONT) -> float:
    """Render midi to out (.wav, .flac or .oga by its suffix) at TARGET_RMS_DBFS; its level.

    FluidSynth's gain is linear up to its cap of 10, so a very soft part may stay below it.
    """
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.wav"
        _fluidsynth(midi, probe, BASE_GAIN, soundfont)
        gain = BASE_GAIN * 10 ** ((TARGET_RMS_DBFS - rms_dbfs(probe)) / 20)
        final = Path(tmp) / "final.wav"
        _fluidsynth(midi, final, min(gain, 10.0), soundfont)
        level = rms_dbfs(final)
        if out.suffix == ".wav":
            shutil.copyfile(final, out)
        else:
            _fluidsynth(midi, out, min(gain, 10.0), soundfont)
    return round(level, 2)

"""MIDI rendered through the real FluidSynth at one loudness (models.render)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from models.music_rnn import Note
from models.render import SOUNDFONT, TARGET_RMS_DBFS, RenderError, render, rms_dbfs
from models.sample import write_midi

needs_fluidsynth = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not SOUNDFONT.exists(),
    reason="needs Debian fluidsynth and fluid-soundfont-gm (make deps installs them)")


def part(velocity: int) -> list[tuple[str, list]]:
    return [("bach", [Note(60 + 4 * (k % 3), velocity, k * 0.5, 0.5) for k in range(16)])]


@needs_fluidsynth
def test_a_soft_and_a_loud_part_come_out_at_one_loudness(tmp_path: Path) -> None:
    levels = []
    for velocity in (60, 120):  # (FluidSynth's gain tops out at 10: a very soft part stays soft)
        midi = tmp_path / f"v{velocity}.mid"
        write_midi(part(velocity), midi, bpm=120)
        out = tmp_path / f"v{velocity}.wav"
        assert render(midi, out) == pytest.approx(TARGET_RMS_DBFS, abs=1.0)
        levels.append(rms_dbfs(out))
    assert abs(levels[0] - levels[1]) < 1.0
    ogg = tmp_path / "v60.oga"
    render(tmp_path / "v60.mid", ogg)
    assert ogg.read_bytes()[:4] == b"OggS"


def test_a_missing_font_is_a_clear_error(tmp_path: Path) -> None:
    midi = tmp_path / "p.mid"
    write_midi(part(80), midi, bpm=120)
    with pytest.raises(RenderError, match="fluid-soundfont-gm"):
        render(midi, tmp_path / "p.wav", soundfont=tmp_path / "nosuch.sf2")

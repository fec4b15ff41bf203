"""The room's audio: Chromium's fake microphone plays a WAV the test writes (silence, then a loud
beat); the page's analysis sets /audio/*, low in the silence, high on the beat."""

from __future__ import annotations

import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import PATCHES, Server
from tests.livetools import send
from tests.webtools import launch, needs_chromium, open_page, patch_in, poll, serving

pytestmark = needs_chromium

RATE = 48000
SILENCE_S = 3.0
BEATS = 12  # at 120 bpm: six seconds of beat
AUDIO = ("low", "mid", "high", "loudness", "onset")


def write_beat_wav(path: Path) -> Path:
    """Mono 16-bit: SILENCE_S of digital silence, then a kick (a falling 60 Hz sine) with a noise
    burst on every beat, loud enough to reach every band."""
    rng = np.random.default_rng(0)
    beat = np.zeros(RATE // 2)
    t = np.arange(int(0.15 * RATE)) / RATE
    beat[: t.size] += 0.8 * np.sin(2 * np.pi * (60 + 40 * np.exp(-t * 30)) * t) * np.exp(-t * 18)
    beat[: t.size] += 0.5 * rng.standard_normal(t.size) * np.exp(-t * 40)
    signal = np.concatenate([np.zeros(int(SILENCE_S * RATE)), np.tile(beat, BEATS)])
    pcm = (np.clip(signal, -1, 1) * 32000).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    return path


@pytest.fixture(scope="module")
def wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_beat_wav(tmp_path_factory.mktemp("audio") / "beat.wav")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from serving(patch=patch_in(tmp_path_factory.mktemp("audio-server"), PATCHES / "small.toml"))


@pytest.fixture(scope="module")
def browser(wav: Path) -> Iterator[Any]:
    # The autoplay flag is the one docs/gallery.md gives a kiosk: audio without a click.
    yield from launch(["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                       f"--use-file-for-fake-audio-capture={wav}",
                       "--autoplay-policy=no-user-gesture-required"])


def audio_values(server: Server) -> dict[str, float]:
    params = server.get_json("/schema")["params"]
    return {p["path"].split("/")[-1]: p["value"] for p in params if p["path"].startswith("/audio/")}


def test_audio_params_are_in_the_schema_and_take_osc(server: Server) -> None:
    params = {p["path"]: p for p in server.get_json("/schema")["params"]}
    for name in AUDIO:
        p = params[f"/audio/{name}"]
        assert p["type"] == "float" and p["range"] == [0, 1] and p["value"] == 0
    # Any client may feed them (a hardware analyser over OSC, say); a bad value changes nothing.
    assert send(server, "/audio/low", 0.5, reply=True) is None
    assert audio_values(server)["low"] == 0.5
    refused = send(server, "/audio/low", 1.5, reply=True)
    assert refused == "/audio/low: 1.5 refused, expected a number in [0, 1]"
    assert audio_values(server)["low"] == 0.5
    send(server, "/audio/low", 0.0)
    assert poll(lambda: audio_values(server)["low"], lambda v: v == 0) == 0


def test_the_microphone_sets_audio_params_low_in_silence_and_high_on_the_beat(
        server: Server, browser: Any) -> None:
    page, console = open_page(browser, server.http + "/")
    page.click("#mic")
    page.wait_for_selector("#mic[aria-pressed='true']", timeout=10000)
    start = time.monotonic()
    quiet: list[dict[str, float]] = []
    loud: list[dict[str, float]] = []
    while time.monotonic() - start < SILENCE_S + 4.0:
        at = time.monotonic() - start
        values = audio_values(server)
        if at < SILENCE_S - 1.0:
            quiet.append(values)
        elif at > SILENCE_S + 1.0:
            loud.append(values)
        time.sleep(0.1)
    assert quiet and loud
    for name in AUDIO:
        assert max(v[name] for v in quiet) < 0.1, (name, quiet)
        assert max(v[name] for v in loud) > 0.3, (name, [v[name] for v in loud])
    # The page's own sliders follow the values it sends.
    assert page.locator(".control[data-path='/audio/loudness']").count() == 1
    page.click("#mic")  # off: every value back to 0
    page.wait_for_selector("#mic[aria-pressed='false']")
    deadline = time.monotonic() + 5
    while any(audio_values(server).values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(audio_values(server).values())
    assert console.real() == []
    page.close()


def test_a_kiosk_with_mic_listens_without_a_click(server: Server, browser: Any) -> None:
    page, console = open_page(browser, server.http + "/?kiosk&mic")
    page.wait_for_selector("#mic[aria-pressed='true']", state="attached", timeout=10000)
    deadline = time.monotonic() + SILENCE_S + 6
    while audio_values(server)["loudness"] < 0.3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert audio_values(server)["loudness"] >= 0.3
    assert console.real() == []
    page.close()
    # The page is gone: what it fed does not stay stuck at its last level.
    deadline = time.monotonic() + 5
    while any(audio_values(server).values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(audio_values(server).values())

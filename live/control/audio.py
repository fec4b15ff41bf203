"""The room's audio as parameters: /audio/low|mid|high|loudness|onset, set by the page's microphone.

The web page analyses the microphone in the browser and sets these; they are plain parameters so
that anything reading the registry (mappings, modulators, OSCQuery, other pages) can follow them.
"""

from __future__ import annotations

from live.params import FloatParam, Registry

AUDIO_PARAMS = {
    "low": "level of the room's low band (20-250 Hz), 0 to 1, from the page's microphone",
    "mid": "level of the room's mid band (250-2000 Hz), 0 to 1, from the page's microphone",
    "high": "level of the room's high band (2-8 kHz), 0 to 1, from the page's microphone",
    "loudness": "loudness of the room (RMS, -60 to 0 dBFS as 0 to 1), from the page's microphone",
    "onset": "1 on an onset (a sudden rise in level) in the room, decaying to 0",
}


def add_audio_params(registry: Registry, prefix: str = "/audio") -> list[str]:
    """Add the audio feature parameters (0 to 1, no slew: the page smooths); their paths."""
    paths = []
    for name, doc in AUDIO_PARAMS.items():
        paths.append(registry.add(FloatParam(f"{prefix}/{name}", 0.0, doc, lo=0.0, hi=1.0)).path)
    return paths

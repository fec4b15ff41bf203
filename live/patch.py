"""Performance patches: TOML files naming the server settings, the voices and their parameters."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VOICE_KINDS = ("visual", "music", "text", "input", "draw", "style")
# Keys of a voice table that configure the voice rather than set one of its parameters.
STRUCTURAL_KEYS = {"kind", "model", "resolution", "nz", "lookahead_beats", "midi_port",
                   "delivery", "device", "midi_in", "source", "upscaler"}


SERVER_KEYS = ("host", "port", "osc_port", "oscquery_port", "osc_out", "device", "record", "seed",
               "state_dir", "watch", "token", "origins", "osc_allow", "public_frames",
               "control_per_s")


class PatchError(Exception):
    """A patch file is missing, does not parse, or names something that does not exist."""


@dataclass
class Patch:
    """A parsed patch: server settings, clock settings and voice tables in file order."""

    path: Path
    server: dict[str, Any] = field(default_factory=dict)
    clock: dict[str, Any] = field(default_factory=dict)
    voices: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The control layer's tables (live/control validates them against the registry).
    mappings: list[dict[str, Any]] = field(default_factory=list)
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    modulators: list[dict[str, Any]] = field(default_factory=list)
    control: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # [outputs.NAME] (live/outputs)
    text: str = ""  # the file as read, to name the line of a refused key

    def param_values(self) -> list[tuple[str, Any]]:
        """(path, value) for every parameter the patch sets, in file order."""
        return [(path, value) for path, value, _, _ in self.param_keys()]

    def param_keys(self) -> list[tuple[str, Any, str, str]]:
        """(path, value, table, key) for every parameter the patch sets, in file order."""
        out = [(f"/clock/{k}", v, "clock", k) for k, v in self.clock.items()]
        for name, table in self.voices.items():
            out += [(f"/{name}/{k}", v, f"voices.{name}", k) for k, v in table.items()
                    if k not in STRUCTURAL_KEYS]
        return out

    def where(self, table: str, key: str | None = None) -> str:
        """'patch file F, line N, key T.K' (the line where the file has it, if it can be found)."""
        line = line_of(self.text, table, key)
        at = f", line {line}" if line is not None else ""
        return f"patch file {self.path}{at}, key {table}.{key}" if key else \
            f"patch file {self.path}{at}, [{table}]"


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def line_of(text: str, table: str, key: str | None = None) -> int | None:
    """The line (from 1) of `key` in the TOML table `table` (dotted), or of the table's header."""
    want = [part.strip().strip('"\'') for part in table.split(".")]
    current: list[str] = []
    header: int | None = None
    for number, line in enumerate(text.splitlines(), 1):
        match = _HEADER.match(line)
        if match:
            current = [part.strip().strip('"\'') for part in match.group(1).split(".")]
            if current == want and header is None:
                header = number
                if key is None:
                    return number
            continue
        if key is not None and current == want and \
                re.match(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=", line):
            return number
    return header


def load_patch(path: str | Path) -> Patch:
    """Parse a patch, or raise PatchError naming the file and the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise PatchError(f"patch file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise PatchError(f"patch file {path} cannot be read: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise PatchError(f"patch file {path} is not valid TOML: {e}") from None
    unknown = set(data) - {"server", "clock", "voices", "outputs", "title", "description",
                           *CONTROL_SECTIONS}
    if unknown:
        raise PatchError(f"patch file {path}: unknown section(s) {sorted(unknown)}; "
                         "expected server, clock, voices, outputs, " + ", ".join(CONTROL_SECTIONS))
    outputs = data.get("outputs", {})
    if not isinstance(outputs, dict) or not all(isinstance(t, dict) for t in outputs.values()):
        raise PatchError(f"patch file {path}: outputs must be [outputs.NAME] tables")
    _check_control_shapes(path, data)
    server = data.get("server", {})
    if not isinstance(server, dict):
        raise PatchError(f"patch file {path}: server must be a table ([server])")
    for key in server:
        if key not in SERVER_KEYS:
            line = line_of(text, "server", key)
            raise PatchError(f"patch file {path}{f', line {line}' if line else ''}, key server.{key}: "
                             f"unknown key; [server] takes {', '.join(SERVER_KEYS)}")
    voices = data.get("voices", {})
    if not isinstance(voices, dict) or not all(isinstance(v, dict) for v in voices.values()):
        raise PatchError(f"patch file {path}: [voices.NAME] tables expected")
    for name, table in voices.items():
        if not name.isidentifier() or name in ("clock", "preset", "learn", "outputs"):
            raise PatchError(f"patch file {path}: voice name {name!r} must be a plain word "
                             "other than clock, preset, learn and outputs")
        if table.get("kind") not in VOICE_KINDS:
            line = line_of(text, f"voices.{name}", "kind")
            raise PatchError(f"patch file {path}{f', line {line}' if line else ''}: voice {name!r} has kind "
                             f"{table.get('kind')!r}, expected one of {', '.join(VOICE_KINDS)}")
    return Patch(path, dict(data.get("server", {})), dict(data.get("clock", {})), voices,
                 list(data.get("mappings", [])), dict(data.get("presets", {})),
                 list(data.get("modulators", [])), dict(data.get("control", {})), dict(outputs), text)


CONTROL_SECTIONS = ("mappings", "presets", "modulators", "control")


def _check_control_shapes(path: Path, data: dict[str, Any]) -> None:
    """[[mappings]] and [[modulators]] are arrays of tables, [presets.NAME] tables, [control] a table."""
    for key in ("mappings", "modulators"):
        items = data.get(key, [])
        if not isinstance(items, list) or not all(isinstance(t, dict) for t in items):
            raise PatchError(f"patch file {path}: {key} must be an array of tables ([[{key}]])")
    presets = data.get("presets", {})
    if not isinstance(presets, dict) or not all(isinstance(t, dict) for t in presets.values()):
        raise PatchError(f"patch file {path}: presets must be [presets.NAME] tables")
    if not isinstance(data.get("control", {}), dict):
        raise PatchError(f"patch file {path}: control must be a table ([control])")

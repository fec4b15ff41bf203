"""Learn: `/learn/start PATH`, then the next unknown OSC address (or MIDI CC, note, pitch bend)
that arrives becomes a mapping to PATH; `/learn/save` appends it to the patch file as TOML."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from live.control.mappings import Mapping, parse_mapping, to_toml
from live.control.timing import ControlError
from live.params import BoolParam, Registry, VectorParam


class Learn:
    """One learn at a time; learned mappings wait in `unsaved` until /learn/save."""

    def __init__(self, registry: Registry, patch_path: Path) -> None:
        self.registry = registry
        self.patch_path = patch_path
        self.target: str | None = None
        self.sender: tuple[str, int] | None = None
        self.unsaved: list[Mapping] = []

    def start(self, path: Any, sender: tuple[str, int] | None) -> None:
        """Learn a mapping to path from whatever moves next."""
        self.registry.lookup(path)  # ParamError for an unknown path
        self.target, self.sender = path, sender

    def cancel(self) -> None:
        """Stop learning; nothing is mapped."""
        self.target = self.sender = None

    @property
    def active(self) -> bool:
        """Whether a learn is waiting for a source."""
        return self.target is not None

    def table_for(self, source: dict[str, Any]) -> dict[str, Any]:
        """The mapping table for a source moving now (bools toggle, vectors take element 0)."""
        assert self.target is not None
        table = source | {"target": self.target}
        param = self.registry[self.target]
        if isinstance(param, BoolParam):
            table["action"] = "toggle"
        if isinstance(param, VectorParam):
            table["element"] = 0
        return table

    def take_osc(self, address: str) -> Mapping | None:
        """The mapping learned from an OSC address, if learning."""
        return self._take({"osc": address}) if self.active else None

    def take_midi(self, msg: Any) -> Mapping | None:
        """The mapping learned from a MIDI message that moves (CC, note-on, pitch bend), if learning."""
        if not self.active:
            return None
        if msg.type == "control_change":
            return self._take({"cc": msg.control, "channel": msg.channel + 1})
        if msg.type == "note_on" and msg.velocity > 0:
            return self._take({"note": msg.note, "channel": msg.channel + 1})
        if msg.type == "pitchwheel":
            return self._take({"pitchbend": True, "channel": msg.channel + 1})
        return None

    def _take(self, source: dict[str, Any]) -> Mapping:
        mapping = parse_mapping(self.table_for(source), self.registry)
        self.unsaved.append(mapping)
        self.target = None
        return mapping

    def save(self) -> int:
        """Append every unsaved mapping to the patch file (the rest of it unchanged); how many."""
        if not self.unsaved:
            return 0
        text = self.patch_path.read_text(encoding="utf-8")
        blocks = "".join("\n" + to_toml(m, f"learned: {m.source.describe()} -> {m.target}")
                         for m in self.unsaved)
        new = text + ("" if text.endswith("\n") or not text else "\n") + blocks
        try:
            tomllib.loads(new)
        except tomllib.TOMLDecodeError as e:  # an inline `mappings = [...]` array, say
            raise ControlError(f"/learn/save: {self.patch_path} would not be valid TOML with the "
                               f"learned mappings appended ({e}); nothing written") from None
        tmp = self.patch_path.with_name(self.patch_path.name + ".tmp")
        tmp.write_text(new, encoding="utf-8")
        tmp.replace(self.patch_path)
        count, self.unsaved = len(self.unsaved), []
        return count

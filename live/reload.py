"""Hot reload: what changes between two patches, the watch on the file, and the patch's values.

The app validates a new patch on a trial copy of the registry before it touches anything (see
App.reload); this module says which voices stay, which are new, replaced or gone, and which
values the new file changed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from live.params import ParamError, Registry
from live.patch import STRUCTURAL_KEYS, Patch, PatchError

log = logging.getLogger("livegen.reload")

WATCH_EVERY_S = 0.5  # how often the patch file's size and time are looked at
# [server] keys that a running server cannot change: the sockets and the device are open.
RESTART_KEYS = ("host", "port", "osc_port", "oscquery_port", "osc_out", "device")


@dataclass
class ReloadPlan:
    """Voices by fate, and the values to set, from the running patch to a new one."""

    patch: Patch
    kept: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # same name, another kind, model or shape
    removed: list[str] = field(default_factory=list)
    values: list[tuple[str, Any, str, str]] = field(default_factory=list)  # path, value, table, key
    needs_restart: list[str] = field(default_factory=list)  # [server] keys that stay as they were

    @property
    def fresh(self) -> list[str]:
        """The voices to build and load: new and replaced, in the new file's order."""
        return [n for n in self.patch.voices if n in self.added or n in self.replaced]

    def summary(self) -> dict[str, Any]:
        """What a client is told once the reload is applied."""
        return {"patch": str(self.patch.path), "kept": self.kept, "added": self.added,
                "replaced": self.replaced, "removed": self.removed, "values": len(self.values),
                "needs_restart": self.needs_restart}


def structure(table: dict[str, Any]) -> dict[str, Any]:
    """The keys of a voice table that build the voice (a change means a new voice)."""
    return {k: v for k, v in table.items() if k in STRUCTURAL_KEYS}


def plan_reload(old: Patch, new: Patch) -> ReloadPlan:
    """Which voices stay, come, go or are rebuilt; the values the new file sets anew.

    A kept voice gets only the values that differ from the old file (or that the old file did
    not set), so what a performer moved live and the file did not change stays where it is.
    """
    plan = ReloadPlan(new)
    for name, table in new.voices.items():
        if name not in old.voices:
            plan.added.append(name)
        elif structure(old.voices[name]) != structure(table):
            plan.replaced.append(name)
        else:
            plan.kept.append(name)
    plan.removed = [n for n in old.voices if n not in new.voices]
    before = {path: value for path, value in old.param_values()}
    fresh = set(plan.fresh)
    for path, value, where, key in new.param_keys():
        voice = where.removeprefix("voices.") if where.startswith("voices.") else None
        if voice in fresh or path not in before or before[path] != value:
            plan.values.append((path, value, where, key))
    plan.needs_restart = [k for k in RESTART_KEYS if old.server.get(k) != new.server.get(k)]
    return plan


def apply_values(patch: Patch, registry: Registry, values: list[tuple[str, Any, str, str]],
                 source: str = "patch") -> None:
    """Set each value; PatchError naming file, line and key for the first one refused."""
    for path, value, table, key in values:
        try:
            registry.set(path, value, source=source)
        except ParamError as e:
            raise PatchError(f"{patch.where(table, key)}: {e}") from None


class PatchWatcher:
    """Calls back when the patch file's modification time or size changes (polled: no inotify,
    so it works on every file system, network shares included)."""

    def __init__(self, path: Path, changed: Callable[[], Awaitable[object]]) -> None:
        self.path = path
        self.changed = changed
        self._seen = self._look()
        self._task: asyncio.Task | None = None

    def _look(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None  # a save in progress (editors replace the file); looked at again soon
        return st.st_mtime_ns, st.st_size

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def follow(self, path: Path) -> None:
        """Watch another file from now on (after /patch/load)."""
        self.path, self._seen = path, None
        self._seen = self._look()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(WATCH_EVERY_S)
            now = self._look()
            if now is None or now == self._seen:
                continue
            self._seen = now
            try:
                await self.changed()
            except Exception:  # a failed reload is reported by the app; the watch goes on
                log.exception("reload after a change of %s failed", self.path)

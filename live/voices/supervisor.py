"""Voice supervision: a voice whose work raises, or whose thread dies, is restarted with backoff.

Every voice kind reports its faults here, from whichever thread saw them:
- a job on the engine thread (music, text, draw) that raises: ModelVoice.post_job's callback;
- a visual stream (visual, ghost) whose latent, forward pass or delivery raises: the engine's
  `on_fault`; the style voices' batched job, for each voice in the failing batch;
- a thread that dies: the engine thread (the engine names the streams it was rendering, and the
  watchdog starts a fresh thread on the same models at once, so the other voices go on), or a
  voice's own thread (a voice with an `alive()` method, such as the input voice).

A failed voice is suspended (`suspend()` if it has one, else `stop()`), and after a backoff of
BACKOFF_S doubling with each failure in the last PARK_WINDOW_S (capped at BACKOFF_MAX_S) it is
begun again from a fresh generator; its models stay loaded. The other voices never stop. The
PARK_FAILURES-th failure within PARK_WINDOW_S parks the voice: it stays stopped until the patch
is reloaded (a kept voice is begun again, a rebuilt one is new). Each step is logged (so the
status feed's `/status/error` carries it), published as a status `voice` event (OSC
`/status/voice s s i s`: name, state, failures, error) and shown in the voice's `/status` entry
(`supervision`).

Fault injection for tests and drills, off unless the environment sets it, read once at start:
LIVEGEN_FAULT="VOICE:AFTER[:TIMES[:HOW]]" (comma-separated for several voices). The named voice's
model (its `step()` or `forward()`) raises on its AFTER-th call of each run, TIMES runs in all
(default 1), then plays cleanly; a voice that names a `fault_point` fails in that method instead
(input: it has no model; draw: its sampler runs on numpy copies of the weights). HOW is `raise`
(RuntimeError, default) or `exit` (SystemExit, which ends the thread it runs on: the engine
thread, or the input voice's own).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from live.engine import Engine
    from live.status import StatusFeed

log = logging.getLogger("livegen.supervisor")

BACKOFF_S = 0.5  # the first restart waits this long
BACKOFF_MAX_S = 8.0  # doubling with each failure in the window, at most this
PARK_FAILURES = 5  # this many failures within PARK_WINDOW_S park the voice
PARK_WINDOW_S = 60.0
WATCH_S = 0.25  # how often threads are checked
FAULT_ENV = "LIVEGEN_FAULT"
Voices = Callable[[], dict[str, Any]]


def backoff(failures: int) -> float:
    """Seconds before the restart that follows the n-th failure in the window (n >= 1)."""
    return min(BACKOFF_S * 2 ** max(0, failures - 1), BACKOFF_MAX_S)


@dataclass
class Health:
    """One voice's supervision record."""

    state: str = "running"  # running, restarting or parked
    recent: deque[float] = field(default_factory=deque)  # monotonic times of failures in the window
    failures: int = 0  # every failure since start
    restarts: int = 0
    last_error: str | None = None
    last_failure_unix: float | None = None
    next_restart_s: float | None = None  # the backoff the pending restart waits

    def entry(self) -> dict[str, Any]:
        return {"state": self.state, "failures": self.failures, "recent_failures": len(self.recent),
                "restarts": self.restarts, "last_error": self.last_error,
                "last_failure_unix": self.last_failure_unix, "backoff_s": self.next_restart_s}


class Fault:
    """An injected fault (LIVEGEN_FAULT): the AFTER-th model call of a run raises, TIMES runs."""

    def __init__(self, voice: str, after: int, times: int, how: str) -> None:
        self.voice, self.after, self.times, self.how = voice, after, times, how
        self.calls = 0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kw: Any) -> Any:
            if self.times > 0:
                self.calls += 1
                if self.calls >= self.after:
                    self.calls, self.times = 0, self.times - 1
                    message = f"injected fault ({FAULT_ENV}) in voice {self.voice!r}'s model"
                    raise SystemExit(message) if self.how == "exit" else RuntimeError(message)
            return fn(*args, **kw)
        return call


def parse_faults(text: str) -> dict[str, Fault]:
    """LIVEGEN_FAULT's value: VOICE:AFTER[:TIMES[:HOW]], comma-separated; ValueError if malformed."""
    out: dict[str, Fault] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        parts = item.split(":")
        try:
            voice, after = parts[0], int(parts[1])
            times = int(parts[2]) if len(parts) > 2 else 1
            how = parts[3] if len(parts) > 3 else "raise"
        except (IndexError, ValueError):
            raise ValueError(f"{FAULT_ENV}={text!r}: expected VOICE:AFTER[:TIMES[:HOW]]") from None
        if not voice or after < 1 or times < 0 or how not in ("raise", "exit") or len(parts) > 4:
            raise ValueError(f"{FAULT_ENV}={text!r}: expected VOICE:AFTER[:TIMES[:HOW]], AFTER >= 1, "
                             "HOW raise or exit")
        out[voice] = Fault(voice, after, times, how)
    return out


class Supervisor:
    """Watches every voice of one app; see the module docstring."""

    def __init__(self, loop: asyncio.AbstractEventLoop, voices: Voices, engine: Engine,
                 status: StatusFeed | None = None) -> None:
        self.loop = loop
        self.voices = voices  # the app's current voices (they change on reload)
        self.engine = engine
        self.status_feed = status
        self.health: dict[str, Health] = {}
        self.engine_restarts = 0
        self.faults = parse_faults(os.environ.get(FAULT_ENV, ""))
        self._tasks: set[asyncio.Task] = set()
        self._watch: asyncio.Task | None = None
        engine.on_fault = self.stream_fault

    # -- start, stop ----------------------------------------------------------------------
    def start(self) -> None:
        """Arm injected faults and watch the threads (after every voice has begun)."""
        for name, fault in self.faults.items():
            self._arm(name, fault)
        self._watch = self.loop.create_task(self._watch_threads())

    def stop(self) -> None:
        for task in [*self._tasks, *([self._watch] if self._watch else [])]:
            task.cancel()

    def _arm(self, name: str, fault: Fault) -> None:
        voice = self.voices().get(name)
        target: Any = self.engine.models.get(getattr(voice, "engine_key", ""))
        if point := getattr(voice, "fault_point", None):  # a voice whose model is not called names
            target, method = voice, str(point)  # its work (draw: numpy copies of the weights)
        elif target is not None:
            method = "step" if hasattr(target, "step") else "forward"  # the RNNs sample by step()
        else:
            log.warning("%s: voice %r has no model here; nothing armed", FAULT_ENV, name)
            return
        setattr(target, method, fault.wrap(getattr(target, method)))
        log.warning("%s: voice %r's %s() will fail on call %d, %d run(s) (%s)", FAULT_ENV, name,
                    method, fault.after, fault.times, fault.how)

    # -- faults, from any thread ------------------------------------------------------------
    def fault(self, name: str, error: BaseException | str) -> None:
        """A voice failed; safe from any thread."""
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        try:
            self.loop.call_soon_threadsafe(self._failed, name, text)
        except RuntimeError:  # the loop is closed: shutting down
            pass

    def stream_fault(self, stream: Any, error: BaseException) -> None:
        """The engine's on_fault: a stream (a voice, or a crossfade's ghost of one) failed."""
        voice = getattr(stream, "voice", stream)  # a Ghost belongs to its voice
        self.fault(voice if isinstance(voice, str) else str(getattr(voice, "name", "?")), error)

    def _failed(self, name: str, error: str) -> None:
        voice = self.voices().get(name)
        health = self.health.setdefault(name, Health())
        if voice is None or health.state != "running":
            return  # gone, or already being restarted: one failure per run
        now = time.monotonic()
        health.recent.append(now)
        while health.recent and health.recent[0] < now - PARK_WINDOW_S:
            health.recent.popleft()
        health.failures += 1
        health.last_error = error[:500]
        health.last_failure_unix = time.time()
        if len(health.recent) >= PARK_FAILURES:
            health.state, health.next_restart_s = "parked", None
            log.error("voice %s parked after %d failures in %.0f s (last: %s); it stays stopped "
                      "until the patch is reloaded", name, len(health.recent), PARK_WINDOW_S, error)
        else:
            health.state, health.next_restart_s = "restarting", backoff(len(health.recent))
            log.error("voice %s failed (%s); restarting it in %.1f s (failure %d of %d allowed in "
                      "%.0f s)", name, error, health.next_restart_s, len(health.recent),
                      PARK_FAILURES - 1, PARK_WINDOW_S)
        self._publish(name, health)
        self._spawn(self._restart(name, voice, health))

    def _spawn(self, coro: Any) -> None:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _restart(self, name: str, voice: Any, health: Health) -> None:
        suspend = getattr(voice, "suspend", None) or voice.stop
        try:
            await asyncio.wait_for(suspend(), 2.0)
        except Exception:
            log.exception("voice %s did not stop cleanly after its failure", name)
        if health.state == "parked" or health.next_restart_s is None:
            return
        await asyncio.sleep(health.next_restart_s)
        if self.voices().get(name) is not voice or health.state != "restarting":
            return  # rebuilt or un-parked by a reload meanwhile
        self._begin(name, voice, health)

    def _begin(self, name: str, voice: Any, health: Health) -> None:
        resume = getattr(voice, "resume", None) or voice.begin
        health.state, health.next_restart_s = "running", None
        try:
            resume()
        except Exception as e:
            log.exception("voice %s could not be begun again", name)
            health.state = "running"  # so that this counts as the run's failure
            self._failed(name, f"restart: {type(e).__name__}: {e}")
            return
        health.restarts += 1
        log.info("voice %s restarted (restart %d)", name, health.restarts)
        self._publish(name, health)

    def unpark(self, name: str) -> bool:
        """Begin a parked voice again with a clean window (a reload does, for the voices it
        keeps); whether it was parked."""
        voice, health = self.voices().get(name), self.health.get(name)
        if voice is None or health is None or health.state != "parked":
            return False
        health.recent.clear()
        log.warning("voice %s: begun again after being parked (the patch was reloaded)", name)
        self._begin(name, voice, health)
        return True

    def forget(self, name: str) -> None:
        """A voice removed or rebuilt by a reload starts with a clean record."""
        self.health.pop(name, None)

    def _publish(self, name: str, health: Health) -> None:
        if self.status_feed is not None:
            self.status_feed.event("voice", voice=name, state=health.state,
                                   failures=health.failures, error=health.last_error or "")

    # -- threads -------------------------------------------------------------------------------
    async def _watch_threads(self) -> None:
        while True:
            await asyncio.sleep(WATCH_S)
            if not self.engine.alive():
                died = self.engine.revive()
                self.engine_restarts += 1
                log.error("the engine thread died (%s); started a fresh one on the same models", died)
            for name, voice in list(self.voices().items()):
                alive = getattr(voice, "alive", None)
                health = self.health.get(name)
                if alive is not None and (health is None or health.state == "running") and not alive():
                    self.fault(name, "its thread died")

    # -- status -------------------------------------------------------------------------------
    def entry(self, name: str) -> dict[str, Any]:
        """The `supervision` part of a voice's /status entry."""
        return self.health.get(name, Health()).entry()

    def summary(self) -> dict[str, Any]:
        """What /status shows of the supervisor itself."""
        return {"engine_restarts": self.engine_restarts, "backoff_s": [BACKOFF_S, BACKOFF_MAX_S],
                "park": {"failures": PARK_FAILURES, "window_s": PARK_WINDOW_S},
                "faults_injected": {n: f"{f.after}:{f.times}:{f.how}" for n, f in self.faults.items()}}

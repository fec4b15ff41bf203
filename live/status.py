"""The status feed: beats, loop turns, model loading, reloads and errors, to the WebSocket `status`
topic and as `/status/...` OSC messages to every OSC client that subscribed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from live.io.osc import Route
from live.params import ParamError
from live.scheduler import Scheduler

MAX_SUBSCRIBERS = 16
ERRORS_PER_S = 20  # a flood of bad input must not become a flood of status messages
Address = tuple[str, int]
OscReply = Callable[..., None]  # (address, osc address, *args), from the OSC in socket


class StatusFeed:
    """Publishes status events; `/status/<op>` carries an event's plain fields in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 publish: Callable[[str, dict[str, Any]], None]) -> None:
        self.loop = loop
        self.publish = publish  # the event bus's publish (event loop only)
        self.reply: OscReply | None = None  # set once the OSC socket is open
        self.subscribers: list[Address] = []
        self.sent = 0
        self.errors_dropped = 0
        self._error_window = (0.0, 0)

    # -- publishing -------------------------------------------------------------------------
    def event(self, op: str, ws: bool = True, **fields: Any) -> None:
        """Publish one event (event loop): to the WebSocket status topic (unless ws is False)
        and to the OSC subscribers as /status/<op> with the fields that are plain values."""
        if ws:
            self.publish("status", {"op": op, **fields})
        if self.subscribers and self.reply is not None:
            args = [v for v in fields.values() if isinstance(v, (str, int, float))]
            for address in list(self.subscribers):
                self.reply(address, f"/status/{op}", *args)
                self.sent += 1

    def event_threadsafe(self, op: str, **fields: Any) -> None:
        """event() from any thread."""
        self.loop.call_soon_threadsafe(lambda: self.event(op, **fields))

    def error(self, text: str, level: str = "warning") -> None:
        """An error or warning, at most ERRORS_PER_S a second (the rest are counted)."""
        now = time.monotonic()
        start, count = self._error_window
        if now - start >= 1.0:
            start, count = now, 0
        if count >= ERRORS_PER_S:
            self.errors_dropped += 1
            return
        self._error_window = (start, count + 1)
        self.event("error", level=level, text=text[:1000])

    # -- OSC subscriptions -----------------------------------------------------------------
    def osc_routes(self) -> dict[str, Route]:
        """/status/subscribe [i port] and /status/unsubscribe [i port]."""
        return {"/status/subscribe": self._subscribe, "/status/unsubscribe": self._unsubscribe}

    def _address(self, args: list[Any], sender: Address) -> Address:
        if not args:
            return sender
        port = args[0]
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ParamError(f"/status/subscribe: port {port!r} refused, expected an integer in "
                             "[1, 65535] (or no argument: answer to the sender)")
        return sender[0], port

    def _subscribe(self, args: list[Any], sender: Address) -> None:
        address = self._address(args, sender)
        if address not in self.subscribers:
            if len(self.subscribers) >= MAX_SUBSCRIBERS:
                raise ParamError(f"/status/subscribe: {MAX_SUBSCRIBERS} subscribers already; "
                                 "one must /status/unsubscribe first")
            self.subscribers.append(address)
        if self.reply is not None:
            self.reply(address, "/status/subscribed", len(self.subscribers))

    def _unsubscribe(self, args: list[Any], sender: Address) -> None:
        address = self._address(args, sender)
        if address in self.subscribers:
            self.subscribers.remove(address)

    def status(self) -> dict[str, Any]:
        """What /status shows of the feed."""
        return {"osc_subscribers": [f"{h}:{p}" for h, p in self.subscribers], "sent": self.sent,
                "errors_dropped": self.errors_dropped}


class BeatPulse:
    """Schedules a status `beat` event on every beat (with its bar) on the in-process scheduler."""

    def __init__(self, feed: StatusFeed, scheduler: Scheduler, beat_now: Callable[[], float],
                 beats_per_bar: Callable[[], int]) -> None:
        self.feed, self.scheduler = feed, scheduler
        self.beat_now, self.beats_per_bar = beat_now, beats_per_bar

    def start(self) -> None:
        self._at(max(0, int(self.beat_now()) + 1))

    def _at(self, n: int) -> None:
        self.scheduler.at_beat(Fraction(n), "status", lambda due: self._pulse(n), prio=2)

    def _pulse(self, n: int) -> None:
        per_bar = self.beats_per_bar()
        self.feed.event_threadsafe("beat", beat=n, bar=n // per_bar, in_bar=n % per_bar)
        self._at(n + 1)


class ErrorForwarder(logging.Handler):
    """Warnings and errors of the livegen loggers, from any thread, to the status feed."""

    def __init__(self, feed: StatusFeed) -> None:
        super().__init__(logging.WARNING)
        self.feed = feed

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = f"{record.name}: {record.getMessage()}"
            self.feed.loop.call_soon_threadsafe(self.feed.error, text, record.levelname.lower())
        except RuntimeError:  # the loop is closed: shutting down
            pass

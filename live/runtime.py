"""The services every voice and transport shares, built once by the app."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from live.engine import Engine
from live.frames import FrameBus
from live.osc import OscOut
from live.params import Registry

TOPICS = ("frames", "notes", "text", "status")

EventSubscriber = Callable[[str, str], None]


class EventBus:
    """JSON messages (notes, text, status) to WebSocket clients; serialised once per message."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._subscribers: set[EventSubscriber] = set()

    def subscribe(self, subscriber: EventSubscriber) -> None:
        self._subscribers.add(subscriber)

    def unsubscribe(self, subscriber: EventSubscriber) -> None:
        self._subscribers.discard(subscriber)

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        """Publish from the event loop."""
        text = json.dumps(message)
        for subscriber in list(self._subscribers):
            subscriber(topic, text)

    def publish_threadsafe(self, topic: str, message: dict[str, Any]) -> None:
        """Publish from any thread."""
        self.loop.call_soon_threadsafe(self.publish, topic, message)


@dataclass
class Runtime:
    """Shared services: parameters, engine, buses, OSC out, encoder pool, recorder hooks."""

    registry: Registry
    engine: Engine
    loop: asyncio.AbstractEventLoop
    frames: FrameBus
    events: EventBus
    osc_out: OscOut
    encode_pool: ThreadPoolExecutor
    seed: int = 0
    extras: dict[str, Any] = field(default_factory=dict)

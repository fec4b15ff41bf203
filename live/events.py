"""The event bus: JSON messages (notes, text, status, param) to every subscribed WebSocket client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

TOPICS = ("frames", "notes", "text", "status", "param", "draw", "analysis")

EventSubscriber = Callable[[str, str], None]


class EventBus:
    """Publishes a message to every subscriber, serialised once however many there are."""

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

"""The services every voice shares, built once by the app and handed to each voice."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from live.analysis.hub import AnalysisHub
from live.clock import Clock
from live.engine import Engine
from live.events import EventBus
from live.frames import FrameBus
from live.io.link import LinkSync
from live.io.osc import OscOut
from live.io.sender import NoteSender
from live.params import Registry
from live.recommend.service import Recommender
from live.record.recorder import Recorder
from live.scheduler import Scheduler
from live.status import StatusFeed


@dataclass
class Runtime:
    """Shared services: parameters, engine, buses, clock and delivery, the optional recorder."""

    registry: Registry
    engine: Engine
    loop: asyncio.AbstractEventLoop
    frames: FrameBus
    events: EventBus
    osc_out: OscOut
    encode_pool: ThreadPoolExecutor
    clock: Clock
    scheduler: Scheduler  # in-process timed delivery (text, MIDI follows the note sender)
    note_sender: NoteSender  # the child process that sends timed OSC notes and beats
    link: LinkSync
    recorder: Recorder | None = None
    status: StatusFeed | None = None  # beats, loop turns, models, errors to status subscribers
    analysis: AnalysisHub | None = None  # features of frames, music and text, out to everything
    recommend: Recommender | None = None  # likes, skips and the recommend walk's choices
    seed: int = 0

"""HTTP and WebSocket on one port: the web client, /status, /schema, frames and JSON control."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from live.events import TOPICS, EventBus
from live.frames import Frame, FrameBus
from live.likes import LikeStore
from live.params import Change, ParamError, Registry, StringParam
from live.security import CONTROL_PER_S, PUBLIC_TOPICS, Access

# A command handler (the OSC routes' signature): args and the sender to reply to.
Command = Callable[[list[Any], tuple[str, int]], object]

log = logging.getLogger("livegen.ws")

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
HttpRoute = Callable[[], Any]  # an extra GET path: returns the JSON body
MAX_CONTROL_BYTES = 64 * 1024  # a JSON control message larger than this is refused
MAX_MESSAGE_BYTES = 1024 * 1024  # larger still, websockets closes the connection (1009)
MAX_PENDING_EVENTS = 1024  # per client: a client that stops reading loses the oldest events
PROMPT_EVERY_S = 15.0  # an audience prompt per connection at most this often
MAX_PROMPT = 280  # characters of an audience prompt
MAX_CONNECTIONS = 256  # open WebSockets at once; more are answered 503 at the handshake
OPEN_TIMEOUT_S = 10.0  # a connection that has not finished its handshake by then is closed
LIMITS = {"control_bytes": MAX_CONTROL_BYTES, "message_bytes": MAX_MESSAGE_BYTES,
          "pending_events": MAX_PENDING_EVENTS, "connections": MAX_CONNECTIONS,
          "open_timeout_s": OPEN_TIMEOUT_S, "prompt_every_s": PROMPT_EVERY_S,
          "prompt_chars": MAX_PROMPT}
# Static files: names of letters, digits, - and _ with an extension, in web/ or one folder below;
# anything else (dots first, .., backslashes, encoded bytes) is not found.
STATIC_NAME = re.compile(r"^(?:[A-Za-z0-9_-]+/)?[A-Za-z0-9_-]+(?:\.[A-Za-z0-9]+)+$")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
    ".json": "application/json", ".wav": "audio/wav", ".txt": "text/plain; charset=utf-8",
}
ALIASES = {"/": "index.html", "/favicon.ico": "favicon.svg"}
# Units the page shows beside a value, by a parameter's last path segment.
UNITS = {"bpm": "bpm", "fps": "fps", "transition": "s", "rate": "char/s", "phrase_gap": "beats",
         "answer_beats": "beats", "transpose": "st", "lookahead_beats": "beats"}
# OSC addresses the page may call over the WebSocket (`call`); the rest stay OSC-only (a browser
# must not load patch files or play into a voice's input).
CALLABLE = re.compile(r"^/preset/(store|recall|morph|quantise)$|^/[A-Za-z0-9_]+/bookmark/(store|recall)$")
NO_REPLY = ("127.0.0.1", 0)  # commands called over the WebSocket answer through their ack only
# Live features a page feeds (its microphone): back to 0 when the page that set them goes, so
# a closed tab leaves no level stuck high under a mapping.
FED = "/audio/"


class Client:
    """One WebSocket connection: a newest-wins frame slot and a bounded event queue."""

    def __init__(self, ws: ServerConnection, authed: bool = True, public: bool = False,
                 control_per_s: float = CONTROL_PER_S) -> None:
        self.ws = ws
        self.authed = authed  # gave the token (or none is needed)
        self.public = public  # without the token, may still watch PUBLIC_TOPICS
        # Subscribed to everything until it says otherwise; without the token, to what is public.
        self.topics: set[str] = set(TOPICS) if authed else \
            set(PUBLIC_TOPICS & set(TOPICS)) if public else set()
        self.frames: dict[int, Frame] = {}  # newest unsent frame per stream
        self.events: deque[str] = deque(maxlen=MAX_PENDING_EVENTS)
        self.wake = asyncio.Event()
        self.frames_sent = 0
        self.frames_skipped = 0
        self.last_prompt = -PROMPT_EVERY_S  # monotonic time of this connection's last prompt
        self.fed: set[str] = set()  # FED paths this connection set
        # The rate limit: a bucket of twice the rate, refilled at the rate; a flood beyond it is
        # refused message by message (each gets its error), so one client cannot starve the loop.
        self.rate, self.burst = control_per_s, 2 * control_per_s
        self.allowance = self.burst  # control messages it may send now
        self.allowance_at = time.monotonic()
        self.rate_limited = 0  # messages refused by the rate limit

    def take_allowance(self) -> bool:
        """Spend one control message of the bucket; False when the client is over the rate."""
        now = time.monotonic()
        self.allowance = min(self.burst, self.allowance + (now - self.allowance_at) * self.rate)
        self.allowance_at = now
        if self.allowance < 1.0:
            self.rate_limited += 1
            return False
        self.allowance -= 1.0
        return True

    def offer_frame(self, frame: Frame) -> None:
        if "frames" in self.topics:
            if frame.info.stream in self.frames:
                self.frames_skipped += 1  # the older one was never sent: newest wins
            self.frames[frame.info.stream] = frame
            self.wake.set()

    def offer_event(self, topic: str, text: str) -> None:
        if topic in self.topics:
            self.events.append(text)
            self.wake.set()

    def reply(self, message: dict[str, Any]) -> None:
        self.events.append(json.dumps(message))
        self.wake.set()

    async def send_loop(self) -> None:
        """The only task that writes to this connection; a slow reader only slows itself."""
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                while self.events:
                    await self.ws.send(self.events.popleft())
                while self.frames:
                    stream = next(iter(self.frames))
                    frame = self.frames.pop(stream)
                    await self.ws.send(frame.message)
                    self.frames_sent += 1
        except ConnectionClosed:
            pass  # the reader side notices too and cleans up


class WebServer:
    """Serves GET /, /status, /schema and static files, and /ws for frames and control."""

    def __init__(self, registry: Registry, frames: FrameBus, events: EventBus,
                 status: Callable[[], dict[str, Any]], likes: LikeStore | None = None,
                 access: Access | None = None) -> None:
        self.registry = registry
        self.access = access or Access()
        self.frames = frames
        self.events = events
        self.status = status
        self.likes = likes
        self.commands: dict[str, Command] = {}  # the OSC routes; `call` reaches CALLABLE ones
        # Binary messages (frames in, live/io/frames_in.py): the error to reply, or None.
        self.frames_in: Callable[[Client, bytes], str | None] | None = None
        self.routes: dict[str, HttpRoute] = {}
        if likes is not None:
            self.routes["/likes"] = lambda: {"total": likes.total(), "recent": likes.recent()}
        self.clients: set[Client] = set()
        self.refused_connections = 0  # handshakes answered 503 (MAX_CONNECTIONS)
        self.rate_limited = 0  # control messages dropped by the rate limit, closed connections
        self._refusal_logged_at = -1.0
        self.server: Server | None = None
        registry.listen(self.publish_change)

    def publish_change(self, change: Change) -> None:
        """Every applied change, from any source and any thread, to the `param` topic."""
        try:
            self.events.publish_threadsafe("param", {
                "op": "param", "path": change.path, "value": change.value,
                "stamp": change.stamp, "source": change.source})
        except RuntimeError:  # the loop closed (a thread setting during shutdown): nobody to tell
            pass

    def route(self, path: str, handler: HttpRoute) -> None:
        """Answer GET `path` with the JSON that handler returns."""
        if path in ("/", "/ws", "/status", "/schema") or path in self.routes:
            raise ValueError(f"HTTP path {path} is taken")
        self.routes[path] = handler

    async def start(self, host: str, port: int) -> int:
        self.server = await serve(
            self.handle, host, port,
            process_request=self.http,
            compression=None,  # frames are JPEG already; deflate would only cost CPU
            max_size=MAX_MESSAGE_BYTES,
            max_queue=4,
            write_limit=256 * 1024,
            open_timeout=OPEN_TIMEOUT_S,
        )
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            try:
                await asyncio.wait_for(self.server.wait_closed(), 2.0)
            except TimeoutError:
                log.warning("some WebSocket connections did not close in time")

    # -- HTTP -------------------------------------------------------------------
    def http(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == "/ws":
            if len(self.clients) >= MAX_CONNECTIONS:
                self.refused_connections += 1
                if time.monotonic() - self._refusal_logged_at > 1.0:  # a flood logs once a second
                    self._refusal_logged_at = time.monotonic()
                    log.warning("WebSocket refused: %d connections open already (%d refused so "
                                "far)", len(self.clients), self.refused_connections)
                return text_response(503, f"too many connections (at most {MAX_CONNECTIONS})\n")
            origin, host = request.headers.get("Origin"), request.headers.get("Host")
            if not self.access.origin_ok(origin, host):
                log.warning("WebSocket from origin %s refused", str(origin)[:100])
                return text_response(403, f"origin {str(origin)[:100]} may not connect: only "
                                          "this server's own pages and the patch's [server] "
                                          "origins may\n")
            return None  # go on with the WebSocket handshake
        if path == "/status":
            return json_response(self.status())
        if path == "/schema":
            return json_response(self.schema())
        if path in self.routes:
            return json_response(self.routes[path]())
        file = static_file(path)
        if file is None:
            return text_response(404, f"not found: {path}\n")
        return http_response(200, CONTENT_TYPES[file.suffix], file.read_bytes())

    def schema(self) -> dict[str, Any]:
        """GET /schema: every parameter (with a display unit where one fits), the commands, limits."""
        params = []
        for entry in self.registry.schema():
            unit = entry.get("unit") or UNITS.get(entry["path"].rsplit("/", 1)[-1])
            params.append(entry | {"unit": unit} if unit else entry)
        commands = sorted(a for a in self.commands if CALLABLE.match(a))
        rate = self.access.control_per_s
        limits = {"control_per_s": rate, "control_burst": 2 * rate} | LIMITS
        return {"params": params, "commands": commands, "limits": limits,
                "stamp": self.registry.stamp}

    # -- WebSocket ----------------------------------------------------------------
    async def handle(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else ""
        client = Client(ws, self.access.token_ok(self.access.url_token(path)),
                        self.access.public_frames, self.access.control_per_s)
        self.clients.add(client)
        self.frames.subscribe(client.offer_frame)
        self.events.subscribe(client.offer_event)
        sender = asyncio.create_task(client.send_loop())
        try:
            async for message in ws:
                self.on_message(client, message)
        except ConnectionClosed:
            pass
        finally:
            self.release(client)
            self.frames.unsubscribe(client.offer_frame)
            self.events.unsubscribe(client.offer_event)
            self.clients.discard(client)
            self.rate_limited += client.rate_limited
            sender.cancel()

    def on_message(self, client: Client, message: str | bytes) -> None:
        """Parse and apply one control message; any fault is an error reply, never a raise."""
        if not client.take_allowance():
            client.reply(error(None, f"rate limit: at most {client.rate:g} messages a second "
                                     f"(bursts of {client.burst:g}); this one was dropped"))
            return
        if isinstance(message, bytes) and not client.authed:
            client.reply(error(None, "frames in: this server needs its token first"))
            return
        if isinstance(message, bytes):
            problem = self.frames_in(client, message) if self.frames_in is not None else (
                "binary messages are not accepted; send JSON text such as "
                "{\"op\": \"set\", \"path\": ..., \"value\": ...}")
            if problem is not None:
                client.reply(error(None, problem))
            return
        if len(message) > MAX_CONTROL_BYTES:
            client.reply(error(None, f"control message of {len(message)} bytes refused, "
                                     f"expected at most {MAX_CONTROL_BYTES}"))
            return
        try:
            msg = json.loads(message)
        except (json.JSONDecodeError, RecursionError) as e:
            client.reply(error(None, f"malformed JSON: {e}"))
            return
        if not isinstance(msg, dict):
            client.reply(error(None, "expected a JSON object with an 'op' key"))
            return
        msg_id = msg.get("id")
        if not isinstance(msg_id, (int, str, type(None))) or isinstance(msg_id, bool):
            msg_id = None
        try:
            client.reply(self.dispatch(client, msg) | {"id": msg_id})
        except (ParamError, ValueError) as e:  # ValueError: a command's refusal (ControlError)
            client.reply(error(msg_id, str(e)))

    def dispatch(self, client: Client, msg: dict[str, Any]) -> dict[str, Any]:
        """Apply one parsed message; its reply (without the id), or ParamError."""
        op = msg.get("op")
        if op == "auth":
            if not self.access.token_ok(msg.get("token")):
                raise ParamError("auth: wrong token")
            client.authed = True
            return ack(self.registry.stamp)
        if not client.authed and not (op == "subscribe" and client.public and isinstance(
                msg.get("topics"), list) and set(msg["topics"]) <= PUBLIC_TOPICS):
            raise ParamError(f"{str(op)[:40]}: this server needs its token: connect to "
                             "/ws?token=... or send {\"op\": \"auth\", \"token\": ...} first")
        if op == "set":
            stamp = self.registry.set(msg.get("path"), msg.get("value"), source="ws")
            if msg["path"].startswith(FED):
                client.fed.add(msg["path"])
            return ack(stamp)
        if op == "get":
            param = self.registry.lookup(msg.get("path"))
            return {"op": "value", "path": param.path, "value": param.value, "stamp": param.stamp}
        if op == "subscribe":
            topics = msg.get("topics")
            if not isinstance(topics, list) or not all(t in TOPICS for t in topics):
                raise ParamError(f"subscribe: topics {topics!r} refused, expected a list "
                                 f"drawn from {', '.join(TOPICS)}")
            client.topics = set(topics)
            if "frames" not in client.topics:
                client.frames.clear()
            return ack(self.registry.stamp)
        if op == "like":
            if self.likes is None:
                raise ParamError("like: this server keeps no likes")
            return ack(self.registry.stamp) | {"like": self.likes.add(msg)["like"]}
        if op == "prompt":
            return ack(self.prompt(client, msg))
        if op == "call":
            self.call(msg.get("address"), msg.get("args", []))
            return ack(self.registry.stamp)
        raise ParamError(f"unknown op {str(op)[:40]!r}; expected set, get, subscribe, like, "
                         "prompt, call or auth")

    def release(self, client: Client) -> None:
        """A connection went: the features it fed go back to 0 (if they are still there)."""
        for path in client.fed:
            if path in self.registry and self.registry.get(path) != 0:
                try:
                    self.registry.set(path, 0.0, source="ws")
                except ParamError:
                    pass  # a parameter that no longer takes 0 keeps its value

    def prompt(self, client: Client, msg: dict[str, Any]) -> int:
        """An audience prompt: one text voice's prime, source `audience`, rate-limited per connection."""
        path, text = msg.get("path", "/text/prime"), msg.get("text")
        param = self.registry.lookup(path)
        if not isinstance(param, StringParam) or not param.path.endswith("/prime"):
            raise ParamError(f"prompt: {path} refused, expected a text voice's /prime")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_PROMPT:
            raise ParamError(f"prompt: expected text of 1 to {MAX_PROMPT} characters")
        wait = client.last_prompt + PROMPT_EVERY_S - time.monotonic()
        if wait > 0:
            raise ParamError(f"prompt refused: one prompt every {PROMPT_EVERY_S:g} s; "
                             f"try again in {wait:.0f} s")
        clean = " ".join("".join(c if c.isprintable() else " " for c in text).split())
        stamp = self.registry.set(path, clean + "\n", source="audience")
        client.last_prompt = time.monotonic()
        return stamp

    def call(self, address: Any, args: Any) -> None:
        """Run one of the CALLABLE OSC commands (presets, bookmarks) with JSON arguments."""
        if not isinstance(address, str) or not CALLABLE.match(address) \
                or address not in self.commands:
            offered = ", ".join(sorted(a for a in self.commands if CALLABLE.match(a))) or "none"
            raise ParamError(f"call: {str(address)[:80]!r} refused, expected one of: {offered}")
        if not isinstance(args, list) or not all(
                isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in args):
            raise ParamError(f"call {address}: args must be a list of strings and numbers")
        try:
            self.commands[address](args, NO_REPLY)
        except (TypeError, KeyError, IndexError) as e:  # arguments of a shape the command never met
            raise ParamError(f"call {address}: args {str(args)[:80]} refused ({e})") from None

    def counts(self) -> dict[str, int]:
        """Connections open and refused, and control messages dropped by the rate limit."""
        return {"connections": len(self.clients), "refused": self.refused_connections,
                "rate_limited": self.rate_limited + sum(c.rate_limited for c in self.clients)}

    def broadcast_status(self) -> None:
        self.events.publish("status", {"op": "status", **self.status()})


def static_file(path: str) -> Path | None:
    """The file in web/ that a GET path names, or None: no traversal, no hidden files."""
    name = ALIASES.get(path) or path[1:]
    if not STATIC_NAME.match(name) or Path(name).suffix not in CONTENT_TYPES:
        return None
    file = (WEB_DIR / name).resolve()
    if not file.is_relative_to(WEB_DIR) or not file.is_file():
        return None
    return file


def ack(stamp: int) -> dict[str, Any]:
    """An ack carrying the stamp in force after the message."""
    return {"op": "ack", "stamp": stamp}


def error(msg_id: Any, text: str) -> dict[str, Any]:
    """An error reply to the message with this id."""
    return {"op": "error", "id": msg_id, "message": text}


def http_response(status: int, content_type: str, body: bytes) -> Response:
    """A complete HTTP/1.1 response; the connection closes after it."""
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body))),
                       ("Cache-Control", "no-cache"), ("Connection", "close")])
    return Response(status, HTTPStatus(status).phrase, headers, body)


def json_response(body: Any) -> Response:
    """200 with a JSON body."""
    return http_response(200, "application/json", json.dumps(body, indent=1).encode())


def text_response(status: int, text: str) -> Response:
    """A plain-text response."""
    return http_response(status, "text/plain; charset=utf-8", text.encode())

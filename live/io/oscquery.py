"""OSCQuery (the Vidvox proposal) on a port of its own: the namespace as JSON, HOST_INFO, LISTEN.

GET / answers the whole parameter namespace as nested JSON nodes (containers built from the
path segments, one method per parameter), `?ATTRIBUTE` one attribute of a node, `?HOST_INFO`
where OSC and the WebSocket are. A WebSocket on the same port takes `{"COMMAND": "LISTEN",
"DATA": path}` and `IGNORE`, and streams every applied change of a listened path as an OSC
message in a binary frame (newest wins per path for a client that reads slowly). The service
is advertised over mDNS as `_oscjson._tcp` and `_osc._udp` when `zeroconf` is installed.

This transport knows the registry, not the runtime: it takes the registry, host, ports and loop.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import logging
import math
import socket
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from pythonosc.osc_packet import OscPacket
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from live.io.osc import build_message
from live.io.osc_check import datagram_problem
from live.params import Change, Param, ParamError, Registry, VectorParam

log = logging.getLogger("livegen.oscquery")

DEFAULT_PORT = 8766
NAME = "livegen"
MAX_LISTENS = 1024  # paths one connection may LISTEN to at once
MAX_COMMAND_BYTES = 64 * 1024  # a WebSocket message larger than this closes that connection (1009)
MAX_NOTICES = 256  # JSON notices (PATH_ADDED, errors) waiting for one slow client; oldest go first
NAMESPACE_POLL_S = 1.0  # how often the namespace is compared for PATH_ADDED / PATH_REMOVED
ACCESS_NONE, ACCESS_READ, ACCESS_WRITE, ACCESS_READ_WRITE = 0, 1, 2, 3
# The OSC addresses that are not parameters (commands): their type tags and what they do. `*`
# stands for a voice's name. A command's TYPE is what it takes; "" takes nothing.
COMMANDS: dict[str, tuple[str, str]] = {
    "/preset/store": ("s", "store the current values as this preset (more s: only these paths)"),
    "/preset/recall": ("s", "recall a preset (then s: none, beat or bar to quantise)"),
    "/preset/morph": ("ssf", "values between two presets at this fraction (then s: quantise)"),
    "/preset/quantise": ("s", "quantise preset changes: none, beat or bar"),
    "/preset/list": ("", "answer /preset/names s... to the sender"),
    "/learn/start": ("s", "map the next OSC address or MIDI control that moves to this path"),
    "/learn/save": ("", "write the learned mappings into the patch file"),
    "/learn/cancel": ("", "stop learning"),
    "/patch/reload": ("", "reload the patch file (answers /patch/reloaded or /patch/error)"),
    "/patch/load": ("s", "switch to another patch file"),
    "/status/subscribe": ("", "send /status/... to the sender (or i: to this port)"),
    "/status/unsubscribe": ("", "stop sending /status/... (or i: to this port)"),
    "/*/bookmark/store": ("i", "keep the current latent in this slot"),
    "/*/bookmark/recall": ("i", "go to the latent in this slot"),
    "/*/in/note": ("ii", "a played note (pitch, velocity; 0 ends it) for call and response"),
    "/*/panic": ("", "all notes off now"),
    "/*/reset": ("", "start the text again from its prime"),
    "/*/like": ("", "like what the voice shows or plays now (the recommender learns from it)"),
}
# Attributes a node can have here, and the proposal's others that this server does not serve.
SERVED = ("FULL_PATH", "CONTENTS", "TYPE", "VALUE", "RANGE", "ACCESS", "DESCRIPTION", "UNIT")
NOT_SERVED = ("TAGS", "EXTENDED_TYPE", "CRITICAL", "CLIPMODE", "OVERLOADS", "HTML")
EXTENSIONS = {
    "ACCESS": True, "VALUE": True, "RANGE": True, "DESCRIPTION": True, "UNIT": True,
    "TAGS": False, "EXTENDED_TYPE": False, "CRITICAL": False, "CLIPMODE": False,
    "OVERLOADS": False, "HTML": False, "LISTEN": True, "PATH_CHANGED": True,
    "PATH_RENAMED": False, "PATH_ADDED": True, "PATH_REMOVED": True,
}
# UNIT (from the proposal's units.md) by a parameter's last path segment, where one fits.
UNITS = {"bpm": "time.bpm", "transition": "time.second", "fps": "time.hz"}
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


# -- parameters as OSCQuery nodes ---------------------------------------------------------------
def osc_args(param: Param, value: Any) -> list[Any]:
    """A value as the arguments of the OSC message that carries it (what LISTEN streams).

    A phrase (a tuple of pitches) goes as one string of numbers, which the parameter accepts
    back; lists and tuples go as one argument per element; anything else as one argument.
    """
    if param.type == "phrase":
        return [" ".join(str(p) for p in value)]
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def type_tags(args: Sequence[Any]) -> str:
    """The OSC type tag string of these arguments; booleans are T (the proposal: T and F mix)."""
    tags = []
    for arg in args:
        if isinstance(arg, bool):
            tags.append("T")
        elif isinstance(arg, int):
            tags.append("i")
        elif isinstance(arg, float):
            tags.append("f")
        else:
            tags.append("s")
    return "".join(tags)


def _bounds(lo: Any, hi: Any, tag: str) -> dict[str, Any] | None:
    out = {}
    for key, x in (("MIN", lo), ("MAX", hi)):
        if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x):
            out[key] = float(x) if tag == "f" else x
    return out or None


def value_range(schema: dict[str, Any], tags: str) -> list[Any] | None:
    """RANGE: VALS for a choice, MIN/MAX for a ranged number (one entry per value), else None."""
    if "choices" in schema:
        return [{"VALS": list(schema["choices"])}] * len(tags)
    if isinstance(schema.get("range"), (list, tuple)) and len(schema["range"]) == 2 and tags:
        lo, hi = schema["range"]
        bounds = [_bounds(lo, hi, tag) for tag in tags]
        if any(b is not None for b in bounds):
            return bounds
    return None


def method_node(param: Param) -> dict[str, Any]:
    """The OSCQuery node of one parameter: read and write, its value in OSC types."""
    schema = param.schema()
    args = osc_args(param, param.value)
    tags = type_tags(args)
    node: dict[str, Any] = {"FULL_PATH": param.path,
                            "ACCESS": ACCESS_READ if param.readonly else ACCESS_READ_WRITE,
                            "TYPE": tags, "VALUE": args}
    rng = value_range(schema, tags)
    if rng is not None:
        node["RANGE"] = rng
    if param.doc:
        node["DESCRIPTION"] = param.doc
    unit = schema.get("unit") or UNITS.get(param.path.rsplit("/", 1)[-1])
    if unit:
        node["UNIT"] = [unit] * len(args)
    return node


def container(path: str) -> dict[str, Any]:
    """An empty OSC container (ACCESS 0: no value of its own)."""
    return {"FULL_PATH": path, "ACCESS": ACCESS_NONE, "CONTENTS": {}}


PLACEHOLDERS = {"s": "", "i": 0, "f": 0.0}


def command_node(address: str) -> dict[str, Any] | None:
    """The OSCQuery node of a command, or None for an address COMMANDS lacks.

    One that takes arguments is write-only (ACCESS 2) with its TYPE, and a VALUE of
    placeholders of those types: some clients (python-oscquery) refuse a method without one;
    `?VALUE` answers 204 as the proposal says for a value that cannot be read. One that takes
    none has no value at all (ACCESS 0): send it an empty message.
    """
    for pattern, (tags, doc) in COMMANDS.items():
        if fnmatch.fnmatchcase(address, pattern) and address.count("/") == pattern.count("/"):
            node: dict[str, Any] = {"FULL_PATH": address, "ACCESS": ACCESS_NONE, "DESCRIPTION": doc}
            if tags:
                node |= {"ACCESS": ACCESS_WRITE, "TYPE": tags,
                         "VALUE": [PLACEHOLDERS[t] for t in tags]}
            return node
    return None


def namespace(registry: Registry, under: str = "/",
              commands: Iterable[str] = ()) -> dict[str, Any]:
    """The address space (at and below `under`): containers from the path segments, a method
    per parameter and per command."""
    root = container("/")
    root["DESCRIPTION"] = f"{NAME} parameters and commands"
    prefix = under.rstrip("/") + "/"
    nodes = [(p.path, method_node(p)) for p in list(registry.params.values())]
    nodes += [(a, n) for a in commands if a not in registry and (n := command_node(a)) is not None]
    for path, method in nodes:
        if path != under and not path.startswith(prefix):
            continue
        parts = path.strip("/").split("/")
        node = root
        for i, part in enumerate(parts):
            contents = node.setdefault("CONTENTS", {})
            node = contents.setdefault(part, {"FULL_PATH": "/" + "/".join(parts[: i + 1])})
            if i < len(parts) - 1:  # a container on the way (a method may be one as well)
                node.setdefault("CONTENTS", {})
                node.setdefault("ACCESS", ACCESS_NONE)
        node.update(method)
    return root


def find(tree: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The node at an OSC path in a namespace tree, or None."""
    node = tree
    for part in [p for p in path.split("/") if p] if path != "/" else []:
        node = node.get("CONTENTS", {}).get(part)
        if node is None:
            return None
    return node


# -- HTTP ------------------------------------------------------------------------------------------
def _response(status: int, body: bytes = b"", kind: str = "application/json") -> Response:
    headers = Headers([("Content-Length", str(len(body))), ("Cache-Control", "no-cache"),
                       ("Access-Control-Allow-Origin", "*"), ("Connection", "close")])
    if body:
        headers["Content-Type"] = kind
    return Response(status, HTTPStatus(status).phrase, headers, body)


def _json(body: Any) -> Response:
    return _response(200, json.dumps(body).encode())


def _text(status: int, text: str) -> Response:
    return _response(status, (text + "\n").encode(), "text/plain; charset=utf-8")


def answer(tree: dict[str, Any], path: str, attribute: str) -> Response:
    """The reply to GET path?attribute (attribute "" for the whole node) on a namespace tree."""
    node = find(tree, path)
    if node is None:
        return _text(404, f"no OSC container or method at {path}; GET / lists the namespace")
    if not attribute:
        return _json(node)
    if attribute in SERVED:
        if attribute == "VALUE" and node.get("ACCESS") in (ACCESS_NONE, ACCESS_WRITE):
            return _response(204)  # the proposal: VALUE of a node without one is 204
        return _json({attribute: node[attribute]} if attribute in node else {})
    if attribute in NOT_SERVED:
        return _text(400, f"attribute {attribute} is not supported by this server; "
                          f"supported: {', '.join(SERVED)}, HOST_INFO")
    return _text(400, f"unknown attribute {attribute[:64]!r}; expected one of "
                      f"{', '.join(SERVED)}, HOST_INFO")


# -- WebSocket ---------------------------------------------------------------------------------------
class Peer:
    """One OSCQuery WebSocket connection: the paths it listens to, newest packet per path."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.paths: set[str] = set()
        self.pending: dict[str, bytes] = {}  # newest unsent OSC packet per listened path
        self.notices: deque[str] = deque(maxlen=MAX_NOTICES)
        self.wake = asyncio.Event()
        self.sent = 0
        self.replaced = 0  # values never sent because a newer one of the same path came first

    def offer(self, path: str, packet: bytes) -> bool:
        """Queue the newest value of a path; True when it replaced one never sent."""
        replaced = path in self.pending
        self.replaced += replaced
        self.pending[path] = packet
        self.wake.set()
        return replaced

    def notice(self, command: str, data: Any) -> None:
        self.notices.append(json.dumps({"COMMAND": command, "DATA": data}))
        self.wake.set()

    async def send_loop(self) -> None:
        """The only writer on this connection; a slow reader only delays itself."""
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                while self.notices or self.pending:
                    if self.notices:
                        await self.ws.send(self.notices.popleft())
                        continue
                    path = next(iter(self.pending))
                    await self.ws.send(self.pending.pop(path))
                    self.sent += 1
        except ConnectionClosed:
            pass


class OscQueryServer:
    """HTTP and WebSocket for OSCQuery on one port, and its mDNS advertisement."""

    def __init__(self, registry: Registry, host: str, osc_port: int,
                 loop: asyncio.AbstractEventLoop, commands: Callable[[], Iterable[str]] = tuple) -> None:
        self.registry = registry
        self.commands = commands  # the OSC addresses routed now that are not parameters
        self.allow: Callable[[str], bool] = lambda ip: True  # who may set values over its WebSocket
        self.host = host
        self.osc_port = osc_port
        self.loop = loop
        self.port = 0
        self.peers: set[Peer] = set()
        self.listened: Counter[str] = Counter()  # path -> connections listening (read any thread)
        self.server: Server | None = None
        self.mdns = Mdns(host)
        self.dropped = 0  # values a slow client never got because a newer one replaced them
        self._known: dict[str, int] = {}
        self._tasks: list[asyncio.Task] = []
        self._closed = False
        registry.listen(self._on_change)

    async def start(self, port: int) -> int:
        """Listen on host:port (0 = any free port) and advertise; OSError when the port is taken."""
        self.server = await serve(
            self.handle, self.host, port, process_request=self.http, compression=None,
            max_size=MAX_COMMAND_BYTES, max_queue=16, write_limit=64 * 1024, close_timeout=1)
        self.port = self.server.sockets[0].getsockname()[1]
        self._known = self._snapshot()
        self._tasks.append(asyncio.create_task(self._watch_namespace()))
        self.mdns.start(self.port, self.osc_port)
        return self.port

    async def stop(self) -> None:
        """Stop advertising, close every connection."""
        self._closed = True
        for task in self._tasks:
            task.cancel()
        await self.mdns.stop()
        if self.server is not None:
            self.server.close()
            try:
                await asyncio.wait_for(self.server.wait_closed(), 2.0)
            except TimeoutError:
                log.warning("some OSCQuery connections did not close in time")

    def status(self) -> dict[str, Any]:
        """For GET /status: the port, mDNS, connections, listened paths, values dropped, and the
        OSC commands that COMMANDS does not describe (none, or the namespace misses them)."""
        undescribed = [a for a in self.commands() if a not in self.registry and command_node(a) is None]
        return {"port": self.port, "mdns": self.mdns.status(), "clients": len(self.peers),
                "listeners": sum(len(p.paths) for p in self.peers), "dropped": self.dropped,
                "commands_undescribed": undescribed}

    def host_info(self, connection: ServerConnection) -> dict[str, Any]:
        """HOST_INFO: where OSC and the WebSocket are, and what this server supports."""
        # The address the client reached us on also reaches the OSC socket (same host, or any).
        ip = connection.local_address[0] if connection.local_address else self.host
        return {"NAME": NAME, "EXTENSIONS": EXTENSIONS, "OSC_IP": ip, "OSC_PORT": self.osc_port,
                "OSC_TRANSPORT": "UDP", "WS_IP": ip, "WS_PORT": self.port}

    # -- HTTP ---------------------------------------------------------------------------------
    def http(self, connection: ServerConnection, request: Request) -> Response | None:
        """Answer plain GETs; let WebSocket upgrades through (on any path)."""
        if "websocket" in request.headers.get("Upgrade", "").lower():
            return None
        path, _, query = request.path.partition("#")[0].partition("?")
        path = unquote(path).rstrip("/") or "/"
        attribute = unquote(query).strip().upper()
        if attribute == "HOST_INFO":  # the path is irrelevant for HOST_INFO
            return _json(self.host_info(connection))
        return answer(namespace(self.registry, path, self.commands()), path, attribute)

    # -- WebSocket ---------------------------------------------------------------------------
    async def handle(self, ws: ServerConnection) -> None:
        """One connection: read commands and OSC packets until it closes."""
        peer = Peer(ws)
        self.peers.add(peer)
        sender = asyncio.create_task(peer.send_loop())
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    self.apply_osc(peer, message)
                else:
                    self.command(peer, message)
        except ConnectionClosed:
            pass
        finally:
            self.peers.discard(peer)
            for path in list(peer.paths):
                self._ignore(peer, path)
            sender.cancel()

    def command(self, peer: Peer, text: str) -> None:
        """LISTEN or IGNORE a path; anything else gets an ERROR notice naming what was wrong."""
        try:
            msg = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as e:
            peer.notice("ERROR", f"malformed JSON: {e}")
            return
        if not isinstance(msg, dict):
            peer.notice("ERROR", 'expected {"COMMAND": "LISTEN" or "IGNORE", "DATA": path}')
            return
        cmd, path = msg.get("COMMAND"), msg.get("DATA")
        if cmd not in ("LISTEN", "IGNORE"):
            peer.notice("ERROR", f"unknown COMMAND {str(cmd)[:64]!r}; expected LISTEN or IGNORE")
        elif not isinstance(path, str) or path not in self.registry:
            peer.notice("ERROR", f"{cmd}: no OSC method at {str(path)[:200]!r}; GET / lists them")
        elif cmd == "IGNORE":
            self._ignore(peer, path)
        elif path not in peer.paths and len(peer.paths) >= MAX_LISTENS:
            peer.notice("ERROR", f"LISTEN {path}: refused, this connection already listens to "
                                 f"{MAX_LISTENS} paths")
        elif path not in peer.paths:
            peer.paths.add(path)
            self.listened[path] += 1

    def _ignore(self, peer: Peer, path: str) -> None:
        if path in peer.paths:
            peer.paths.discard(path)
            peer.pending.pop(path, None)
            self.listened[path] -= 1
            if self.listened[path] <= 0:
                del self.listened[path]

    def apply_osc(self, peer: Peer, data: bytes) -> None:
        """An OSC packet from a client sets parameters, as OSC over UDP does."""
        remote = peer.ws.remote_address
        if remote and not self.allow(str(remote[0])):
            peer.notice("ERROR", f"OSC from {remote[0]} refused: not in the patch's [server] "
                                 "osc_allow")
            return
        problem = datagram_problem(data)
        if problem is not None:
            peer.notice("ERROR", f"malformed OSC packet of {len(data)} bytes: {problem}")
            return
        try:
            messages = [timed.message for timed in OscPacket(data).messages]
        except Exception as e:  # python-osc raises several types on junk
            peer.notice("ERROR", f"malformed OSC packet of {len(data)} bytes: {e}")
            return
        for message in messages:
            args = list(message.params)
            try:
                param = self.registry.lookup(message.address)
                if not args:
                    raise ParamError(f"{message.address}: message has no arguments; "
                                     f"expected a {param.type}")
                many = isinstance(param, VectorParam) or len(args) > 1
                self.registry.set(message.address, args if many else args[0], source="oscquery")
            except (ParamError, ValueError) as e:
                peer.notice("ERROR", str(e))

    # -- streaming ----------------------------------------------------------------------------
    def _on_change(self, change: Change) -> None:
        """Registry listener, on whatever thread set the value: hop onto the loop if anyone listens."""
        if self._closed or change.path not in self.listened:
            return
        try:
            self.loop.call_soon_threadsafe(self._stream, change)
        except RuntimeError:  # the loop closed meanwhile: nobody to stream to
            pass

    def _stream(self, change: Change) -> None:
        param = self.registry.params.get(change.path)
        if param is None or change.path not in self.listened:
            return
        try:
            packet = build_message(change.path, osc_args(param, change.value)).dgram
        except Exception as e:  # a value OSC cannot carry: say so once per change, never raise
            log.debug("OSCQuery cannot stream %s: %s", change.path, e)
            return
        for peer in self.peers:
            if change.path in peer.paths:
                self.dropped += peer.offer(change.path, packet)

    # -- namespace changes -------------------------------------------------------------------------
    def _snapshot(self) -> dict[str, int]:
        return {path: id(param) for path, param in list(self.registry.params.items())}

    async def _watch_namespace(self) -> None:
        while True:
            await asyncio.sleep(NAMESPACE_POLL_S)
            self.refresh()

    def refresh(self) -> None:
        """Tell every connection what was added, removed or replaced since the last look."""
        now, before = self._snapshot(), self._known
        if now == before:
            return
        self._known = now
        notices = [("PATH_ADDED", p) for p in now if p not in before]
        notices += [("PATH_REMOVED", p) for p in before if p not in now]
        notices += [("PATH_CHANGED", p) for p in now if p in before and before[p] != now[p]]
        for peer in list(self.peers):
            for command, path in notices:
                if command == "PATH_REMOVED":
                    self._ignore(peer, path)
                peer.notice(command, path)


# -- mDNS ---------------------------------------------------------------------------------------------
def mdns_addresses(host: str) -> tuple[list[str], list[str] | None]:
    """(addresses to advertise, interfaces to use; None = all) for the host we listen on."""
    if host in LOOPBACK_NAMES:
        return ["127.0.0.1"], ["127.0.0.1"]
    if host in ("0.0.0.0", "", "::"):
        from zeroconf import get_all_addresses

        found = [a for a in get_all_addresses() if not a.startswith("127.")]
        return found or ["127.0.0.1"], None
    try:
        socket.inet_aton(host)
    except OSError:
        raise ValueError(f"host {host!r} is not an IPv4 address") from None
    return [host], [host]


class Mdns:
    """Advertises `_oscjson._tcp` and `_osc._udp` with zeroconf; off, with the reason, without it."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.state = "off"
        self.why = "not started"
        self.services: list[str] = []
        self._zc: Any = None
        self._task: asyncio.Task | None = None

    def status(self) -> dict[str, Any]:
        """on/off (registering while it probes), why when off, the service names when on."""
        out: dict[str, Any] = {"state": self.state}
        if self.state == "off":
            out["why"] = self.why
        else:
            out["services"] = self.services
        return out

    def start(self, oscquery_port: int, osc_port: int) -> None:
        """Register in the background: probing takes a second or two, the ready line need not wait."""
        self._task = asyncio.create_task(self._register(oscquery_port, osc_port))

    def _off(self, why: str) -> None:
        self.state, self.why = "off", why
        log.info("mDNS off: %s", why)

    async def _register(self, oscquery_port: int, osc_port: int) -> None:
        try:
            from zeroconf import InterfaceChoice, IPVersion, ServiceInfo
            from zeroconf.asyncio import AsyncZeroconf
        except ImportError as e:
            self._off(f"the zeroconf package is not installed ({e}); pip install zeroconf")
            return
        try:
            addresses, interfaces = mdns_addresses(self.host)
            self.state = "registering"
            self._zc = AsyncZeroconf(interfaces=interfaces or InterfaceChoice.All,
                                     ip_version=IPVersion.V4Only)
            machine = socket.gethostname().split(".")[0] or "host"
            packed = [socket.inet_aton(a) for a in addresses]
            for kind, port in (("_oscjson._tcp.local.", oscquery_port), ("_osc._udp.local.", osc_port)):
                info = ServiceInfo(kind, f"{NAME} on {machine} ({port}).{kind}", port=port,
                                   addresses=packed, server=f"{NAME}-{machine}-{oscquery_port}.local.")
                await (await self._zc.async_register_service(info, allow_name_change=True))
                self.services.append(info.name)
        except Exception as e:  # no multicast on this interface, a name clash, ...
            self._off(f"cannot advertise on {self.host}: {e}")
            await self._close_zc()
            return
        self.state = "on"
        log.info("mDNS: advertising %s on %s", ", ".join(self.services), ", ".join(addresses))

    async def _close_zc(self) -> None:
        if self._zc is not None:
            zc, self._zc = self._zc, None
            try:
                await asyncio.wait_for(zc.async_close(), 2.0)  # says goodbye for every service
            except Exception as e:
                log.debug("mDNS close: %s", e)

    async def stop(self) -> None:
        """Withdraw the services (bounded: never holds up shutdown by more than 2 s)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        await self._close_zc()
        if self.state != "off":
            self.state, self.why = "off", "stopped"

"""OSC over UDP: every parameter path is an address in; notes, text and beats go out; bundles."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from collections.abc import Callable, Sequence
from typing import Any

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from live.io.osc_check import datagram_problem
from live.params import ParamError, Registry, VectorParam

log = logging.getLogger("livegen.osc")
LOGGED_ERRORS_PER_S = 20  # refusals logged each second; the rest are counted

# Handler for an address that is not a parameter (/music/in/note, say): args, sender.
Route = Callable[[list[Any], tuple[str, int]], object]
# Offered every address that is neither a route nor a parameter (mappings, learn): address, args,
# sender; True if it took the message (no error goes back then).
Fallback = Callable[[str, list[Any], tuple[str, int]], bool]


def build_message(address: str, args: Sequence[Any]) -> OscMessage:
    """An OSC message; ints go as i, floats as f, strings as s, bools as T/F."""
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build()


def parse_target(text: str) -> tuple[str, int]:
    """'HOST:PORT' -> (host, port), or ValueError with what was expected."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"OSC target {text!r}: expected HOST:PORT, e.g. 127.0.0.1:9001")
    return host, int(port)


def bundle(ntp: int, messages: Sequence[tuple[str, Sequence[Any]]]) -> bytes:
    """An OSC bundle whose timetag is an exact 64-bit NTP timestamp."""
    return bundle_dgrams(ntp, [build_message(address, args).dgram for address, args in messages])


def bundle_dgrams(ntp: int, dgrams: Sequence[bytes]) -> bytes:
    """An OSC bundle of messages already built."""
    out = [b"#bundle\0", struct.pack(">Q", ntp)]
    for dgram in dgrams:
        out += [struct.pack(">i", len(dgram)), dgram]
    return b"".join(out)


class UdpFanout:
    """Sends each datagram to every target from one non-blocking socket; never blocks or raises."""

    def __init__(self, targets: Sequence[tuple[str, int]]) -> None:
        self.targets = list(targets)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sent = 0
        self.failed = 0

    def send_raw(self, data: bytes) -> None:
        """Send one datagram to every target; safe from any thread."""
        for target in self.targets:
            try:
                self.sock.sendto(data, target)
                self.sent += 1
            except OSError:  # nobody listening, buffer full: drop, never block or raise
                self.failed += 1

    def close(self) -> None:
        self.sock.close()


class OscOut(UdpFanout):
    """OSC messages to every --osc-out target; safe from any thread."""

    def send(self, address: str, *args: Any) -> None:
        """One message, its arguments typed by build_message."""
        if self.targets:
            self.send_raw(build_message(address, args).dgram)


class OscIn(asyncio.DatagramProtocol):
    """Applies each message in a datagram as it arrives; timetags are not waited for."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.routes: dict[str, Route] = {}
        self.fallback: Fallback | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.received = 0
        self.errors = 0
        self.allow: Callable[[str], bool] = lambda ip: True  # source addresses applied
        self.refused = 0  # datagrams from sources not allowed
        self._log_window, self._logged, self._unlogged = 0.0, 0, 0  # refusals logged this second
        self._refused_from: set[str] = set()  # logged once each

    def route(self, address: str, handler: Route) -> None:
        """Handle an address that is not a parameter."""
        self.routes[address] = handler

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received += 1
        if not self.allow(addr[0]):  # dropped without a reply: nothing to amplify
            self.refused += 1
            if addr[0] not in self._refused_from and len(self._refused_from) < 100:
                self._refused_from.add(addr[0])
                log.warning("OSC from %s refused: not in the patch's [server] osc_allow", addr[0])
            return
        problem = datagram_problem(data)
        if problem is not None:
            self.reply_error(addr, f"malformed OSC datagram of {len(data)} bytes: {problem}")
            return
        try:
            # A far-future timetag must never hold the loop: every message applies now.
            messages = [timed.message for timed in OscPacket(data).messages]
        except Exception as e:  # python-osc raises several types on junk
            self.reply_error(addr, f"malformed OSC datagram of {len(data)} bytes: {e}")
            return
        for message in messages:
            self.apply(message, addr)

    def apply(self, message: OscMessage, addr: tuple[str, int]) -> None:
        args = list(message.params)
        address = message.address
        try:
            if address in self.routes:
                self.routes[address](args, addr)
                return
            if self.fallback is not None and address not in self.registry \
                    and self.fallback(address, args, addr):
                return
            param = self.registry.lookup(address)
            if not args:
                raise ParamError(f"{address}: message has no arguments; expected a {param.type}")
            many = isinstance(param, VectorParam) or len(args) > 1
            self.registry.set(address, args if many else args[0], source="osc")
        except (ParamError, ValueError) as e:
            self.reply_error(addr, str(e))
        except Exception:  # a handler's own fault: logged with its traceback, the show goes on
            log.exception("OSC %s from %s:%s: its handler failed", address[:200], *addr)
            self.reply_error(addr, f"{address[:200]}: internal error (the server log has it)")

    def reply_error(self, addr: tuple[str, int], text: str) -> None:
        self.errors += 1
        now = time.monotonic()
        if now - self._log_window >= 1.0:  # a flood of junk must not flood the log too
            if self._unlogged:
                log.warning("OSC: %d more refused messages not logged", self._unlogged)
            self._log_window, self._logged, self._unlogged = now, 0, 0
        if self._logged < LOGGED_ERRORS_PER_S:
            self._logged += 1
            log.warning("OSC from %s:%s: %s", addr[0], addr[1], text)
        else:
            self._unlogged += 1
        self.reply(addr, "/error", text[:1000])

    def reply(self, addr: tuple[str, int], address: str, *args: Any) -> None:
        """Send one message back to a sender from the OSC in socket; never raises."""
        if self.transport is not None:
            try:
                self.transport.sendto(build_message(address, args).dgram, addr)
            except OSError:
                pass

    def error_received(self, exc: Exception) -> None:
        log.debug("OSC socket error: %s", exc)

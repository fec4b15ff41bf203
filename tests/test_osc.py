"""OSC: bundles with exact timetags, and control of a real server over UDP (values, vectors,
far-future bundles applied at once, and an /error for each bad input that changes nothing)."""

from __future__ import annotations

import asyncio
import socket
import struct
import time

from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message import OscMessage
from websockets.asyncio.client import connect

from live.io.osc import bundle
from tests.conftest import Server
from tests.livetools import osc, recv_frames


def osc_roundtrip(server: Server, data: bytes, timeout: float = 2.0) -> OscMessage | None:
    """Send one datagram from a fresh socket; return the reply (an /error) if one comes."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(timeout)
        s.sendto(data, server.osc)
        try:
            reply, _ = s.recvfrom(65536)
        except TimeoutError:
            return None
    return OscMessage(reply)


def test_bundle_timetag_is_the_exact_ntp_value() -> None:
    ntp = (3_900_000_000 << 32) + 123_456_789
    data = bundle(ntp, [("/music/noteon", [60, 100]), ("/music/note", [60, 100, 0.5])])
    assert struct.unpack(">Q", data[8:16])[0] == ntp
    parsed = OscBundle(data)
    assert [m.address for m in parsed] == ["/music/noteon", "/music/note"]


async def test_osc_changes_parameter_schema_and_frame_stamps(server: Server) -> None:
    async with connect(server.ws, compression=None) as ws:
        before = server.get_json("/schema")["stamp"]
        assert osc_roundtrip(server, osc("/visual/truncation", 0.25), timeout=0.5) is None
        assert server.param("/visual/truncation") == 0.25
        stamp = server.get_json("/schema")["stamp"]
        assert stamp > before
        async with asyncio.timeout(10):
            while (await recv_frames(ws, 1))[0][0].stamp < stamp:
                pass


async def test_osc_xy_vector_and_bundle_with_far_future_timetag(server: Server) -> None:
    assert osc_roundtrip(server, osc("/visual/xy", 0.5, -0.5), timeout=0.5) is None
    assert server.param("/visual/xy") == [0.5, -0.5]
    builder = OscBundleBuilder(time.time() + 3600)  # an hour ahead: applied now, loop not held
    builder.add_content(OscMessage(osc("/visual/speed", 0.75)))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(builder.build().dgram, server.osc)
    deadline = time.monotonic() + 5
    while server.param("/visual/speed") != 0.75 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.param("/visual/speed") == 0.75
    assert server.get_json("/status")["uptime_s"] > 0  # the loop still answers


def test_osc_bad_input_gets_error_and_changes_nothing(server: Server) -> None:
    speed = server.param("/visual/speed")
    cases = {
        osc("/visual/speed", 99.0): ["/visual/speed", "99", "[0, 8]"],
        osc("/visual/speed", "fast"): ["/visual/speed", "fast", "number"],
        osc("/visual/nope", 1.0): ["unknown parameter", "/visual/nope"],
        osc("/visual/mode", "spin"): ["/visual/mode", "spin", "walk"],
        osc("/visual/speed"): ["/visual/speed", "no arguments"],
        osc("/visual/xy", 0.1, 0.2, 0.3): ["/visual/xy", "3 values", "2 numbers"],
        b"\x00\x01garbage": ["malformed OSC"],
        b"/visual/speed\x00\x00\x00,f\x00": ["malformed OSC"],  # truncated float
    }
    for data, expected in cases.items():
        reply = osc_roundtrip(server, data)
        assert reply is not None, f"no /error for {data!r}"
        assert reply.address == "/error"
        text = reply.params[0]
        for part in expected:
            assert part in text, (part, text)
    assert server.param("/visual/speed") == speed

"""The strict check of OSC datagrams: well-formed ones pass, junk that python-osc would pad does not."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from live.io.osc import build_message
from live.io.osc_check import MAX_BUNDLE_DEPTH, datagram_problem

args = st.lists(st.one_of(st.integers(-2**31, 2**31 - 1), st.floats(width=32),
                          st.text(max_size=40).filter(lambda t: "\0" not in t),
                          st.binary(min_size=1, max_size=40), st.booleans()), max_size=6)


@given(address=st.from_regex(r"\A/[a-z]{1,12}(/[a-z_]{1,12}){0,3}\Z"), values=args)
def test_every_built_message_passes_and_any_cut_of_it_fails(address: str, values: list) -> None:
    dgram = build_message(address, values).dgram
    assert datagram_problem(dgram) is None
    for cut in range(1, len(dgram)):
        assert datagram_problem(dgram[:cut]) is not None, cut


def test_junk_that_a_lenient_parser_reads_as_a_value_is_refused() -> None:
    half = build_message("/visual/speed", [0.5]).dgram
    assert datagram_problem(half[:-3] + b"\0\0\0") is None  # (the same length: a real 0.5)
    assert datagram_problem(half[:-3]) == "length 21 is not a multiple of 4"
    assert "need" in datagram_problem(b"/visual/speed\0\0\0,f\0\0")
    assert "type tag" in datagram_problem(b"/visual/speed\0\0\0")
    assert "unknown type tag" in datagram_problem(b"/a\0\0,Z\0\0")
    assert "after the last argument" in datagram_problem(b"/a\0\0,\0\0\0\0\0\0\0")


def test_bundles_are_checked_all_the_way_down() -> None:
    msg = build_message("/a", [1.0]).dgram
    bundle = msg
    for _ in range(MAX_BUNDLE_DEPTH):
        bundle = b"#bundle\0" + struct.pack(">Q", 1) + struct.pack(">i", len(bundle)) + bundle
    assert datagram_problem(bundle) is None
    deeper = b"#bundle\0" + struct.pack(">Q", 1) + struct.pack(">i", len(bundle)) + bundle
    assert "deeper" in datagram_problem(deeper)
    lying = b"#bundle\0" + struct.pack(">Q", 1) + struct.pack(">i", 1000) + msg
    assert "does not fit" in datagram_problem(lying)
    bad_inside = b"#bundle\0" + struct.pack(">Q", 1) + struct.pack(">i", 8) + b"/a\0\0,Z\0\0"
    assert "unknown type tag" in datagram_problem(bad_inside)

"""A strict look at an OSC datagram before it is parsed: python-osc pads a truncated argument
into a value (a cut-off float 0.5 still reads 0.5), so junk could move a parameter."""

from __future__ import annotations

import struct

MAX_BUNDLE_DEPTH = 8  # bundles inside bundles deeper than this are refused
FIXED = {"i": 4, "f": 4, "c": 4, "r": 4, "m": 4, "d": 8, "h": 8, "t": 8,
         "T": 0, "F": 0, "N": 0, "I": 0, "[": 0, "]": 0}


def _string_end(data: bytes, at: int) -> int | None:
    """The offset after the padded, NUL-terminated string at `at`, or None if it has none."""
    nul = data.find(b"\0", at)
    if nul < 0:
        return None
    end = (nul + 4) & ~3
    return end if end <= len(data) and not data[nul:end].strip(b"\0") else None


def _message_problem(data: bytes) -> str | None:
    if not data.startswith(b"/"):
        return "an OSC address starts with /"
    at = _string_end(data, 0)
    if at is None:
        return "the address is not a NUL-terminated string padded to 4 bytes"
    if at == len(data) or data[at:at + 1] != b",":
        return "no type tag string (',...') after the address"
    tags_end = _string_end(data, at)
    if tags_end is None:
        return "the type tags are not a NUL-terminated string padded to 4 bytes"
    tags = data[at + 1:data.index(b"\0", at)].decode("ascii", "replace")
    pos = tags_end
    for tag in tags:
        if tag in FIXED:
            pos += FIXED[tag]
        elif tag in "sS":
            end = _string_end(data, pos) if pos < len(data) else None
            if end is None:
                return f"string argument at byte {pos} is cut short"
            pos = end
        elif tag == "b":
            if pos + 4 > len(data):
                return f"blob size at byte {pos} is cut short"
            size = struct.unpack(">i", data[pos:pos + 4])[0]
            if size < 0:
                return f"blob size {size} is negative"
            pos += 4 + ((size + 3) & ~3)
        else:
            return f"unknown type tag {tag!r}"
        if pos > len(data):
            return f"arguments end at byte {len(data)}, the type tags {tags!r} need {pos}"
    if pos != len(data):
        return f"{len(data) - pos} bytes after the last argument the type tags {tags!r} name"
    return None


def datagram_problem(data: bytes, depth: int = 0) -> str | None:
    """Why a datagram is not well-formed OSC (1.0, with type tags), or None if it is."""
    if len(data) % 4:
        return f"length {len(data)} is not a multiple of 4"
    if not data.startswith(b"#bundle\0"):
        return _message_problem(data)
    if depth >= MAX_BUNDLE_DEPTH:
        return f"bundles nested deeper than {MAX_BUNDLE_DEPTH}"
    if len(data) < 16:
        return "a bundle without its timetag"
    pos = 16
    while pos < len(data):
        if pos + 4 > len(data):
            return "a bundle element's size is cut short"
        size = struct.unpack(">i", data[pos:pos + 4])[0]
        if size <= 0 or size % 4 or pos + 4 + size > len(data):
            return f"a bundle element's size {size} does not fit the bundle"
        problem = datagram_problem(data[pos + 4:pos + 4 + size], depth + 1)
        if problem is not None:
            return problem
        pos += 4 + size
    return None

"""livegen -> TouchDesigner: callbacks of a WebSocket DAT connected to ws://HOST:8765/ws.

Paste this file into the WebSocket DAT's Callbacks DAT (or point a Text DAT at it with
its File parameter). It decodes every binary message (a 32-byte little-endian LGF1 header,
then a JPEG or raw RGBA8 rows, top to bottom) into an (height, width, 4) uint8 array, flipped
so that row 0 is the bottom row as TouchDesigner expects, keeps the newest per stream in
FRAMES and cooks the Script TOP, whose onCook (livegen_script_top.py) copies it in with
scriptOp.copyNumpyArray. Text messages (JSON: note, text, param, status, ack, error) go into
a Table DAT, one row each, newest last, at most MAX_ROWS.

The only TouchDesigner names are the operator lookups just below; everything else is plain
Python 3 and numpy, which TouchDesigner ships. Pillow decodes the JPEG when it is installed
in TouchDesigner's Python; without it the JPEG bytes go to a file that a Movie File In TOP
reloads (TouchDesigner's own decoder). Or send {"op": "set", "path": "/visual/format",
"value": "rgba"} and no decoder is needed at all.
"""

from __future__ import annotations

import io
import json
import struct
import tempfile
from pathlib import Path

import numpy as np

try:  # Pillow is not part of every TouchDesigner install
    from PIL import Image
except ImportError:  # pragma: no cover - exercised in TouchDesigner only
    Image = None

# -- TouchDesigner operators, looked up by name (change the names here) -----------------------
SCRIPT_TOP = "livegen_frame"       # Script TOP whose onCook copies FRAMES[STREAM] in
MOVIE_TOP = "livegen_jpeg"         # Movie File In TOP, used only when Pillow is missing
TABLE_DAT = "livegen_messages"     # Table DAT for the JSON text messages
STREAM = 0                         # which visual voice the Script TOP shows (patch order)
MAX_ROWS = 200


def _op(name: str):
    """TouchDesigner's op(), looked up when called (tests put a stub in this module)."""
    return op(name)  # noqa: F821 - op is a TouchDesigner global


# -- the LGF1 frame header (docs/protocol.md, Frames) -------------------------------------------
HEADER = struct.Struct("<4sBBHHHIIQI")
MAGIC = b"LGF1"
JPEG, RGBA = 1, 2
FIELDS = ("format", "stream", "width", "height", "flags", "seq", "stamp", "render_us")

FRAMES: dict[int, np.ndarray] = {}  # stream -> newest decoded frame, bottom row first
INFO: dict[int, dict] = {}          # stream -> its header fields
JPEG_FILE = Path(tempfile.gettempdir()) / "livegen_frame.jpg"


def parse_header(message: bytes) -> dict:
    """The header fields of one binary message; ValueError if it is not an LGF1 frame."""
    if len(message) < HEADER.size:
        raise ValueError(f"binary message of {len(message)} bytes is shorter than the LGF1 header")
    magic, *values, _reserved = HEADER.unpack_from(message)
    if magic != MAGIC:
        raise ValueError(f"bad frame magic {magic!r}")
    return dict(zip(FIELDS, values, strict=True))


def decode_frame(message: bytes) -> tuple[dict, np.ndarray | None]:
    """Header fields and the pixels as (height, width, 4) uint8, row 0 at the bottom.

    The pixels are None for a JPEG when Pillow is missing (the Movie File In TOP shows it).
    """
    info = parse_header(message)
    payload = message[HEADER.size:]
    h, w = info["height"], info["width"]
    if info["format"] == RGBA:
        if len(payload) != h * w * 4:
            raise ValueError(f"RGBA payload of {len(payload)} bytes for {w}x{h}")
        pixels = np.frombuffer(payload, np.uint8).reshape(h, w, 4)
    elif info["format"] == JPEG:
        if Image is None:
            return info, None
        rgb = np.asarray(Image.open(io.BytesIO(payload)).convert("RGB"), np.uint8)
        pixels = np.concatenate([rgb, np.full((h, w, 1), 255, np.uint8)], axis=2)
    else:
        raise ValueError(f"unknown frame format {info['format']}")
    return info, np.ascontiguousarray(pixels[::-1])


def message_row(data: dict) -> list[str]:
    """One Table DAT row for a JSON message: op, what, value, stamp or time."""
    kind = data.get("op", "")
    if kind == "note":
        what = f"{data.get('voice', '')} {data.get('pitch', '')}"
        value = f"{data.get('velocity', '')} {data.get('duration', '')}"
        when = data.get("time", "")
    elif kind == "text":
        what, value, when = f"{data.get('voice', '')} {data.get('kind', '')}", data.get("text", ""), ""
    elif kind in ("param", "value"):
        what, value, when = data.get("path", ""), json.dumps(data.get("value")), data.get("stamp", "")
    elif kind == "error":
        what, value, when = data.get("id", ""), data.get("message", ""), ""
    elif kind == "ack":
        what, value, when = data.get("id", ""), "", data.get("stamp", "")
    else:  # status and anything newer
        what, value, when = "", json.dumps({k: v for k, v in data.items() if k != "op"})[:500], ""
    return [str(kind), str(what), str(value), str(when)]


# -- WebSocket DAT callbacks -------------------------------------------------------------------
def onConnect(dat):
    """Ask for everything (a new connection is subscribed to every topic anyway)."""
    dat.sendText(json.dumps({"op": "subscribe",
                             "topics": ["frames", "notes", "text", "status", "param"]}))


def onDisconnect(dat):
    """Nothing to do: the WebSocket DAT reconnects by itself when Active is on."""


def onReceiveBinary(dat, contents):
    """A frame: decode it, keep the newest per stream, cook the Script TOP."""
    try:
        info, pixels = decode_frame(bytes(contents))
    except ValueError as exc:
        print("livegen:", exc)
        return
    stream = info["stream"]
    INFO[stream] = info
    if stream != STREAM:
        if pixels is not None:
            FRAMES[stream] = pixels
        return
    if pixels is None:  # no Pillow: TouchDesigner's own JPEG decoder
        JPEG_FILE.write_bytes(bytes(contents)[HEADER.size:])
        movie = _op(MOVIE_TOP)
        movie.par.file = str(JPEG_FILE)
        movie.par.reloadpulse.pulse()
        return
    FRAMES[stream] = pixels
    _op(SCRIPT_TOP).cook(force=True)


def onReceiveText(dat, rowIndex, message):
    """A JSON message: one row in the Table DAT."""
    try:
        data = json.loads(message)
    except ValueError:
        return
    table = _op(TABLE_DAT)
    if table.numRows == 0:
        table.appendRow(["op", "what", "value", "stamp"])
    table.appendRow(message_row(data))
    while table.numRows > MAX_ROWS + 1:
        table.deleteRow(1)


def onReceivePing(dat, contents):
    """Answer pings so the connection stays up."""
    dat.sendPong(contents)


def onReceivePong(dat, contents):
    """Unused."""


def onMonitorMessage(dat, message):
    """Unused."""


# -- the Script TOP (livegen_script_top.py calls this from its onCook) --------------------------
def cook_script_top(scriptOp, stream: int = STREAM):
    """Copy the newest frame of the stream into the Script TOP."""
    pixels = FRAMES.get(stream)
    if pixels is not None:
        scriptOp.copyNumpyArray(pixels)

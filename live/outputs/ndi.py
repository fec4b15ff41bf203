"""NDI out (a visual voice as an NDI source) and NDI in (an NDI source feeding an input stream).

Uses `ndi-python` (module NDIlib), whose wheel bundles the NDI runtime. Discovery on a machine
with no network: see docs/outputs.md (an NDI_CONFIG_DIR that allows 127.0.0.1 only).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

import numpy as np

from live.io.frames_in import InputStream
from live.outputs.base import OutFrame, Output, PixelFormat

log = logging.getLogger("livegen.outputs.ndi")

INSTALL_HINT = "ndi-python is not installed (pip install 'livegen[ndi]'; make install does)"
METADATA = re.compile(r'<livegen seq="(\d+)" stamp="(\d+)" render_us="(\d+)"\s*/>')
_init_lock = threading.Lock()
_initialised = False


def ndi_lib() -> Any:
    """The NDIlib module, initialised once per process; RuntimeError saying why not."""
    global _initialised
    try:
        import NDIlib
    except ImportError:
        raise RuntimeError(INSTALL_HINT) from None
    with _init_lock:
        if not _initialised:
            if not NDIlib.initialize():
                raise RuntimeError("the NDI runtime did not initialise (CPU without SSE4.2?)")
            _initialised = True
    return NDIlib


def metadata(frame: OutFrame) -> str:
    """The per-frame NDI metadata: the stream's sequence number, control stamp and render time."""
    return f'<livegen seq="{frame.seq}" stamp="{frame.stamp}" render_us="{frame.render_us}"/>'


def parse_metadata(text: str | None) -> tuple[int, int, int] | None:
    """(seq, stamp, render_us) from a livegen frame's metadata, or None."""
    match = METADATA.search(text or "")
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


class NdiOutput(Output):
    """A visual voice as an NDI source named `livegen <voice>` (or the patch's `source`)."""

    kind = "ndi"
    formats = (PixelFormat.RGBA, PixelFormat.BGRA, PixelFormat.UYVY)

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._ndi: Any = None
        self._sender: Any = None
        self._frame: Any = None
        self.source = str(self.settings.get("source") or f"livegen {self.settings.voice}")

    def open(self) -> str:
        ndi = self._ndi = ndi_lib()
        create = ndi.SendCreate()
        create.ndi_name = self.source
        create.clock_video = False  # the voice's clock paces it; NDI must not block the thread
        self._sender = ndi.send_create(create)
        if self._sender is None:
            raise RuntimeError(f"NDI could not create the source {self.source!r}")
        self._frame = ndi.VideoFrameV2()
        fourcc = {PixelFormat.RGBA: ndi.FOURCC_VIDEO_TYPE_RGBA, PixelFormat.BGRA: ndi.FOURCC_VIDEO_TYPE_BGRA,
                  PixelFormat.UYVY: ndi.FOURCC_VIDEO_TYPE_UYVY}
        self._frame.FourCC = fourcc[self.settings.format]
        fps = self.settings.fps or 30.0
        self._frame.frame_rate_N, self._frame.frame_rate_D = int(round(fps * 1000)), 1000
        return (f"NDI source {ndi.send_get_source_name(self._sender).ndi_name!r} "
                f"({self.settings.format.value})")

    def send(self, frame: OutFrame) -> None:
        f = self._frame
        f.data = frame.data
        f.timecode = frame.render_us * 10  # NDI timecodes are in 100 ns units
        f.metadata = metadata(frame)
        self._ndi.send_send_video_v2(self._sender, f)  # synchronous: data is copied or sent

    def connections(self) -> int:
        """Receivers connected now."""
        if self._sender is None:
            return 0
        return int(self._ndi.send_get_no_connections(self._sender, 0))

    def status(self) -> dict[str, Any]:
        return super().status() | {"source": self.source, "receivers": self.connections()}

    def close(self) -> None:
        if self._sender is not None:
            self._ndi.send_destroy(self._sender)
            self._sender = None


class NdiReceiver:
    """NDI in: finds a source by name and keeps its newest frame in an input stream (own thread)."""

    def __init__(self, source: str, stream: InputStream) -> None:
        self.source = source  # matched against 'HOST (NAME)' names: the full name or NAME
        self.stream = stream
        self.state = "off"
        self.error: str | None = None
        self.connected_to: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"ndi-in-{self.source}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(3.0)

    def matches(self, name: str) -> bool:
        """True for the source's full name or for its NAME in 'HOST (NAME)'."""
        return name == self.source or name.endswith(f"({self.source})")

    def _run(self) -> None:
        try:
            ndi = ndi_lib()
        except RuntimeError as e:
            self.state, self.error = "failed", str(e)
            log.error("NDI in %r: %s", self.source, e)
            return
        finder = ndi.find_create_v2(ndi.FindCreate())
        receiver = None
        try:
            self.state = "searching"
            while not self._stop.is_set() and receiver is None:
                ndi.find_wait_for_sources(finder, 500)
                for src in ndi.find_get_current_sources(finder) or []:
                    if self.matches(src.ndi_name):
                        create = ndi.RecvCreateV3()
                        create.color_format = ndi.RECV_COLOR_FORMAT_RGBX_RGBA
                        receiver = ndi.recv_create_v3(create)
                        ndi.recv_connect(receiver, src)
                        self.connected_to = src.ndi_name
                        break
            self.state = "receiving" if receiver is not None else "off"
            if receiver is not None:
                log.info("NDI in: receiving %r", self.connected_to)
            while not self._stop.is_set() and receiver is not None:
                kind, video, _, _ = ndi.recv_capture_v2(receiver, 500)
                if kind == ndi.FRAME_TYPE_VIDEO:
                    pixels = np.array(video.data[:, :, :3])  # a copy: the SDK's buffer is freed now
                    ndi.recv_free_video_v2(receiver, video)
                    self.stream.put(pixels, f"ndi:{self.connected_to}", time.monotonic())
        finally:
            if receiver is not None:
                ndi.recv_destroy(receiver)
            ndi.find_destroy(finder)
            if self.state != "failed":
                self.state = "off"

    def status(self) -> dict[str, Any]:
        """This receiver's state for /status."""
        out: dict[str, Any] = {"source": self.source, "state": self.state, "connected_to": self.connected_to}
        if self.error:
            out["error"] = self.error
        return out

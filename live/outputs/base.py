"""What every video output shares: pixel formats, scaling, pacing and the newest-wins hand-off.

The engine thread (or a voice's own thread) offers each rendered frame to the voice's outputs;
offering only swaps a reference into a one-frame slot and never blocks. Each output converts
and sends on a thread of its own, so a slow receiver, a codec or a network stall slows only
that output, which then skips to the newest frame.
"""

from __future__ import annotations

import enum
import importlib
import logging
import sys
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from live.security import Access

log = logging.getLogger("livegen.outputs")


class PixelFormat(enum.Enum):
    """How an output lays out pixels for its receiver."""

    RGBA = "rgba"
    BGRA = "bgra"
    UYVY = "uyvy"  # 4:2:2, two bytes a pixel: what NDI carries natively


class OutputState(enum.Enum):
    """Where an output is in its life."""

    OFF = "off"
    STARTING = "starting"
    ON = "on"
    FAILED = "failed"


@dataclass(frozen=True)
class Picture:
    """One rendered frame as offered: (H, W, 3) uint8 RGB and the stream's header fields."""

    pixels: np.ndarray
    seq: int
    stamp: int
    render_us: int


@dataclass(frozen=True)
class OutFrame:
    """A frame converted for an output: its data laid out in the output's format."""

    data: np.ndarray
    width: int
    height: int
    format: PixelFormat
    seq: int
    stamp: int
    render_us: int


def rgb_to_rgba(pixels: np.ndarray, order: tuple[int, int, int] = (0, 1, 2)) -> np.ndarray:
    """(H, W, 3) RGB -> (H, W, 4) with opaque alpha, the colour channels in `order`."""
    out = np.empty(pixels.shape[:2] + (4,), np.uint8)
    out[..., :3] = pixels[..., list(order)]
    out[..., 3] = 255
    return out


# Studio-range Y'CbCr coefficients (rows Y, Cb, Cr) and the offsets; BT.601 for SD, BT.709 for HD,
# the rule NDI receivers follow (the SDK picks by the frame's height).
_BT601 = np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]]) / 255
_BT709 = np.array([[46.559, 156.629, 15.812], [-25.664, -86.336, 112.0], [112.0, -101.730, -10.270]]) / 255
HD_HEIGHT = 720


def rgb_to_uyvy(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB, W even -> (H, W, 2) UYVY: U0 Y0 V0 Y1, chroma of each pixel pair's mean."""
    h, w = pixels.shape[:2]
    if w % 2:
        raise ValueError(f"UYVY needs an even width, got {w}")
    (yr, yg, yb), (ur, ug, ub), (vr, vg, vb) = np.rint(
        (_BT709 if h >= HD_HEIGHT else _BT601) * (1 << 14)).astype(np.int32).tolist()
    # Fixed point (14 bits), a channel at a time: numpy has no fast integer matmul.
    r, g, b = (pixels[..., c].astype(np.int32) for c in range(3))
    out = np.empty((h, w // 2, 4), np.int32)
    luma = ((yr * r + yg * g + yb * b + (1 << 13)) >> 14) + 16
    out[..., 1], out[..., 3] = luma[:, 0::2], luma[:, 1::2]
    r2, g2, b2 = r[:, 0::2] + r[:, 1::2], g[:, 0::2] + g[:, 1::2], b[:, 0::2] + b[:, 1::2]  # 2 x the mean
    out[..., 0] = ((ur * r2 + ug * g2 + ub * b2 + (1 << 14)) >> 15) + 128
    out[..., 2] = ((vr * r2 + vg * g2 + vb * b2 + (1 << 14)) >> 15) + 128
    return np.clip(out, 0, 255).astype(np.uint8).reshape(h, w, 2)


def convert(pixels: np.ndarray, fmt: PixelFormat) -> np.ndarray:
    """(H, W, 3) RGB uint8 laid out in fmt."""
    if fmt is PixelFormat.RGBA:
        return rgb_to_rgba(pixels)
    if fmt is PixelFormat.BGRA:
        return rgb_to_rgba(pixels, (2, 1, 0))
    return rgb_to_uyvy(pixels)


def scale(pixels: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """pixels resized to (width, height) (bilinear; Lanczos when shrinking), or as they are."""
    if size is None or (pixels.shape[1], pixels.shape[0]) == size:
        return pixels
    shrink = size[0] < pixels.shape[1]
    resample = Image.Resampling.LANCZOS if shrink else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(pixels, "RGB").resize(size, resample))


def even(n: int) -> int:
    """n rounded down to even, at least 2 (4:2:0 video needs even sides)."""
    return max(2, n - n % 2)


def video_frame(picture: Picture, size: tuple[int, int] | None) -> OutFrame:
    """A picture scaled (to even sides) and kept RGB, for video encoders that make their own 4:2:0."""
    w, h = size or (picture.pixels.shape[1], picture.pixels.shape[0])
    pixels = np.ascontiguousarray(scale(picture.pixels, (even(w), even(h))))
    return OutFrame(pixels, pixels.shape[1], pixels.shape[0], PixelFormat.RGBA, picture.seq,
                    picture.stamp, picture.render_us)


class Slot:
    """A one-item mailbox between threads: put() replaces what is there (newest wins)."""

    def __init__(self) -> None:
        self._item: Picture | None = None
        self._cond = threading.Condition()
        self._closed = False
        self.replaced = 0  # items that were replaced before they were taken

    def put(self, item: Picture) -> None:
        with self._cond:
            if self._item is not None:
                self.replaced += 1
            self._item = item
            self._cond.notify()

    def take(self, timeout: float) -> Picture | None:
        """The newest item, waiting up to timeout for one; None on timeout or once closed."""
        with self._cond:
            if self._item is None and not self._closed:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class Pacer:
    """A frame-rate cap: lets a frame through when it is due on a steady grid, else says skip."""

    def __init__(self, fps: float | None) -> None:
        self.period = 1.0 / fps if fps else 0.0
        self._next = 0.0

    def due(self, now: float) -> bool:
        """True if a frame arriving at `now` should be sent."""
        if not self.period:
            return True
        # Half a period of slack: a source at exactly the cap, with jitter, loses nothing.
        if now < self._next - self.period / 2:
            return False
        # Keep the grid, but never burst to catch up after a pause.
        self._next = max(self._next + self.period, now)
        return True


@dataclass(frozen=True)
class OutputSettings:
    """What the patch says of one output (see docs/outputs.md)."""

    name: str  # the output's name in the patch and its parameter path /outputs/NAME/on
    kind: str
    voice: str
    format: PixelFormat = PixelFormat.RGBA
    size: tuple[int, int] | None = None  # scale to (width, height); None: the voice's own size
    fps: float | None = None  # cap; None: every frame the voice renders
    on: bool = True  # start with the server
    extra: tuple[tuple[str, Any], ...] = ()  # kind-specific keys (source name, port, ...)

    def get(self, key: str, default: Any = None) -> Any:
        """A kind-specific setting."""
        return dict(self.extra).get(key, default)


def platform_module(platform: str, system: str, module: str, extra: str) -> Any:
    """The binding of a one-platform output; RuntimeError saying why it cannot run here."""
    if sys.platform != platform:
        raise RuntimeError(f"{extra.capitalize()} runs on {system} only (this is {sys.platform}); "
                           "use NDI here")
    try:
        return importlib.import_module(module)
    except ImportError:
        raise RuntimeError(f"{module} is not installed (pip install 'livegen[{extra}]')") from None


def int_setting(settings: OutputSettings, key: str, default: int, lo: int, hi: int, what: str) -> int:
    """A kind-specific int setting in [lo, hi]; ValueError naming it and what it means."""
    value = settings.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ValueError(f"{key} {value!r} refused, expected {what} from {lo} to {hi}")
    return value


class Output:
    """One video output on its own thread; subclasses open, send and close."""

    kind: ClassVar[str]
    formats: ClassVar[tuple[PixelFormat, ...]] = (PixelFormat.RGBA,)

    def __init__(self, settings: OutputSettings) -> None:
        self.settings = settings
        self.name = settings.name
        self.state = OutputState.OFF
        self.error: str | None = None
        self.serves: str | None = None  # what it serves where, once open
        self.host = "127.0.0.1"  # the server's --host: where an output that listens listens
        self.access = Access()  # the server's token: who may watch an output that listens
        self.sent = 0
        self.offered = 0
        self.paced_out = 0  # frames skipped by the fps cap
        self.send_s = 0.0  # seconds spent converting and sending, in all
        self._slot = Slot()
        self._pacer = Pacer(settings.fps)
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._opened: Future[str] = Future()

    # -- any thread -------------------------------------------------------------------------
    def wants_frames(self) -> bool:
        """True while the output is opening or on."""
        return self.state in (OutputState.ON, OutputState.STARTING)

    def offer(self, pixels: np.ndarray, seq: int, stamp: int, render_us: int) -> None:
        """Hand over one rendered frame; never blocks (the renderer calls this)."""
        if self.wants_frames():
            self.offered += 1
            self._slot.put(Picture(pixels, seq, stamp, render_us))

    def start(self) -> Future[str]:
        """Open on the output's thread; the future gives what it serves where, or the error."""
        if self._thread is not None and self._thread.is_alive():
            return self._opened
        self._stopping.clear()
        self._slot = Slot()
        self._opened = Future()
        self.state, self.error = OutputState.STARTING, None
        self._thread = threading.Thread(target=self._run, name=f"output-{self.name}", daemon=True)
        self._thread.start()
        return self._opened

    def stop(self, timeout: float = 3.0) -> None:
        """Close the output and end its thread."""
        self._stopping.set()
        self._slot.close()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self.state is not OutputState.FAILED:
            self.state = OutputState.OFF

    def status(self) -> dict[str, Any]:
        """This output's entry in /status."""
        s = self.settings
        out: dict[str, Any] = {
            "kind": self.kind, "voice": s.voice, "state": self.state.value, "format": s.format.value,
            "size": list(s.size) if s.size else None, "fps_cap": s.fps, "serves": self.serves,
            "offered": self.offered, "sent": self.sent, "skipped": self._slot.replaced,
            "paced_out": self.paced_out,
            "send_ms": round(1000 * self.send_s / self.sent, 3) if self.sent else None}
        if self.error:
            out["error"] = self.error
        return out

    # -- the output's thread ----------------------------------------------------------------
    def _run(self) -> None:
        try:
            self.serves = self.open()
        except Exception as e:  # a missing runtime, a port in use: this output only
            self.state, self.error = OutputState.FAILED, f"{type(e).__name__}: {e}"
            log.error("output %s (%s) did not start: %s", self.name, self.kind, self.error)
            self._opened.set_result(f"failed: {self.error}")
            return
        self.state = OutputState.ON
        log.info("output %s: %s", self.name, self.serves)
        self._opened.set_result(self.serves)
        try:
            while not self._stopping.is_set():
                picture = self._slot.take(0.5)
                if picture is None:
                    continue
                if not self._pacer.due(time.monotonic()):
                    self.paced_out += 1
                    continue
                t0 = time.perf_counter()
                self.send(self.prepare(picture))
                self.send_s += time.perf_counter() - t0
                self.sent += 1
        except Exception as e:
            self.state, self.error = OutputState.FAILED, f"{type(e).__name__}: {e}"
            log.exception("output %s failed", self.name)
        finally:
            try:
                self.close()
            except Exception:
                log.exception("output %s did not close cleanly", self.name)

    def prepare(self, picture: Picture) -> OutFrame:
        """Scale and convert one picture for this output."""
        pixels = scale(picture.pixels, self.settings.size)
        data = convert(pixels, self.settings.format)
        return OutFrame(data, pixels.shape[1], pixels.shape[0], self.settings.format, picture.seq,
                        picture.stamp, picture.render_us)

    def open(self) -> str:
        """Open the output (its thread); say what it serves where."""
        raise NotImplementedError

    def send(self, frame: OutFrame) -> None:
        """Send one converted frame (its thread)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what open() took (its thread)."""

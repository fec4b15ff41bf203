"""WebRTC out (aiortc): a visual voice as a VP8 video track to browsers, one peer connection each.

Signalling is a small WebSocket of the output's own (`ws://HOST:PORT/`): the browser sends
{"op": "offer", "sdp"} with its ICE candidates gathered, and gets {"op": "answer", "sdp"} back;
the peer connection lives as long as that socket. Everything runs on an event loop in a thread
of this output, so codecs and DTLS never touch the server's loop. Each viewer gets its own
encoder: CPU grows with viewers. For an audience, use the janus output (docs/outputs.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from fractions import Fraction
from typing import Any

from live.outputs.base import OutFrame, Output, Picture, PixelFormat, int_setting, video_frame

log = logging.getLogger("livegen.outputs.webrtc")

INSTALL_HINT = "aiortc is not installed (pip install 'livegen[webrtc]'; make install does)"
VIDEO_CLOCK = 90_000  # RTP clock rate of video
MAX_SIGNAL_BYTES = 64 * 1024
DEFAULT_VIEWERS = 8
DEFAULT_KBPS = 500  # aiortc's own starting rate
STATS_EVERY_S = 1.0


class WebRtcOutput(Output):
    """A visual voice as a WebRTC track for up to `viewers` browsers at once."""

    kind = "webrtc"
    formats = (PixelFormat.RGBA,)  # (the encoder takes RGB and makes its own 4:2:0)

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.port = int(self.settings.get("port", 0))
        self.max_viewers = int(self.settings.get("viewers", DEFAULT_VIEWERS))
        self.kbps = int(self.settings.get("bitrate", DEFAULT_KBPS))
        self.url: str | None = None
        self.viewers: dict[int, dict[str, Any]] = {}  # per peer connection: state, bytes, frames
        self.refused = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._rtc_thread: threading.Thread | None = None
        self._tracks: set[Any] = set()
        self._pcs: set[Any] = set()
        self._latest: tuple[Any, int] | None = None  # the newest RGB pixels and their pts
        self._latest_seq = -1
        self._t0 = time.monotonic()
        self._server: Any = None
        self._stats_task: asyncio.Task | None = None
        self._next_viewer = 0

    @classmethod
    def check(cls, settings: Any) -> None:
        """Refuse a bad port or viewer count (at patch load, with the line)."""
        int_setting(settings, "port", 0, 0, 65535, "a TCP port (0: any free one)")
        int_setting(settings, "viewers", DEFAULT_VIEWERS, 1, 256, "viewers at once")
        int_setting(settings, "bitrate", DEFAULT_KBPS, 50, 10_000, "kbit/s per viewer")

    # -- the output's thread --------------------------------------------------------------
    def open(self) -> str:
        try:
            import aiortc  # noqa: F401
            import av  # noqa: F401
        except ImportError:
            raise RuntimeError(INSTALL_HINT) from None
        cap_vp8_rate(self.kbps * 1000)
        loop = self._loop = asyncio.new_event_loop()
        self._rtc_thread = threading.Thread(target=loop.run_forever, name=f"webrtc-{self.name}", daemon=True)
        self._rtc_thread.start()
        port = asyncio.run_coroutine_threadsafe(self._listen(), loop).result(10)
        self.url = f"ws://{self.host}:{port}/"
        return f"WebRTC (VP8) of voice {self.settings.voice}, signalling on {self.url}"

    def prepare(self, picture: Picture) -> OutFrame:
        return video_frame(picture, self.settings.size)

    def send(self, frame: OutFrame) -> None:
        pts = int((time.monotonic() - self._t0) * VIDEO_CLOCK)
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._publish, (frame.data, pts), frame.seq)

    def close(self) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(5)
        except Exception:
            log.exception("WebRTC output %s: shutdown", self.name)
        loop.call_soon_threadsafe(loop.stop)
        if self._rtc_thread is not None:
            self._rtc_thread.join(3)
        loop.close()
        self._loop = None

    # -- the output's event loop ----------------------------------------------------------
    def _publish(self, latest: tuple[Any, int], seq: int) -> None:
        self._latest, self._latest_seq = latest, seq
        for track in self._tracks:
            track.fresh.set()

    async def _listen(self) -> int:
        from websockets.asyncio.server import serve

        self._server = await serve(self._signal, self.host, self.port, max_size=MAX_SIGNAL_BYTES,
                                   compression=None)
        self._stats_task = asyncio.get_running_loop().create_task(self._stats_forever())
        return int(self._server.sockets[0].getsockname()[1])

    async def _signal(self, ws: Any) -> None:
        """One viewer: its offer in, our answer out; the peer connection ends with the socket."""
        from aiortc import RTCPeerConnection, RTCSessionDescription
        from websockets.exceptions import ConnectionClosed

        path = ws.request.path if ws.request is not None else ""
        if not (self.access.public_frames or self.access.token_ok(self.access.url_token(path))):
            self.refused += 1
            await ws.send(json.dumps({"op": "error", "message": "this server needs its token to "
                                      "watch: connect to this address with ?token=..."}))
            return
        if len(self._pcs) >= self.max_viewers:
            self.refused += 1
            await ws.send(json.dumps({"op": "error", "message": f"this output takes at most "
                                      f"{self.max_viewers} viewers; try again later"}))
            return
        pc = RTCPeerConnection()
        self._pcs.add(pc)
        self._next_viewer += 1
        viewer = self._next_viewer
        track = VoiceTrack(self)
        self._tracks.add(track)
        sender = pc.addTrack(track)
        self.viewers[viewer] = {"state": "new", "bytes": 0, "frames": 0}
        pc.on("connectionstatechange", lambda: self.viewers.get(viewer, {}).update(
            state=pc.connectionState))
        try:
            async for message in ws:
                reply = await self._answer(pc, message, RTCSessionDescription)
                await ws.send(json.dumps(reply))
                self.viewers[viewer]["sender"] = sender
        except ConnectionClosed:
            pass  # the viewer went (or sent more than MAX_SIGNAL_BYTES: closed with 1009)
        finally:
            self._tracks.discard(track)
            self._pcs.discard(pc)
            self.viewers.pop(viewer, None)
            await pc.close()

    async def _answer(self, pc: Any, message: Any, description: Any) -> dict[str, Any]:
        """The reply to one signalling message (an answer, or an error saying what was wrong)."""
        try:
            msg = json.loads(message) if isinstance(message, str) else None
        except json.JSONDecodeError as e:
            return {"op": "error", "message": f"malformed JSON: {e}"}
        if not isinstance(msg, dict) or msg.get("op") != "offer" or not isinstance(msg.get("sdp"), str):
            return {"op": "error", "message": 'expected {"op": "offer", "sdp": "..."} as JSON text'}
        if pc.remoteDescription is not None:
            return {"op": "error", "message": "one offer per connection; open another for another view"}
        try:
            await pc.setRemoteDescription(description(sdp=msg["sdp"], type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as e:  # aiortc refuses a bad SDP with several kinds of error
            return {"op": "error", "message": f"offer refused: {type(e).__name__}: {e}"}
        return {"op": "answer", "type": "answer", "sdp": pc.localDescription.sdp}

    async def _stats_forever(self) -> None:
        while True:
            await asyncio.sleep(STATS_EVERY_S)
            for entry in list(self.viewers.values()):
                sender = entry.get("sender")
                if sender is None:
                    continue
                try:
                    report = await sender.getStats()
                except Exception:
                    continue
                for stat in report.values():
                    if getattr(stat, "type", "") == "outbound-rtp":
                        entry["bytes"], entry["frames"] = stat.bytesSent, stat.packetsSent

    async def _shutdown(self) -> None:
        if self._stats_task is not None:
            self._stats_task.cancel()
        if self._server is not None:
            self._server.close()
        await asyncio.gather(*(pc.close() for pc in list(self._pcs)), return_exceptions=True)

    def status(self) -> dict[str, Any]:
        viewers = [{k: v for k, v in e.items() if k != "sender"} for e in list(self.viewers.values())]
        return super().status() | {"url": self.url, "viewers": viewers, "refused": self.refused,
                                   "max_viewers": self.max_viewers}


def cap_vp8_rate(bps: int) -> None:
    """Start and hold the VP8 stream of every aiortc peer connection at `bps` at most (the
    browser's bandwidth estimate, REMB, may lower it but not raise it). aiortc picks a peer
    connection's encoder inside its sender, so the cap is one per process: with several webrtc
    outputs, the last one opened sets it. The Janus output's own encoder is not affected."""
    from aiortc import rtcrtpsender
    from aiortc.codecs import get_encoder, vpx

    class CappedVp8(vpx.Vp8Encoder):
        """aiortc's VP8 encoder, its target bitrate never above the output's."""

        def __init__(self) -> None:
            super().__init__()
            self.target_bitrate = bps

        @property
        def target_bitrate(self) -> int:
            return int(vpx.Vp8Encoder.target_bitrate.fget(self))  # type: ignore[attr-defined]

        @target_bitrate.setter
        def target_bitrate(self, bitrate: int) -> None:
            vpx.Vp8Encoder.target_bitrate.fset(self, min(bitrate, bps))  # type: ignore[attr-defined]

    def encoder(codec: Any) -> Any:
        return CappedVp8() if codec.mimeType.lower() == "video/vp8" else get_encoder(codec)

    vpx.MIN_BITRATE = min(vpx.MIN_BITRATE, bps)  # aiortc's floor (250 kbit/s) would undo a lower cap
    rtcrtpsender.get_encoder = encoder


def _track_base() -> type:
    try:
        from aiortc import MediaStreamTrack
    except ImportError:
        return object
    return MediaStreamTrack


class VoiceTrack(_track_base()):  # type: ignore[misc]
    """One viewer's video track: the newest frame each time its encoder asks (newest wins)."""

    kind = "video"

    def __init__(self, output: WebRtcOutput) -> None:
        super().__init__()
        self.output = output
        self.fresh = asyncio.Event()
        self._seen = -1

    async def recv(self) -> Any:
        from av import VideoFrame

        while self.output._latest_seq == self._seen or self.output._latest is None:
            self.fresh.clear()
            await self.fresh.wait()
        self._seen = self.output._latest_seq
        pixels, pts = self.output._latest
        # A frame object per viewer: encoders run on executor threads, one per viewer, and
        # must not share one (two viewers sharing it stalled after a few frames).
        video = VideoFrame.from_ndarray(pixels, format="rgb24")
        video.pts, video.time_base = pts, Fraction(1, VIDEO_CLOCK)
        return video

"""Janus out: one VP8 stream as plain RTP to a Janus streaming mountpoint, which fans it out.

livegen encodes once, whatever the audience; Janus (deploy/janus) does the WebRTC side for every
viewer. The encoder and the RTP packetiser are aiortc's (its VP8 payload format); a keyframe
goes out every KEYFRAME_EVERY_S so that a viewer joining mid-stream starts soon.
"""

from __future__ import annotations

import random
import socket
import time
from fractions import Fraction
from typing import Any

from live.outputs.base import OutFrame, Output, Picture, PixelFormat, int_setting, video_frame
from live.outputs.webrtc import INSTALL_HINT, VIDEO_CLOCK

PAYLOAD_TYPE = 96  # the mountpoint's videopt (deploy/janus/janus.plugin.streaming.jcfg)
KEYFRAME_EVERY_S = 2.0
DEFAULT_KBPS = 1000


def parse_targets(value: Any) -> list[tuple[str, int]]:
    """[(host, port)] from 'HOST:PORT' or a list of them; ValueError saying what is expected."""
    items = value if isinstance(value, list) and value else [value]
    out = []
    for text in items:
        host, _, port = text.rpartition(":") if isinstance(text, str) else ("", "", "")
        if not (host and port.isdigit() and 0 < int(port) < 65536):
            raise ValueError(f"rtp {value!r} refused, expected \"HOST:PORT\" of a Janus mountpoint's "
                             "videoport, or a list of them (one encode, sent to each)")
        out.append((host, int(port)))
    return out


class JanusOutput(Output):
    """A visual voice as VP8 over RTP to Janus (`rtp = "HOST:PORT"` or a list, `bitrate` in kbit/s)."""

    kind = "janus"
    formats = (PixelFormat.RGBA,)

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.targets = parse_targets(self.settings.get("rtp", "127.0.0.1:5004"))
        self.kbps = int(self.settings.get("bitrate", DEFAULT_KBPS))
        self.bytes_sent = 0
        self.packets_sent = 0
        self.keyframes = 0
        self._sock: socket.socket | None = None
        self._encoder: Any = None
        self._ssrc = random.getrandbits(32)
        self._rtp_seq = random.getrandbits(16)
        self._t0 = time.monotonic()
        self._last_key = -KEYFRAME_EVERY_S

    @classmethod
    def check(cls, settings: Any) -> None:
        """Refuse a bad target or bitrate at patch load."""
        parse_targets(settings.get("rtp", "127.0.0.1:5004"))
        int_setting(settings, "bitrate", DEFAULT_KBPS, 100, 50_000, "kbit/s")

    def open(self) -> str:
        try:
            from aiortc.codecs.vpx import Vp8Encoder
        except ImportError:
            raise RuntimeError(INSTALL_HINT) from None
        self._encoder = Vp8Encoder()
        self._encoder.target_bitrate = self.kbps * 1000
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        where = ", ".join(f"{h}:{p}" for h, p in self.targets)
        return f"VP8 RTP of voice {self.settings.voice} to Janus at {where} ({self.kbps} kbit/s)"

    def prepare(self, picture: Picture) -> OutFrame:
        return video_frame(picture, self.settings.size)

    def send(self, frame: OutFrame) -> None:
        from aiortc.rtp import RtpPacket
        from av import VideoFrame

        video = VideoFrame.from_ndarray(frame.data, format="rgb24")
        now = time.monotonic()
        video.pts = int((now - self._t0) * VIDEO_CLOCK)
        video.time_base = Fraction(1, VIDEO_CLOCK)
        key = now - self._last_key >= KEYFRAME_EVERY_S
        if key:
            self._last_key = now
            self.keyframes += 1
        payloads, timestamp = self._encoder.encode(video, key)
        assert self._sock is not None
        for i, payload in enumerate(payloads):
            packet = RtpPacket(payload_type=PAYLOAD_TYPE, marker=int(i == len(payloads) - 1),
                               sequence_number=self._rtp_seq, timestamp=timestamp, ssrc=self._ssrc,
                               payload=payload)
            self._rtp_seq = (self._rtp_seq + 1) & 0xFFFF
            data = packet.serialize()
            for target in self.targets:  # the same packets to every Janus (relays, docs/outputs.md)
                self._sock.sendto(data, target)
                self.bytes_sent += len(data)
                self.packets_sent += 1

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def status(self) -> dict[str, Any]:
        return super().status() | {"rtp": [f"{h}:{p}" for h, p in self.targets], "kbps": self.kbps,
                                   "bytes_sent": self.bytes_sent, "packets_sent": self.packets_sent,
                                   "keyframes": self.keyframes}

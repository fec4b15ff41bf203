"""Spout out (Windows): a visual voice as a Spout sender through SpoutGL. UNTESTED on Windows.

Thin on purpose: the shared part (RGBA/BGRA layout, scaling, pacing, the hand-off to this
output's thread) is tested on Linux in tests/test_outputs.py; only these calls are not.
"""

from __future__ import annotations

from typing import Any

from live.outputs.base import OutFrame, Output, PixelFormat, platform_module

GL_RGBA, GL_BGRA = 0x1908, 0x80E1  # OpenGL enums, so PyOpenGL is not needed for two numbers


class SpoutOutput(Output):
    """A visual voice as the Spout sender `livegen <voice>` (or the patch's `source`)."""

    kind = "spout"
    formats = (PixelFormat.RGBA, PixelFormat.BGRA)

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.source = str(self.settings.get("source") or f"livegen {self.settings.voice}")
        self._sender: Any = None

    def open(self) -> str:
        self._sender = platform_module("win32", "Windows", "SpoutGL", "spout").SpoutSender()
        self._sender.setSenderName(self.source)
        return f"Spout sender {self.source!r} ({self.settings.format.value})"

    def send(self, frame: OutFrame) -> None:
        # Rows top first and no flip: the shared texture is DirectX's, whose origin is the top.
        gl_format = GL_BGRA if frame.format is PixelFormat.BGRA else GL_RGBA
        self._sender.sendImage(frame.data.tobytes(), frame.width, frame.height, gl_format, False, 0)
        self._sender.setFrameSync(self.source)

    def close(self) -> None:
        if self._sender is not None:
            self._sender.releaseSender()
            self._sender = None

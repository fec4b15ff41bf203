"""Syphon out (macOS): a visual voice as a Syphon Metal server through syphon-python. UNTESTED on macOS.

Thin on purpose: the shared part (RGBA layout, scaling, pacing, the hand-off to this output's
thread) is tested on Linux in tests/test_outputs.py; only these calls are not.
"""

from __future__ import annotations

from typing import Any

from live.outputs.base import OutFrame, Output, PixelFormat, platform_module


class SyphonOutput(Output):
    """A visual voice as the Syphon server `livegen <voice>` (or the patch's `source`)."""

    kind = "syphon"
    formats = (PixelFormat.RGBA,)

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.source = str(self.settings.get("source") or f"livegen {self.settings.voice}")
        self._server: Any = None
        self._texture: Any = None
        self._size: tuple[int, int] | None = None

    def open(self) -> str:
        syphon = platform_module("darwin", "macOS", "syphon", "syphon")  # the syphon-python package
        self._server = syphon.SyphonMetalServer(self.source)
        return f"Syphon server {self.source!r} (Metal, rgba)"

    def send(self, frame: OutFrame) -> None:
        from syphon.utils.numpy import copy_image_to_mtl_texture
        from syphon.utils.raw import create_mtl_texture

        if self._size != (frame.width, frame.height):  # a texture per size, made once
            self._texture = create_mtl_texture(self._server.device, frame.width, frame.height)
            self._size = (frame.width, frame.height)
        # Rows top first: a Metal texture's origin is its top-left corner.
        copy_image_to_mtl_texture(frame.data, self._texture)
        self._server.publish_frame_texture(self._texture)

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

"""Video outputs of the visual voices: NDI, WebRTC, Janus fan-out, Spout and Syphon (docs/outputs.md)."""

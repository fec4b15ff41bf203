"""An NDI receiver in a process of its own (stands in for OBS or Resolume in tests and benches).

python -m bench.ndi_receiver SOURCE SECONDS OUT.npz: finds SOURCE (its NAME in 'HOST (NAME)'),
receives RGBA frames for SECONDS, saves pixels and livegen's per-frame metadata; prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time

import NDIlib as ndi
import numpy as np

from live.outputs.ndi import parse_metadata


def main(source: str, seconds: float, out: str) -> None:
    """Find, receive, save, report."""
    assert ndi.initialize()
    t0 = time.monotonic()
    finder = ndi.find_create_v2(ndi.FindCreate())
    found = None
    while found is None and time.monotonic() - t0 < 20:
        ndi.find_wait_for_sources(finder, 200)
        found = next((s for s in ndi.find_get_current_sources(finder) or []
                      if s.ndi_name.endswith(f"({source})")), None)
    if found is None:
        print(json.dumps({"found": False}), flush=True)
        return
    found_s = time.monotonic() - t0
    create = ndi.RecvCreateV3()
    create.color_format = ndi.RECV_COLOR_FORMAT_RGBX_RGBA
    receiver = ndi.recv_create_v3(create)
    ndi.recv_connect(receiver, found)
    pixels, meta, arrived = [], [], []
    start = None
    while start is None or time.monotonic() - start < seconds:
        kind, video, _, _ = ndi.recv_capture_v2(receiver, 1000)
        if kind == ndi.FRAME_TYPE_VIDEO:
            start = start or time.monotonic()
            pixels.append(np.array(video.data))
            meta.append(parse_metadata(video.metadata) or (-1, -1, -1))
            arrived.append(time.time_ns() // 1000)
            ndi.recv_free_video_v2(receiver, video)
        elif start is None and time.monotonic() - t0 > 30:
            break
    ndi.recv_destroy(receiver)
    ndi.find_destroy(finder)
    np.savez(out, pixels=np.stack(pixels) if pixels else np.zeros((0, 1, 1, 4), np.uint8),
             meta=np.array(meta, np.int64).reshape(-1, 3), arrived=np.array(arrived, np.int64))
    print(json.dumps({"found": True, "name": found.ndi_name, "found_s": round(found_s, 3),
                      "frames": len(pixels)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), sys.argv[3])

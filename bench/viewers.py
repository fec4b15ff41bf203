"""The most viewers one box holds: `python -m bench.viewers [--paths websocket webrtc janus]
[--max 256] [--seconds 4] [--resolution 128] [--json]` (root).

bench/webrtc.py watches with Chromium pages, of which these two cores run only a few. Here the
viewers are headless Python peers instead (websockets clients; aiortc peer connections that
receive and decode VP8, straight from livegen's webrtc output or through Janus's streaming
plugin), spread over viewer processes beside the server, in a network namespace of its own
(ICE needs a non-loopback interface). Per path, the viewer count doubles until a viewer gets
under FULL_RATE of the 30 fps stream, or a viewer cannot connect. Per count: frames a second
each viewer got, CPU seconds a second of livegen, of Janus and of the viewers themselves.
The viewers share the machine with the server, so the count held is what this box holds with
its audience on it too; the CPU figures say what each part costs a viewer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.machine import ROOT, info
from bench.webrtc import JANUS_API, control, patch, window

FPS = 30.0  # the patch's rate
FULL_RATE = 0.9  # a viewer at under this fraction of FPS is not held
WORKERS = 4  # viewer processes (each an event loop; aiortc's decoders run in threads of their own)
CONNECT_S = 90.0  # how long the viewers of one count may take to connect and see frames


# -- one viewer process ---------------------------------------------------------------------
class Viewer:
    """One headless viewer: frames counted from when the bench says start."""

    def __init__(self) -> None:
        self.frames = 0
        self.error: str | None = None


async def ws_viewer(url: str, viewer: Viewer) -> None:
    """Frames over livegen's WebSocket (binary messages)."""
    from websockets.asyncio.client import connect

    async with connect(url, max_size=2**24, compression=None) as ws:
        async for message in ws:
            if isinstance(message, bytes):
                viewer.frames += 1


async def receive(pc: Any, viewer: Viewer) -> None:
    """Count the decoded frames of the peer connection's one video track, until it ends."""
    from aiortc.mediastreams import MediaStreamError

    track = await wait_for_track(pc)
    while True:
        try:
            await track.recv()
        except MediaStreamError:
            return
        viewer.frames += 1


async def wait_for_track(pc: Any) -> Any:
    """The first remote track of `pc`."""
    got: asyncio.Future = asyncio.get_running_loop().create_future()
    pc.on("track", lambda track: got.done() or got.set_result(track))
    return await got


async def rtc_viewer(signal_url: str, viewer: Viewer) -> None:
    """Straight from livegen's webrtc output: our offer over its signalling socket, its answer."""
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from websockets.asyncio.client import connect

    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("video", direction="recvonly")
        counting = asyncio.ensure_future(receive(pc, viewer))
        await pc.setLocalDescription(await pc.createOffer())  # (gathers its candidates)
        async with connect(signal_url) as ws:
            await ws.send(json.dumps({"op": "offer", "sdp": pc.localDescription.sdp}))
            reply = json.loads(await ws.recv())
            if reply.get("op") != "answer":
                raise RuntimeError(f"refused: {reply}")
            await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
            await counting
    finally:
        await pc.close()


def janus_post(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """One request to Janus's HTTP API; its error as an exception."""
    data = json.dumps({"transaction": str(time.monotonic_ns()), **body}).encode()
    request = urllib.request.Request(JANUS_API + path, data=data, method="POST")
    with urllib.request.urlopen(request, timeout=30) as reply:  # (loopback: Janus on this host)
        answer = json.load(reply)
    if answer.get("janus") == "error":
        raise RuntimeError(answer["error"]["reason"])
    return answer


def janus_offer(session: int) -> dict[str, Any]:
    """Long-poll the session's events until the plugin's offer comes."""
    deadline = time.monotonic() + CONNECT_S
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{JANUS_API}/{session}?maxev=1", timeout=40) as reply:
            event = json.load(reply)
        if event.get("janus") == "event" and event.get("jsep", {}).get("type") == "offer":
            return event["jsep"]
        error = event.get("plugindata", {}).get("data", {}).get("error")
        if error:
            raise RuntimeError(error)
    raise TimeoutError("Janus sent no offer")


async def janus_viewer(mount: int, viewer: Viewer) -> None:
    """Through Janus's streaming plugin: watch the mountpoint, answer Janus's offer."""
    from aiortc import RTCPeerConnection, RTCSessionDescription

    session = (await asyncio.to_thread(janus_post, "", {"janus": "create"}))["data"]["id"]
    handle = (await asyncio.to_thread(janus_post, f"/{session}", {
        "janus": "attach", "plugin": "janus.plugin.streaming"}))["data"]["id"]
    offered = asyncio.ensure_future(asyncio.to_thread(janus_offer, session))
    await asyncio.to_thread(janus_post, f"/{session}/{handle}", {
        "janus": "message", "body": {"request": "watch", "id": mount}})
    offer = await offered
    pc = RTCPeerConnection()
    try:
        counting = asyncio.ensure_future(receive(pc, viewer))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await asyncio.to_thread(janus_post, f"/{session}/{handle}", {
            "janus": "message", "body": {"request": "start"},
            "jsep": {"type": "answer", "sdp": pc.localDescription.sdp}})
        while not counting.done():  # Janus ends a session after 60 s without a word
            await asyncio.wait([counting], timeout=20)
            await asyncio.to_thread(janus_post, f"/{session}", {"janus": "keepalive"})
        await counting
    finally:
        await pc.close()


async def worker(kind: str, target: str, count: int) -> None:
    """COUNT viewers; 'ready' on stdout once each has frames, then frame counts from the line
    'start' to the line 'stop' on stdin, as JSON."""
    viewers = [Viewer() for _ in range(count)]
    run = {"websocket": ws_viewer, "webrtc": rtc_viewer, "janus": janus_viewer}[kind]

    async def one(viewer: Viewer) -> None:
        try:
            await run(int(target) if kind == "janus" else target, viewer)  # type: ignore[arg-type]
        except Exception as e:
            viewer.error = f"{type(e).__name__}: {e}"[:200]

    tasks = [asyncio.ensure_future(one(v)) for v in viewers]
    deadline = time.monotonic() + CONNECT_S
    while any(v.frames < 5 and v.error is None for v in viewers) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    stdin = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    print("ready", flush=True)
    await stdin.readline()
    start, t0 = [v.frames for v in viewers], time.monotonic()
    await stdin.readline()
    dt = time.monotonic() - t0
    fps = [(v.frames - f) / dt for v, f in zip(viewers, start, strict=True)]
    errors = [v.error for v in viewers if v.error]
    print(json.dumps({"fps": fps, "errors": errors}), flush=True)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# -- the bench, inside the namespace --------------------------------------------------------
def hold(kind: str, target: str, n: int, seconds: float, pids: list[int]) -> dict[str, Any]:
    """N viewers of one path over WORKERS processes: their fps, and the CPU of every part."""
    counts = [n // WORKERS + (i < n % WORKERS) for i in range(min(WORKERS, n))]
    procs = [subprocess.Popen([sys.executable, "-m", "bench.viewers", "--worker", kind, target, str(c)],
                              cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for c in counts]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdin is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError(f"a viewer process ended before its viewers connected ({kind})")
        for proc in procs:
            proc.stdin.write("start\n")  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
        cpu, _ = window(pids + [p.pid for p in procs], seconds)
        for proc in procs:
            proc.stdin.write("stop\n")  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
        results = [json.loads(proc.stdout.readline()) for proc in procs]  # type: ignore[union-attr]
    finally:
        for proc in procs:
            try:
                proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    fps = [f for r in results for f in r["fps"]]
    errors = [e for r in results for e in r["errors"]]
    row = {"path": kind, "viewers": n, "fps_min": round(min(fps), 2),
           "fps_mean": round(statistics.mean(fps), 2), "livegen_cpu_per_s": round(cpu[0], 3),
           "viewers_cpu_per_s": round(sum(cpu[len(pids):]), 3),
           "held": not errors and min(fps) >= FULL_RATE * FPS}
    if len(pids) > 1:
        row["janus_cpu_per_s"] = round(cpu[1], 3)
    if errors:
        row["errors"] = sorted(set(errors))[:3]
    return row


def main(argv: list[str]) -> None:
    """Inside the namespace: every path's count doubled until it no longer holds."""
    from tests.conftest import start_server
    from tests.janus_check import start_janus

    p = argparse.ArgumentParser()
    p.add_argument("--paths", nargs="+", default=["websocket", "webrtc", "janus"],
                   choices=["websocket", "webrtc", "janus"])
    p.add_argument("--max", type=int, default=256, help="most viewers tried on a path")
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--resolution", type=int, default=128)
    p.add_argument("--bitrate", type=int, default=500, help="the webrtc output's kbit/s")
    p.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = p.parse_args([a for a in argv if a != "--inside"])
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        want_janus = "janus" in args.paths and shutil.which("janus") is not None
        janus = start_janus(Path(tmp) / "janus.log") if want_janus else None
        path = Path(tmp) / "viewers.toml"
        path.write_text(patch(args.resolution, args.bitrate).replace("viewers = 64", "viewers = 256"))
        server = start_server(patch=path)
        try:
            for kind in args.paths:
                if kind == "janus" and janus is None:
                    rows.append({"path": kind, "error": "janus is not installed (make deps)"})
                    continue
                output = {"webrtc": "web", "janus": "audience"}.get(kind)
                if output:
                    control(server.ws, f"/outputs/{output}/on", True)
                    time.sleep(1.0)
                target = {"websocket": server.ws, "janus": "1",
                          "webrtc": server.get_json("/status")["outputs"]["web"].get("url") or ""}[kind]
                pids = [server.proc.pid] + ([janus.pid] if kind == "janus" and janus else [])
                n = 1
                while n <= args.max:
                    try:
                        row = hold(kind, target, n, args.seconds, pids)
                    except Exception as e:  # a count that did not connect: say so, stop there
                        row = {"path": kind, "viewers": n, "held": False, "error": str(e)[:300]}
                    print(json.dumps(row), file=sys.stderr, flush=True)
                    rows.append(row)
                    if not row["held"]:
                        break
                    n *= 2
                if output:
                    control(server.ws, f"/outputs/{output}/on", False)
        finally:
            try:
                server.stop()
            finally:
                if janus is not None:
                    janus.terminate()
                    janus.wait(10)
    print(json.dumps({"machine": info("cpu"), "resolution": args.resolution, "bitrate": args.bitrate,
                      "seconds": args.seconds, "full_rate": FULL_RATE * FPS, "rows": rows}), flush=True)


def table(result: dict[str, Any]) -> str:
    """The rows as a Markdown table, and the most viewers each path held."""
    lines = ["| path | viewers | fps min / mean | livegen CPU s/s | Janus CPU s/s | viewers' CPU s/s "
             "| held |", "| --- | --- | --- | --- | --- | --- | --- |"]
    most: dict[str, int] = {}
    for r in result["rows"]:
        if "fps_min" not in r:
            lines.append(f"| {r['path']} | {r.get('viewers', '')} | {r.get('error', '')} | | | | no |")
            continue
        held = "yes" if r["held"] else "no " + "; ".join(r.get("errors", []))
        lines.append(f"| {r['path']} | {r['viewers']} | {r['fps_min']} / {r['fps_mean']} | "
                     f"{r['livegen_cpu_per_s']} | {r.get('janus_cpu_per_s', '')} | "
                     f"{r['viewers_cpu_per_s']} | {held} |")
        if r["held"]:
            most[r["path"]] = max(most.get(r["path"], 0), r["viewers"])
    lines.append(f"most viewers held at {result['full_rate']:.0f} fps or more each: " + json.dumps(most))
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        asyncio.run(worker(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    elif "--inside" in sys.argv:
        main(sys.argv[1:])
    else:  # into a network namespace of its own, then print a table
        proc = subprocess.run(["unshare", "-n", sys.executable, "-m", "tests.netns", "bench.viewers",
                               "--inside", *sys.argv[1:]], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            sys.exit(proc.stdout[-3000:])
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        if "--json" in sys.argv:
            print(json.dumps(result))
        else:
            print("machine:", json.dumps(result["machine"]))
            print(table(result))

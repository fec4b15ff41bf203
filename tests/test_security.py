"""Who may steer the show: the token, the Origin check and the OSC allowlist, through a real
server, a real WebSocket client, real UDP OSC and an OSCQuery WebSocket."""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import socket
import subprocess
import sys
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from live.security import Access, check_exposure, exposure, is_loopback
from tests.conftest import PATCHES, ROOT, start_server
from tests.livetools import osc, write_patch

TOKEN = "stage-door-42"


def test_the_rules_themselves() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    with pytest.raises(ValueError, match="--token"):
        check_exposure("0.0.0.0", Access(), insecure=False)
    check_exposure("0.0.0.0", Access(token=TOKEN), insecure=False)
    check_exposure("0.0.0.0", Access(), insecure=True)
    check_exposure("127.0.0.1", Access(), insecure=False)
    assert "NO TOKEN" in exposure("0.0.0.0", Access())
    access = Access.from_settings(TOKEN, ["http://show.local:8765/"], ["10.0.0.0/24"], True)
    assert access.origin_ok(None, "127.0.0.1:8765")  # not a browser
    assert access.origin_ok("http://127.0.0.1:8765", "127.0.0.1:8765")  # the server's own page
    assert access.origin_ok("http://show.local:8765", "10.0.0.2:8765")  # listed
    assert not access.origin_ok("https://evil.example", "127.0.0.1:8765")
    assert not access.origin_ok("null", "127.0.0.1:8765")  # a file:// page or a sandbox
    assert access.token_ok(TOKEN) and not access.token_ok("stage-door-43")
    assert not access.token_ok(None) and not access.token_ok(42)
    assert access.url_token(f"/ws?token={TOKEN}") == TOKEN and access.url_token("/ws") is None
    assert access.osc_ok("10.0.0.9") and not access.osc_ok("10.0.1.9")
    assert access.osc_allow == (ipaddress.ip_network("10.0.0.0/24"),)


@pytest.mark.parametrize(("settings", "words"), [
    (("short", [], [], False), "at least 8"),
    ((TOKEN, "http://x", [], False), "origins"),
    ((TOKEN, [], ["10.0.0.300"], False), "osc_allow"),
    ((TOKEN, [], [], "yes"), "public_frames"),
    ((TOKEN, [], [], False, 0), "control_per_s"),
    ((TOKEN, [], [], False, True), "control_per_s"),
    ((TOKEN, [], [], False, "fast"), "control_per_s"),
])
def test_bad_settings_are_refused(settings: tuple, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Access.from_settings(*settings)


def test_a_public_address_without_a_token_does_not_start() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "server.py"), "--patch",
                           str(PATCHES / "small.toml"), "--host", "0.0.0.0", "--port", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "cannot start" in proc.stderr and "--token" in proc.stderr and "--insecure" in proc.stderr


def recv_reply(ws, op: str | None = None) -> dict:
    """The next JSON reply (skipping frames and other topics' events)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        msg = ws.recv(timeout=10)
        if isinstance(msg, str):
            data = json.loads(msg)
            if data.get("op") in ("ack", "error") and (op is None or data["op"] == op):
                return data
    raise TimeoutError(op)


def test_control_needs_the_token_and_other_sites_cannot_connect(tmp_path) -> None:
    patch = write_patch(tmp_path, (PATCHES / "small.toml").read_text()
                        + '\n[server]\nosc_allow = ["10.9.8.0/24"]\n')
    server = start_server("--token", TOKEN, patch=patch)
    try:
        before = server.param("/visual/speed")
        with connect(server.ws, compression=None) as ws:  # no token: refused, nothing moves
            ws.send(json.dumps({"op": "set", "path": "/visual/speed", "value": 3.0, "id": 1}))
            reply = recv_reply(ws)
            assert reply["op"] == "error" and "token" in reply["message"], reply
            ws.send(json.dumps({"op": "subscribe", "topics": ["frames"]}))
            assert recv_reply(ws)["op"] == "error"  # frames are not public in this patch
            ws.send(b"LGF1 not a frame")
            assert "token" in recv_reply(ws)["message"]
            ws.send(json.dumps({"op": "auth", "token": "wrong-token"}))
            assert "wrong token" in recv_reply(ws)["message"]
            assert server.param("/visual/speed") == before
            ws.send(json.dumps({"op": "auth", "token": TOKEN}))
            assert recv_reply(ws)["op"] == "ack"
            ws.send(json.dumps({"op": "set", "path": "/visual/speed", "value": 3.0, "id": 2}))
            assert recv_reply(ws)["op"] == "ack"
        assert server.param("/visual/speed") == 3.0
        with connect(f"{server.ws}?token={TOKEN}", compression=None) as ws:
            ws.send(json.dumps({"op": "set", "path": "/visual/speed", "value": 2.0}))
            assert recv_reply(ws)["op"] == "ack"
        own = f"http://127.0.0.1:{server.ready['http_port']}"
        with connect(server.ws, compression=None, origin=own) as ws:  # the server's own page
            ws.send(json.dumps({"op": "get", "path": "/visual/speed"}))
        with pytest.raises(InvalidStatus) as refused:  # a page on another site
            connect(server.ws, compression=None, origin="https://evil.example").close()
        assert refused.value.response.status_code == 403
        # OSC from a source outside osc_allow (this machine) moves nothing and gets no reply.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(0.5)
            for _ in range(20):
                s.sendto(osc("/visual/speed", 0.25), server.osc)
            with pytest.raises(TimeoutError):
                s.recvfrom(65536)
        with connect(f"ws://127.0.0.1:{server.ready['oscquery_port']}/", compression=None) as oq:
            oq.send(osc("/visual/speed", 0.25))
            notice = json.loads(oq.recv(timeout=10))
            assert "osc_allow" in json.dumps(notice)
        assert server.param("/visual/speed") == 2.0
        assert server.proc.poll() is None
    finally:
        assert server.stop() == 0
    log = "".join(server.stderr_lines)
    assert "WebSocket control needs the token" not in log  # loopback: only this machine
    assert "OSC from 127.0.0.1 refused" in log and "origin https://evil.example refused" in log


def test_public_frames_let_visitors_watch_but_not_steer(tmp_path) -> None:
    patch = write_patch(tmp_path, (PATCHES / "small.toml").read_text()
                        + "\n[server]\npublic_frames = true\n")
    server = start_server("--token", TOKEN, patch=patch)
    try:
        with connect(server.ws, compression=None) as ws:
            ws.send(json.dumps({"op": "subscribe", "topics": ["frames"]}))
            assert recv_reply(ws)["op"] == "ack"
            deadline = time.monotonic() + 10
            while not isinstance(ws.recv(timeout=10), bytes):  # a frame comes
                assert time.monotonic() < deadline
            ws.send(json.dumps({"op": "set", "path": "/visual/speed", "value": 3.0}))
            assert "token" in recv_reply(ws, "error")["message"]
        assert server.param("/visual/speed") != 3.0
    finally:
        assert server.stop() == 0


def test_nothing_unpickles_and_the_page_never_parses_text_as_html() -> None:
    """Weights, checkpoints and state load without pickle; the page shows words (prompts, the
    server's errors) as text, so a visitor's `<script>` stays text."""
    # (np.load refuses pickles unless told allow_pickle=True.)
    unpickling = ("import pickle", "from pickle", "torch.load(", "allow_pickle=True",
                  "import dill", "import joblib", "yaml.load(")
    found = []
    for folder in ("live", "models", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text()
            found += [f"{path.relative_to(ROOT)}: {word}" for word in unpickling if word in text]
    found += [f"server.py: {w}" for w in unpickling if w in (ROOT / "server.py").read_text()]
    assert found == []
    html_sinks = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                  "new Function(")
    web = ROOT / "live" / "web"
    pages = sorted(web.glob("*.js")) + sorted(web.glob("*.html"))
    assert len(pages) > 5
    found = [f"{p.name}: {w}" for p in pages for w in html_sinks if w in p.read_text()]
    assert found == []


@pytest.mark.skipif(importlib.util.find_spec("aiortc") is None,
                    reason="aiortc is not installed (pip install 'livegen[webrtc]')")
def test_webrtc_signalling_needs_the_token_and_answers_junk_with_errors(tmp_path) -> None:
    patch = write_patch(tmp_path, (PATCHES / "small.toml").read_text()
                        + '\n[outputs.web]\nkind = "webrtc"\nvoice = "visual"\n')
    server = start_server("--token", TOKEN, patch=patch)
    try:
        url = next(o["url"] for o in server.get_json("/status")["outputs"].values()
                   if o["kind"] == "webrtc")
        with connect(url, compression=None) as ws:  # no token: told so, and closed
            reply = json.loads(ws.recv(timeout=10))
            assert reply["op"] == "error" and "token" in reply["message"], reply
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)
        junk = ["not json {", json.dumps([1, 2]), json.dumps({"op": "answer", "sdp": "x"}),
                json.dumps({"op": "offer", "sdp": 5}),
                json.dumps({"op": "offer", "sdp": "v=0\r\no=junk\r\n" + "a=x\r\n" * 50})]
        with connect(f"{url}?token={TOKEN}", compression=None) as ws:
            for message in junk:
                ws.send(message)
                reply = json.loads(ws.recv(timeout=30))
                assert reply["op"] == "error" and reply["message"], (message, reply)
        with connect(f"{url}?token={TOKEN}", compression=None) as ws:  # over the size limit
            ws.send("x" * (65 * 1024))
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)
        assert server.get("/status")[0] == 200 and server.proc.poll() is None
    finally:
        assert server.stop() == 0
    log = "".join(server.stderr_lines)
    assert "Traceback" not in log, log[-3000:]

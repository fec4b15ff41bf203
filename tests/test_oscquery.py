"""OSCQuery on a real server: the namespace against /schema, HOST_INFO, attribute queries and
errors, LISTEN/IGNORE over a real WebSocket, a stalled listener, mDNS found by a zeroconf
browser, the third-party python-oscquery client, and start-up without zeroconf or on a busy port."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from pythonosc.osc_message import OscMessage
from websockets.asyncio.client import ClientConnection, connect

from live.io.osc import build_message
from tests.conftest import PATCHES, ROOT, Server, poll_until, start_server
from tests.livetools import recv_json, send

zeroconf = pytest.importorskip("zeroconf", reason="zeroconf is not installed (pip install -e .)")


def oq_get(server: Server, target: str) -> tuple[int, bytes]:
    """HTTP GET on the server's OSCQuery port: (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.ready["oscquery_port"], timeout=10)
    try:
        conn.request("GET", target)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def oq_json(server: Server, target: str) -> Any:
    status, body = oq_get(server, target)
    assert status == 200, (target, status, body[:300])
    return json.loads(body)


def oq_ws(server: Server, **kw: Any):
    return connect(f"ws://127.0.0.1:{server.ready['oscquery_port']}/", compression=None, **kw)


def listeners(server: Server) -> int:
    return server.get_json("/status")["oscquery"]["listeners"]


async def wait_listeners(server: Server, n: int) -> None:
    """Until /status counts n listened paths: the commands were applied."""
    await asyncio.to_thread(poll_until, lambda: listeners(server) == n, 10.0)
    assert listeners(server) == n


async def recv_osc(ws: ClientConnection, address: str, timeout: float = 10.0) -> OscMessage:
    """The next OSC message (a binary frame) for address, skipping JSON notices."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.recv()
            if isinstance(msg, bytes) and (osc := OscMessage(msg)).address == address:
                return osc


async def no_osc(ws: ClientConnection, seconds: float) -> list[bytes]:
    """Binary frames that arrive within seconds (expected: none)."""
    got: list[bytes] = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                msg = await ws.recv()
                if isinstance(msg, bytes):
                    got.append(msg)
    except TimeoutError:
        pass
    return got


def osc_form(param: dict[str, Any]) -> tuple[str, list[Any]]:
    """What the namespace should say for a /schema entry: (TYPE, VALUE)."""
    value = param["value"]
    if param["type"] == "phrase":
        return "s", [" ".join(str(p) for p in value)]
    values = value if isinstance(value, list) else [value]
    tag = {"float": "f", "int": "i", "bool": "T", "vector": "f"}.get(param["type"], "s")
    return tag * len(values), values


def walk(node: dict[str, Any], out: dict[str, dict[str, Any]]) -> None:
    out[node["FULL_PATH"]] = node
    for name, child in node.get("CONTENTS", {}).items():
        assert child["FULL_PATH"] == node["FULL_PATH"].rstrip("/") + "/" + name
        walk(child, out)


def in_thread(fn: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Run a blocking third-party call with a bound on how long it may take."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result(timeout)


def test_namespace_matches_schema(server: Server) -> None:
    schema = server.get_json("/schema")["params"]
    nodes: dict[str, dict[str, Any]] = {}
    walk(oq_json(server, "/"), nodes)
    assert nodes["/"]["ACCESS"] == 0 and nodes["/visual"]["ACCESS"] == 0
    assert set(nodes["/visual"]["CONTENTS"]) >= {"speed", "mode", "xy", "latent", "seed"}
    for param in schema:
        node = nodes[param["path"]]
        tags, values = osc_form(param)
        assert node["ACCESS"] == (1 if param.get("readonly") else 3), node
        assert node["TYPE"] == tags, (node, param)
        if not param.get("readonly"):  # a measurement changes between the two requests
            assert node["VALUE"] == values, (node, param)
        assert node["DESCRIPTION"] == param["doc"]
        if "choices" in param:
            assert node["RANGE"] == [{"VALS": param["choices"]}]
        elif "range" in param:
            lo, hi = param["range"]
            assert node["RANGE"] == [{"MIN": lo, "MAX": hi}] * len(values), node
        else:
            assert "RANGE" not in node
    methods = {p for p, n in nodes.items() if n.get("ACCESS") in (1, 3)}
    assert methods == {p["path"] for p in schema}
    assert nodes["/analysis/visual/brightness"]["ACCESS"] == 1  # read only
    # The commands (OSC addresses that are not parameters): write-only methods when they take
    # arguments, nodes without a value when they take none.
    commands = {p: n for p, n in nodes.items() if n["ACCESS"] == 2}
    assert {"/preset/recall", "/preset/morph", "/learn/start", "/visual/bookmark/store"} <= set(commands)
    assert commands["/preset/morph"]["TYPE"] == "ssf" and commands["/preset/morph"]["VALUE"] == ["", "", 0.0]
    assert all(n["DESCRIPTION"] for n in commands.values())
    for bare in ("/patch/reload", "/status/subscribe", "/learn/save"):
        assert nodes[bare]["ACCESS"] == 0 and "TYPE" not in nodes[bare] and nodes[bare]["DESCRIPTION"]
    assert oq_get(server, "/preset/recall?VALUE") == (204, b"")  # write only
    assert server.get_json("/status")["oscquery"]["commands_undescribed"] == []
    assert nodes["/clock/bpm"]["UNIT"] == ["time.bpm"]
    assert len(nodes["/visual/latent"]["TYPE"]) == len(nodes["/visual/latent"]["VALUE"]) > 2
    # A container alone: the same subtree.
    visual = oq_json(server, "/visual")
    assert visual == json.loads(json.dumps(oq_json(server, "/")["CONTENTS"]["visual"]))


def test_host_info(server: Server) -> None:
    info = oq_json(server, "/?HOST_INFO")
    assert info["NAME"] == "livegen"
    assert info["OSC_PORT"] == server.ready["osc_port"] and info["OSC_TRANSPORT"] == "UDP"
    assert info["OSC_IP"] == info["WS_IP"] == "127.0.0.1"
    assert info["WS_PORT"] == server.ready["oscquery_port"]
    ext = info["EXTENSIONS"]
    for key in ("ACCESS", "VALUE", "RANGE", "DESCRIPTION", "LISTEN", "PATH_ADDED", "PATH_REMOVED"):
        assert ext[key] is True, key
    assert ext["CLIPMODE"] is False
    assert oq_json(server, "/visual/speed?HOST_INFO") == info  # the path does not matter


def test_attribute_queries_and_errors(server: Server) -> None:
    send(server, "/visual/truncation", 0.25)
    poll_until(lambda: server.param("/visual/truncation") == 0.25, 5.0)
    assert oq_json(server, "/visual/truncation?VALUE") == {"VALUE": [0.25]}
    modes = ["walk", "loop", "hold", "xy", "recommend"]
    assert oq_json(server, "/visual/mode?RANGE") == {"RANGE": [{"VALS": modes}]}
    assert oq_json(server, "/visual/xy?TYPE") == {"TYPE": "ff"}
    assert oq_json(server, "/visual/seed?ACCESS") == {"ACCESS": 3}
    assert oq_json(server, "/visual/speed/?FULL_PATH") == {"FULL_PATH": "/visual/speed"}
    assert oq_json(server, "/visual?TYPE") == {}  # a container has no type
    assert oq_json(server, "/visual/mode?UNIT") == {}
    assert oq_get(server, "/visual?VALUE") == (204, b"")
    status, body = oq_get(server, "/visual/nope")
    assert status == 404 and b"/visual/nope" in body
    assert oq_get(server, "/nope?VALUE")[0] == 404
    status, body = oq_get(server, "/visual/speed?GABBAGABBAHEY")
    assert status == 400 and b"unknown attribute" in body and b"GABBAGABBAHEY" in body
    status, body = oq_get(server, "/visual/speed?CLIPMODE")
    assert status == 400 and b"not supported" in body


async def test_listen_streams_osc_from_other_clients_and_ignore_stops(server: Server) -> None:
    async with oq_ws(server) as ws, connect(server.ws, compression=None) as other:
        await other.send(json.dumps({"op": "subscribe", "topics": []}))
        await ws.send(json.dumps({"COMMAND": "LISTEN", "DATA": "/visual/speed"}))
        await ws.send(json.dumps({"COMMAND": "LISTEN", "DATA": "/visual/xy"}))
        await wait_listeners(server, 2)
        send(server, "/visual/speed", 2.5)  # OSC over UDP
        msg = await recv_osc(ws, "/visual/speed")
        assert list(msg.params) == [2.5]
        await other.send(json.dumps({"op": "set", "path": "/visual/xy", "value": [0.5, -0.25]}))
        msg = await recv_osc(ws, "/visual/xy")
        assert list(msg.params) == [0.5, -0.25]
        # Bad commands: an ERROR notice naming what was wrong; the connection goes on.
        for bad, words in ((json.dumps({"COMMAND": "LISTEN", "DATA": "/nope"}), "/nope"),
                           (json.dumps({"COMMAND": "FLY", "DATA": "/visual/speed"}), "FLY"),
                           ("{not json", "malformed JSON")):
            await ws.send(bad)
            async with asyncio.timeout(5):
                notice = json.loads(await ws.recv())
            assert notice["COMMAND"] == "ERROR" and words in notice["DATA"], notice
        await ws.send(json.dumps({"COMMAND": "IGNORE", "DATA": "/visual/speed"}))
        await wait_listeners(server, 1)
        send(server, "/visual/speed", 1.0)
        poll_until(lambda: server.param("/visual/speed") == 1.0, 5.0)
        await other.send(json.dumps({"op": "set", "path": "/visual/xy", "value": [0, 0]}))
        await recv_osc(ws, "/visual/xy")  # still listened to
        assert [OscMessage(m).address for m in await no_osc(ws, 1.0)] == []
    await wait_listeners(server, 0)  # a closed connection listens to nothing


async def test_osc_packets_over_the_websocket_set_parameters(server: Server) -> None:
    async with oq_ws(server) as ws:
        await ws.send(json.dumps({"COMMAND": "LISTEN", "DATA": "/visual/seed"}))
        await wait_listeners(server, 1)
        await ws.send(build_message("/visual/seed", [77]).dgram)
        msg = await recv_osc(ws, "/visual/seed")
        assert list(msg.params) == [77]
        assert server.param("/visual/seed") == 77
        await ws.send(build_message("/visual/seed", [-5]).dgram)
        async with asyncio.timeout(5):
            notice = json.loads(await ws.recv())
        assert notice["COMMAND"] == "ERROR" and "/visual/seed" in notice["DATA"]
    assert server.param("/visual/seed") == 77


async def test_stalled_listener_loses_old_values_and_slows_nobody(server: Server) -> None:
    listen = json.dumps({"COMMAND": "LISTEN", "DATA": "/visual/latent"})
    n = len(server.param("/visual/latent"))
    # A tiny receive buffer that is never read: the server's writes to it stall at once.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.ready["oscquery_port"]))
    async with oq_ws(server, sock=sock, max_queue=1, close_timeout=1) as stalled, \
            oq_ws(server) as reader:
        await stalled.send(listen)
        await reader.send(listen)
        await wait_listeners(server, 2)
        async with connect(server.ws, compression=None) as ctl:
            await ctl.send(json.dumps({"op": "subscribe", "topics": []}))
            t0 = time.monotonic()
            for i in range(600):  # 600 latents of ~n*4 bytes each: far more than the buffers hold
                await ctl.send(json.dumps({"op": "set", "path": "/visual/latent",
                                           "value": [(i % 100) / 100] * n, "id": i}))
            await ctl.send(json.dumps({"op": "set", "path": "/visual/latent", "value": [-1.0] * n,
                                       "id": "last"}))
            ack = await recv_json(ctl, "ack", timeout=20)
            while ack["id"] != "last":
                ack = await recv_json(ctl, "ack", timeout=20)
            elapsed = time.monotonic() - t0
        async with asyncio.timeout(20):
            while list((await recv_osc(reader, "/visual/latent")).params) != [-1.0] * n:
                pass
        t1 = time.monotonic()
        assert oq_get(server, "/visual/latent?TYPE")[0] == 200  # HTTP still answers
        assert time.monotonic() - t1 < 2.0
        assert elapsed < 20
        status = server.get_json("/status")["oscquery"]
        assert status["clients"] >= 2 and status["listeners"] == 2
        assert status["dropped"] > 0  # the stalled client lost old values, newest kept


def browse(kind: str, port: int, timeout: float = 15.0) -> Any:
    """A zeroconf browser on loopback: the ServiceInfo of the `kind` service on `port`."""
    from zeroconf import IPVersion, ServiceBrowser, ServiceStateChange, Zeroconf

    zc = Zeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    found: list[Any] = []
    done = threading.Event()

    def on_change(zeroconf: Zeroconf, service_type: str, name: str,
                  state_change: ServiceStateChange) -> None:
        if state_change is not ServiceStateChange.Removed:
            info = zeroconf.get_service_info(service_type, name, timeout=3000)
            if info is not None and info.port == port:
                found.append(info)
                done.set()

    browser = ServiceBrowser(zc, kind, handlers=[on_change])
    try:
        done.wait(timeout)
    finally:
        browser.cancel()
        zc.close()
    assert found, f"no {kind} service on port {port} within {timeout} s"
    return found[0]


def test_mdns_advertises_both_services(server: Server) -> None:
    info = browse("_oscjson._tcp.local.", server.ready["oscquery_port"])
    assert info.parsed_addresses() == ["127.0.0.1"]
    assert info.name.startswith("livegen")
    osc = browse("_osc._udp.local.", server.ready["osc_port"])
    assert osc.parsed_addresses() == ["127.0.0.1"]
    poll_until(lambda: server.get_json("/status")["oscquery"]["mdns"]["state"] == "on", 10.0)
    mdns = server.get_json("/status")["oscquery"]["mdns"]
    assert mdns["state"] == "on" and info.name in mdns["services"]


def test_python_oscquery_client_reads_namespace_and_value(server: Server) -> None:
    client_mod = pytest.importorskip("pythonoscquery.osc_query_client",
                                     reason="python-oscquery is not installed (pip install -e .[dev])")
    send(server, "/visual/speed", 3.5)
    poll_until(lambda: server.param("/visual/speed") == 3.5, 5.0)
    info = browse("_oscjson._tcp.local.", server.ready["oscquery_port"])
    client = client_mod.OSCQueryClient(info)
    host = in_thread(client.get_host_info)
    assert host.name == "livegen" and host.osc_port == server.ready["osc_port"]
    assert host.osc_transport == "UDP"
    root = in_thread(lambda: client.query_node("/"))
    paths = {node.full_path: node for node in root}
    assert {p["path"] for p in server.get_json("/schema")["params"]} <= set(paths)
    assert paths["/visual/speed"].value == [3.5]
    assert paths["/visual/mode"].value == [server.param("/visual/mode")]
    assert paths["/visual"].is_container and paths["/visual"].access == 0
    speed = in_thread(lambda: client.query_node("/visual/speed"))
    assert speed.value == [3.5] and speed.access == 3
    assert in_thread(lambda: client.query_node("/visual/nope")) is None  # its 404


def test_runs_without_zeroconf_and_says_why(tmp_path: Path) -> None:
    blocker = tmp_path / "zeroconf"
    blocker.mkdir()
    (blocker / "__init__.py").write_text('raise ImportError("zeroconf blocked by the test")\n')
    srv = start_server(env={"PYTHONPATH": str(tmp_path)})
    try:
        assert oq_json(srv, "/visual/speed?TYPE") == {"TYPE": "f"}
        poll_until(lambda: srv.get_json("/status")["oscquery"]["mdns"]["state"] == "off"
                   and any("mDNS off" in line for line in srv.stderr_lines), 10.0)
        mdns = srv.get_json("/status")["oscquery"]["mdns"]
        assert mdns["state"] == "off" and "zeroconf" in mdns["why"], mdns
        lines = [line for line in srv.stderr_lines if "mDNS off" in line]
        assert len(lines) == 1 and "zeroconf" in lines[0]
    finally:
        assert srv.stop() == 0


def test_busy_oscquery_port_stops_startup() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run([sys.executable, str(ROOT / "server.py"), "--patch",
                               str(PATCHES / "small.toml"), "--port", "0", "--osc-port", "0",
                               "--oscquery-port", str(port)],
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"cannot listen for OSCQuery on 127.0.0.1:{port}" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


async def test_namespace_changes_and_changes_from_other_threads_in_process() -> None:
    # No patch reload exists yet to change a running server's namespace, so this one builds the
    # OSCQuery server in this process around a registry of its own.
    from live.io.oscquery import OscQueryServer
    from live.params import FloatParam, Registry

    registry = Registry()
    registry.add(FloatParam("/a/x", 0.5, "x", lo=0, hi=1))
    oq = OscQueryServer(registry, "127.0.0.1", 9, asyncio.get_running_loop())
    port = await oq.start(0)
    try:
        async with connect(f"ws://127.0.0.1:{port}/", compression=None) as ws:
            await ws.send(json.dumps({"COMMAND": "LISTEN", "DATA": "/a/x"}))
            async with asyncio.timeout(5):
                while oq.status()["listeners"] != 1:
                    await asyncio.sleep(0.01)
            # A change from another thread hops onto the loop and streams.
            await asyncio.to_thread(registry.set, "/a/x", 0.75, "test")
            assert list((await recv_osc(ws, "/a/x")).params) == [0.75]
            registry.add(FloatParam("/b/y", 1.0, "y"))
            oq.refresh()
            async with asyncio.timeout(5):
                assert json.loads(await ws.recv()) == {"COMMAND": "PATH_ADDED", "DATA": "/b/y"}
            del registry.params["/a/x"]
            await asyncio.sleep(1.5)  # the server's own look at the namespace, once a second
            async with asyncio.timeout(5):
                assert json.loads(await ws.recv()) == {"COMMAND": "PATH_REMOVED", "DATA": "/a/x"}
            assert oq.status()["listeners"] == 0  # a removed method is no longer listened to
    finally:
        await oq.stop()

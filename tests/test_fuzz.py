"""Junk moves nothing: the issue's 20,000 fuzzed OSC datagrams and 2,000 WebSocket messages,
with 1,000 junk GETs (HTTP and OSCQuery) and 1,000 junk OSCQuery WebSocket messages among them,
against a real server (the junk itself is bench/fuzz.py's, which runs 10x as many).

Afterwards every parameter is where the valid messages sent at the end put it (the whole
/schema compared), every junk message got its refusal, the server never logged a traceback,
and a well-behaved client kept its frame rate through the fuzz.
"""

from __future__ import annotations

from bench.fuzz import PATCH, fuzz
from tests.conftest import start_server
from tests.livetools import write_patch

OSC_DATAGRAMS = 20_000
WS_MESSAGES = 2_000


def test_junk_moves_nothing_and_the_show_goes_on(tmp_path) -> None:
    server = start_server(patch=write_patch(tmp_path, PATCH))
    try:
        result = fuzz(server.ready, OSC_DATAGRAMS,
                      WS_MESSAGES, seed=20261201)
        print(result)
        assert result.moved == {}
        assert result.osc_received >= 0.95 * OSC_DATAGRAMS  # UDP on loopback may drop a few
        assert result.osc_refused >= result.osc_received - 5  # each one answered with /error
        assert result.ws_closed is None  # the fuzzing connection was never dropped
        assert result.ws_replies >= WS_MESSAGES  # every junk message got its error
        assert result.http_sent == WS_MESSAGES // 2 and result.traversals_served == []
        assert not [code for code in result.http_status if code >= 500], result.http_status
        assert result.oscquery_ws_sent == WS_MESSAGES // 2 and result.oscquery_ws_closed is None
        assert result.fps_during >= 0.9 * result.fps_before > 0
        assert server.proc.poll() is None
        status = server.get_json("/status")
        assert status["websocket"]["rate_limited"] == 0  # the fuzz kept under the limit
    finally:
        assert server.stop() == 0
    log = "".join(server.stderr_lines)
    assert "Traceback" not in log and "exception" not in log.lower(), log[-3000:]

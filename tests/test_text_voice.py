"""The text voice end to end: characters, words and lines over OSC and WebSocket; a prime answered."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import torch
from websockets.asyncio.client import connect

from live.record.recorder import read_events
from live.voices.kit import seed_for
from live.voices.text import load_text_model
from models.text_rnn import TextSampler
from tests.livetools import send, stop_cleanly

TEXT_ONLY = """
[voices.text]
kind = "text"
model = "random"
rate = 60
temperature = 0.8
top_p = 0.95
"""



def patch(tmp_path: Path) -> Path:
    path = tmp_path / "text.toml"
    path.write_text(TEXT_ONLY)
    return path


def chars_of(sink) -> str:
    return "".join(r.args[0] for r in sink.of("/text/char"))


def test_text_streams_words_and_lines_and_continues_a_prime(run_server, sink, tmp_path) -> None:
    server = run_server(patch=patch(tmp_path))
    sink.wait_for(lambda: sink.count("/text/char") >= 60 and sink.count("/text/word") >= 2)
    prime = "ROMEO:\nBut soft, what light"
    assert send(server, "/text/prime", prime, reply=True) is None
    sink.wait_for(lambda: sink.count("/text/char") >= 160)
    stop_cleanly(server, sink)

    stream = chars_of(sink)
    # Words and lines are the stream cut at white space and at line breaks, as they complete.
    words = [r.args[0] for r in sink.of("/text/word")]
    assert words == stream.split()[:len(words)]
    lines = [r.args[0] for r in sink.of("/text/line")]
    assert len(lines) == stream.count("\n")
    assert lines == stream.split("\n")[:len(lines)]
    rec = tmp_path / "rec"
    assert (rec / "text.txt").read_text() == stream  # every character sent was recorded

    # After the prime, the voice says what the model says after the prime, with its seed.
    events, _ = read_events(rec / "events.jsonl")
    restart = [e for e in events if e["type"] == "gen" and e["voice"] == "text"
               and e["op"] == "restart" and e["prime"] == prime]
    assert len(restart) == 1
    r = restart[0]["restarts"]
    after = "".join(e["text"] for e in events if e["type"] == "text" and e["kind"] == "char"
                    and e["restarts"] == r)
    assert len(after) >= 20
    model, _ = load_text_model({"model": "random"}, torch.device("cpu"))
    with torch.inference_mode():
        primed = TextSampler(model, seed_for(0, "text", r))
        primed.prime(prime)
        expected = primed.generate(len(after), 0.8, 0.95)
        unprimed = TextSampler(model, seed_for(0, "text", r)).generate(len(after), 0.8, 0.95)
    assert after == expected
    assert after != unprimed  # the prime, not the seed alone, made this text


def test_temperature_list_reset_and_refusals(run_server, sink, tmp_path) -> None:
    server = run_server(patch=patch(tmp_path))
    sink.wait_for(lambda: sink.count("/text/char") >= 10)
    assert send(server, "/text/temperature", 0.25, 1.5, 2.0, reply=True) is None  # exact in f32
    assert server.param("/text/temperature") == [0.25, 1.5, 2.0]
    error = send(server, "/text/temperature", 0.3, 7.0, reply=True)
    assert error is not None and "/text/temperature" in error
    error = send(server, "/text/prime", "y" * 2001, reply=True)
    assert error is not None and "at most 2000" in error
    error = send(server, "/text/rate", 0.0, reply=True)
    assert error is not None and "/text/rate" in error
    send(server, "/text/reset")  # no argument needed
    n = sink.count("/text/char")
    sink.wait_for(lambda: sink.count("/text/char") >= n + 20)
    stop_cleanly(server, sink)
    events, _ = read_events(tmp_path / "rec" / "events.jsonl")
    gens = [e for e in events if e["type"] == "gen" and e["voice"] == "text"]
    assert [g["temperature"] for g in gens if g["op"] == "settings"][-1] == [0.25, 1.5, 2.0]
    assert sum(g["op"] == "restart" for g in gens) == 2  # the start and the reset


async def test_text_over_websocket(run_server, sink, tmp_path) -> None:
    server = run_server(patch=patch(tmp_path))
    kinds: set[str] = set()
    async with connect(server.ws) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topics": ["text"], "id": 1}))
        async with asyncio.timeout(20):
            while not {"char", "word"} <= kinds:
                msg = json.loads(await ws.recv())
                if msg["op"] == "text":
                    assert msg["voice"] == "text" and isinstance(msg["text"], str)
                    kinds.add(msg["kind"])
    stop_cleanly(server, sink)

"""Sixty seconds of bench/soak.py in CI: 8 clients, a steady OSC control stream and a patch
reload every 20 s against a real server; memory stays flat, frames keep coming to every
client, every reload lands, and the log has no error. (`python -m bench.soak` runs 10 minutes.)"""

from __future__ import annotations

import asyncio

from bench.soak import report, soak


def test_a_minute_of_clients_control_and_reloads_leaves_the_server_as_it_was() -> None:
    result = asyncio.run(soak(seconds=60.0, clients=8, reload_every=20.0))
    figures = report(result)
    print(figures)
    assert result.reload_errors == [] and result.reloads_done == result.reloads_tried >= 2
    assert result.memory_growth() < 0.05, figures
    assert all(s.fps_min > 0 for s in result.samples), figures  # no client was starved
    assert result.samples[-1].tasks <= result.samples[0].tasks + 2, figures
    assert result.samples[-1].fds <= result.samples[0].fds + 2, figures
    assert result.log_errors == 0, result.log_excerpt

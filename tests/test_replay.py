"""python -m live.record.replay on what is not a recording (recordings it checks and rebuilds:
test_recorder.py)."""

from __future__ import annotations

from tests.livetools import replay


def test_replay_refuses_a_folder_without_a_recording(tmp_path) -> None:
    code, _ = replay(tmp_path)
    assert code == 2

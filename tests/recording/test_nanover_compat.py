"""NanoVer's own reader (side venv) opens costeer's recordings and sees the same frames and state."""

from __future__ import annotations

import numpy as np
import pytest

from costeer.recording.reader import RecordingReader
from costeer.recording.writer import RecordingWriter

pytestmark = pytest.mark.slow


def test_nanover_reads_what_we_write(tmp_path, make_frame, nanover_read):
    path = tmp_path / "ours.nanover.zip"
    with RecordingWriter(path) as writer:
        for index in range(30):
            writer.write({"frame": make_frame(index)}, timestamp_us=index * 33_333)
            writer.write(
                {"state": {"updates": {"interaction.a": {"particles": [1], "max_force": float("inf")}}, "removals": []}},
                timestamp_us=index * 33_333 + 5,
            )
        writer.write({"state": {"updates": {"scene": [0.0] * 10}, "removals": ["interaction.a"]}}, timestamp_us=10**6)
    seen = nanover_read(path)
    with RecordingReader(path) as reader:
        ours = list(reader.frames())
        states = list(reader.states())
    assert seen["entries"] == 61
    assert seen["trajectories"] == 1
    assert [frame["timestamp"] for frame in seen["frames"]] == [frame.timestamp_us for frame in ours]
    for theirs, (_, mine) in zip(seen["frames"], ours):
        assert set(theirs["keys"]) == set(mine)
        np.testing.assert_array_equal(np.array(theirs["positions"], dtype=np.float32), mine["particle.positions"])
    assert seen["state_timestamps"] == [state.timestamp_us for state in states]
    assert seen["final_state"] == states[-1].state == {"scene": [0.0] * 10}


def test_nanover_and_costeer_agree_on_a_real_session(recordings, nanover_read):
    seen = nanover_read(recordings["nanotube-methane-01"])
    with RecordingReader(recordings["nanotube-methane-01"]) as reader:
        ours = list(reader.frames())
        states = list(reader.states())
    assert len(seen["frames"]) == len(ours)
    np.testing.assert_array_equal(np.array(seen["frames"][-1]["positions"], dtype=np.float32), ours[-1].frame["particle.positions"])
    assert seen["final_state"] == states[-1].state


def test_nanover_reads_a_recording_that_starts_with_state(tmp_path, make_frame, nanover_read):
    """Regression: NanoVer's reader breaks when its first read needs a forward seek."""
    path = tmp_path / "state-first.nanover.zip"
    with RecordingWriter(path) as writer:
        writer.write({"state": {"updates": {"simulation.name": "x"}, "removals": []}}, timestamp_us=1)
        for index in range(5):
            writer.write({"frame": make_frame(index)}, timestamp_us=10 + index)
    seen = nanover_read(path)
    assert [frame["frame_index"] for frame in seen["frames"]] == list(range(5))
    assert seen["trajectories"] == 1
    assert seen["final_state"] == {"simulation.name": "x"}

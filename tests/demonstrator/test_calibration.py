"""Calibration: hand speeds and user forces read from recordings (ours and NanoVer's human sessions)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from costeer.core import keys
from costeer.core.frame import pack_frame
from costeer.demonstrator.calibration import (
    HUMAN_PACE_PS_PER_S,
    MotionStatistics,
    measure_recording,
    measure_recordings,
)
from costeer.recording.writer import RecordingWriter


def _frame(index: int, time_ps: float, force: float | None) -> dict:
    frame = {keys.FRAME_INDEX: index, keys.SIMULATION_TIME: time_ps, keys.PARTICLE_POSITIONS: np.zeros((2, 3))}
    if force is not None:
        frame[keys.USER_FORCES_SPARSE] = np.array([[force, 0.0, 0.0]])
        frame[keys.USER_FORCES_INDEX] = np.array([0])
    return pack_frame(frame)


def _hand(x: float) -> dict:
    return {"state": {"updates": {"interaction.a": {"position": [x, 0.0, 0.0], "particles": [0]}}, "removals": []}}


def test_a_steady_hand_is_measured_in_a_persons_time(tmp_path: Path) -> None:
    """0.5 nm per person's second, at twice a person's pace: still 0.5; a reset and a new grab start afresh."""
    path = tmp_path / "steady.nanover.zip"
    frame_ps = 2 * HUMAN_PACE_PS_PER_S / 30  # 30 frames per wall second, server twice a person's pace
    with RecordingWriter(path) as writer:
        for sequence in range(2):
            for step in range(60):
                person_s = step * frame_ps / HUMAN_PACE_PS_PER_S
                writer.write(_hand(sequence * 10.0 + 0.5 * person_s))  # a jump between sequences
                writer.write({"frame": _frame(step, step * frame_ps, 100.0 * (step + 1))})
            writer.write({"state": {"updates": {}, "removals": ["interaction.a"]}})
    stats = measure_recording(path)
    assert stats.hand_speeds == pytest.approx(np.full(len(stats.hand_speeds), 0.5))
    assert len(stats.forces) == 120
    assert stats.summary()["force_median"] == pytest.approx(3050.0)


def test_human_sessions(shared_data: Path) -> None:
    recordings = shared_data / "recordings"
    first = measure_recording(recordings / "nanotube-methane-01.nanover.zip").summary()
    second = measure_recording(recordings / "nanotube-methane-02.nanover.zip").summary()
    for summary in (first, second):
        assert 0.2 < summary["hand_speed_median"] < 0.45
        assert 0.4 < summary["hand_speed_p90"] < 0.9
        assert 800 < summary["force_median"] < 1500
        assert 1800 < summary["force_p90"] < 2400
    pooled = measure_recordings(sorted(recordings.glob("nanotube-methane-*.nanover.zip")))
    assert len(pooled.hand_speeds) > 500


def test_frames_only_recording_has_forces_but_no_hand(shared_data: Path) -> None:
    stats = measure_recording(shared_data / "recordings" / "nanotube-example.nanover.zip")
    assert len(stats.hand_speeds) == 0 and len(stats.forces) > 300
    assert np.isnan(stats.summary()["hand_speed_median"])


def test_combine_of_nothing_is_empty() -> None:
    assert len(MotionStatistics.combine([]).forces) == 0

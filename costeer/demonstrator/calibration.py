"""How fast hands move and how hard they pull in a recording: the yardstick for synthetic people.

Read from any ``.nanover.zip`` with interactions in its shared state (NanoVer's human
sessions, or ours): the hand is the live ``interaction.*`` entry's ``position``, sampled at
each frame (the last state at or before it). Speeds are taken over windows of a person's
time, i.e. simulated time over the human pace, so a server running faster than a person's
pace (``--time-compression``) is compared on the same footing. Forces are the per-atom
magnitudes of ``forces.user.sparse`` in every frame that has them.

    human = measure_recordings(sorted(Path("../shared/data/recordings").glob("nanotube-methane-*")))
    human.summary()   # {"hand_speed_median": ..., "hand_speed_p90": ..., "force_median": ..., ...}
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from costeer.datasets.demonstrations import read_frames
from costeer.recording.reader import RecordingReader
from costeer.tasks.hand import HUMAN_PACE_PS_PER_S

__all__ = ["HUMAN_PACE_PS_PER_S", "MotionStatistics", "measure_recording", "measure_recordings"]

SPEED_WINDOW_S = 0.25
"""Hand speeds are displacements over this much of a person's time."""


@dataclass(frozen=True)
class MotionStatistics:
    """Hand speeds (nm per person's second) and user-force magnitudes (kJ/(mol nm)) of some sessions.

    Usage: ``stats = measure_recording(path); stats.summary()["force_p90"]``
    """

    hand_speeds: np.ndarray
    forces: np.ndarray

    def summary(self) -> dict[str, float]:
        """Median and 90th percentile of each (NaN when there are no samples)."""
        result = {}
        for name, values in (("hand_speed", self.hand_speeds), ("force", self.forces)):
            for label, percentile in (("median", 50), ("p90", 90)):
                result[f"{name}_{label}"] = float(np.percentile(values, percentile)) if len(values) else float("nan")
        return result

    @staticmethod
    def combine(parts: Iterable["MotionStatistics"]) -> "MotionStatistics":
        parts = list(parts)
        return MotionStatistics(
            hand_speeds=np.concatenate([part.hand_speeds for part in parts]) if parts else np.zeros(0),
            forces=np.concatenate([part.forces for part in parts]) if parts else np.zeros(0),
        )


def measure_recording(
    path: str | Path, *, pace: float = HUMAN_PACE_PS_PER_S, window_s: float = SPEED_WINDOW_S
) -> MotionStatistics:
    """Hand speeds and user forces of one recording (see the module docstring)."""
    grabs: dict[str, int] = defaultdict(int)
    tracks: dict[tuple[int, str, int], list[tuple[float, np.ndarray]]] = defaultdict(list)
    forces: list[np.ndarray] = []
    sequence = 0
    held: set[str] = set()
    with RecordingReader(path) as reader:
        for restart, frame, _, _ in read_frames(reader):
            sequence += restart
            for key in frame.interactions.keys() - held:
                grabs[key] += 1
            held = set(frame.interactions)
            if np.isfinite(frame.simulation_time_ps):
                for key, interaction in frame.interactions.items():
                    tracks[(sequence, key, grabs[key])].append((frame.simulation_time_ps / pace, interaction.position))
            if len(frame.user_force):
                forces.append(np.linalg.norm(np.asarray(frame.user_force, dtype=np.float64), axis=1))
    speeds = [_window_speeds(track, window_s) for track in tracks.values()]
    return MotionStatistics(
        hand_speeds=np.concatenate(speeds) if speeds else np.zeros(0),
        forces=np.concatenate(forces) if forces else np.zeros(0),
    )


def measure_recordings(paths: Iterable[str | Path], **options: float) -> MotionStatistics:
    """:func:`measure_recording` over several files, pooled."""
    return MotionStatistics.combine(measure_recording(path, **options) for path in paths)


def _window_speeds(track: list[tuple[float, np.ndarray]], window_s: float) -> np.ndarray:
    times = np.array([time for time, _ in track])
    positions = np.array([position for _, position in track]).reshape(-1, 3)
    steps = np.diff(times)
    steps = steps[steps > 0]
    if len(steps) == 0:
        return np.zeros(0)
    lag = max(1, int(round(window_s / float(np.median(steps)))))
    elapsed = times[lag:] - times[:-lag]
    moved = np.linalg.norm(positions[lag:] - positions[:-lag], axis=1)
    keep = elapsed > 0
    return moved[keep] / elapsed[keep]

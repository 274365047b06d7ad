"""One nanotube environment per test module (building one costs a few hundred ms), and a scripted pull."""

from __future__ import annotations

import numpy as np
import pytest

from costeer.core.interaction import Interaction
from costeer.rollout import TaskEnvironment
from costeer.tasks import get_task


@pytest.fixture(scope="module")
def env() -> TaskEnvironment:
    """The nanotube task at 30 steps per frame (0.2 s of a person's time a frame: short tests)."""
    environment = TaskEnvironment(get_task("nanotube"), steps_per_frame=30)
    yield environment
    environment.close()


class AxisPull:
    """A scripted straight pull: the target slides at ``speed`` from methane's start to a point on the
    tube's axis behind the near end, then along the axis out past the far end, leaning against
    methane's drift (``damping_s`` nm per nm/s) so that the spring does not leave it swinging."""

    finished = False

    def __init__(self, env: TaskEnvironment, *, speed: float = 0.3, damping_s: float = 1.0) -> None:
        self.env, self.speed, self.damping_s = env, speed, damping_s
        start, hull = env.task.methane_path(env.initial_positions[None], env.selection)
        self.waypoints = np.array([start[0], [0, 0, -(hull.half_length + 0.4)], [0, 0, hull.half_length + 0.8]])
        self.lengths = np.r_[0, np.cumsum(np.linalg.norm(np.diff(self.waypoints, axis=0), axis=1))]
        self._frame = None
        self._last: tuple[float, np.ndarray] | None = None

    @property
    def duration_s(self) -> float:
        return float(self.lengths[-1] / self.speed)

    def act(self, time_s: float, positions: np.ndarray) -> Interaction:
        task, selection = self.env.task, self.env.selection
        self._frame = task.frames(positions, selection, previous=self._frame)
        methane = self._frame.to_task(positions[selection.grabbed])[0]
        drift = np.zeros(3) if self._last is None else (methane - self._last[1]) / (time_s - self._last[0])
        self._last = (time_s, methane)
        along = min(self.speed * time_s, self.lengths[-1])
        aim = np.array([np.interp(along, self.lengths, self.waypoints[:, axis]) for axis in range(3)])
        aim -= self.damping_s * drift
        return Interaction(self._frame.to_lab(aim[None])[0], selection.grabbed, "spring", scale=1201.1)


class Nobody:
    """Never pulls."""

    finished = False

    def act(self, time_s: float, positions: np.ndarray) -> None:
        return None

"""run_rollout: a scripted straight pull threads methane, nobody pulling does not (the task's own detector)."""

from __future__ import annotations

import numpy as np
import pytest

from costeer.core import keys
from costeer.rollout import TaskEnvironment, run_rollout

from .conftest import AxisPull, Nobody


def test_a_straight_pull_along_the_axis_threads_methane(env: TaskEnvironment) -> None:
    pull = AxisPull(env)
    rollout = run_rollout(env, pull, seed=0, max_s=pull.duration_s + 3.0)
    assert rollout.outcome.success, rollout.outcome.details()
    assert 0 < rollout.time_to_success_s <= rollout.times_s[-1]
    assert rollout.work > 0 and rollout.peak_force > 500
    assert rollout.peak_force == pytest.approx(np.linalg.norm(rollout.user_forces, axis=1).max())
    assert len(rollout.interactions) == len(rollout) == len(rollout.positions)
    assert rollout.interactions[-1] is None
    # The work is the engine's forces.user.work_done: each frame's force times the next displacement.
    felt = 0.0
    for frame, before, after in zip(rollout.frames[:-1], rollout.positions[:-1], rollout.positions[1:]):
        index = np.asarray(frame.get(keys.USER_FORCES_INDEX, ()), dtype=np.int64)
        force = np.asarray(frame.get(keys.USER_FORCES_SPARSE, ()), dtype=np.float64).reshape(-1, 3)
        felt += float(np.vdot(force, after[index] - before[index]))
    assert rollout.work == pytest.approx(felt, rel=1e-3)


def test_nobody_pulling_threads_nothing_and_does_no_work(env: TaskEnvironment) -> None:
    rollout = run_rollout(env, Nobody(), seed=0, max_s=3.0, settle_s=0.0)
    assert not rollout.outcome.success and rollout.time_to_success_s is None
    assert rollout.work == 0.0 and rollout.peak_force == 0.0 and rollout.pulled_s == 0.0
    assert rollout.times_s[-1] == pytest.approx(3.0, abs=env.frame_interval_s)


def test_the_rollout_stops_acting_when_the_actor_finishes_and_settles(env: TaskEnvironment) -> None:
    class Brief(AxisPull):
        @property
        def finished(self) -> bool:
            return self._last is not None and self._last[0] >= 1.0

    rollout = run_rollout(env, Brief(env), seed=1, max_s=10.0, settle_s=0.6)
    acted = [interaction is not None for interaction in rollout.interactions]
    settle = round(0.6 / env.frame_interval_s)
    assert acted == [True] * (len(rollout) - settle - 1) + [False] * (settle + 1)
    assert rollout.pulled_s == pytest.approx(rollout.times_s[len(rollout) - settle - 1])


def test_bad_limits_are_refused(env: TaskEnvironment) -> None:
    with pytest.raises(ValueError, match="max_s"):
        run_rollout(env, Nobody(), seed=0, max_s=0.0)

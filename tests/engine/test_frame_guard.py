"""FrameGuard, and the runner sending no frame with non-finite or absurd numbers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from costeer.core import keys
from costeer.core.frame import FrameDict
from costeer.engine.frame_guard import REACH_MARGIN_NM, REACH_PER_SIZE, FrameGuard, UnsafeFrameError
from costeer.engine.runner import SimulationRunner

START = np.array([[0.0, 0.0, 0.0], [2.0, 1.0, 1.0], [1.0, 3.0, 0.5]])


def full_frame() -> FrameDict:
    return {keys.PARTICLE_COUNT: 3, keys.PARTICLE_POSITIONS: START.astype(np.float32)}


def test_the_reach_follows_the_systems_initial_size() -> None:
    guard = FrameGuard()
    guard.start(full_frame())
    assert guard.reach == pytest.approx(REACH_MARGIN_NM + REACH_PER_SIZE * 3.0)
    np.testing.assert_allclose(guard.centre, [1.0, 1.5, 0.5])
    guard.start({**full_frame(), keys.BOX_VECTORS: np.diag([8.0, 8.0, 8.0]).astype(np.float32)})
    assert guard.reach == pytest.approx(REACH_MARGIN_NM + REACH_PER_SIZE * 8.0)


@pytest.mark.parametrize(
    "change, message",
    [
        ({keys.PARTICLE_POSITIONS: np.array([[0, 0, 0], [1.1e6, 0, 0], [0, 0, 0]], dtype=np.float32)}, "beyond"),
        ({keys.PARTICLE_POSITIONS: np.array([[0, 0, 0], [0, -200.0, 0], [0, 0, 0]], dtype=np.float32)}, "beyond"),
        ({keys.PARTICLE_POSITIONS: np.array([[0, 0, 0], [math.inf, math.inf, -math.inf], [0, 0, 0]], dtype=np.float32)}, "non-finite"),
        ({keys.PARTICLE_POSITIONS: np.array([[0, 0, 0], [math.nan, 0, 0], [0, 0, 0]], dtype=np.float32)}, "non-finite"),
        ({keys.PARTICLE_VELOCITIES: np.array([[0, 0, 0], [0, math.nan, 0], [0, 0, 0]], dtype=np.float32)}, "particle.velocities"),
        ({keys.PARTICLE_FORCES_SYSTEM: np.array([[0, 0, 0], [0, 0, math.inf], [0, 0, 0]], dtype=np.float32)}, "particle.forces.system"),
        ({keys.USER_FORCES_SPARSE: np.array([[math.inf, 0, 0]], dtype=np.float32)}, "forces.user.sparse"),
        ({keys.POTENTIAL_ENERGY: math.inf}, "energy.potential"),
        ({keys.KINETIC_ENERGY: math.nan}, "energy.kinetic"),
        ({keys.SYSTEM_TEMPERATURE: math.inf}, "system.temperature"),
    ],
)
def test_unsafe_frames_are_refused_with_a_reason(change: dict[str, Any], message: str) -> None:
    guard = FrameGuard()
    guard.start(full_frame())
    guard.check({keys.PARTICLE_POSITIONS: (START + 5.0).astype(np.float32), keys.POTENTIAL_ENERGY: -12.0})
    with pytest.raises(UnsafeFrameError, match=message):
        guard.check({keys.PARTICLE_POSITIONS: START.astype(np.float32), **change})


def test_without_a_start_only_finiteness_is_checked() -> None:
    guard = FrameGuard()
    guard.check({keys.PARTICLE_POSITIONS: np.full((2, 3), 1e30, dtype=np.float32)})
    with pytest.raises(UnsafeFrameError):
        guard.check({keys.PARTICLE_POSITIONS: np.full((2, 3), math.inf, dtype=np.float32)})


class CastingSimulation:
    """Like OpenMMSimulation's frames: float64 positions cast to float32 as they are sent.

    After ``explode_after`` frames atom 1 jumps to ``far`` (float64), as in a blow-up.
    """

    def __init__(self, far: float, *, explode_after: int = 3, velocities: bool = False) -> None:
        self.name = "casting"
        self.particle_count = 3
        self.far = far
        self.explode_after = explode_after
        self.velocities = velocities
        self.advances = 0

    def load(self) -> None:
        pass

    def reset(self) -> FrameDict:
        self.advances = 0
        return full_frame()

    def advance(self, seconds: float) -> FrameDict:
        self.advances += 1
        positions = START.copy()
        exploded = self.advances > self.explode_after
        if exploded and not self.velocities:
            positions[1] = [self.far, self.far, -self.far]
        assert np.isfinite(positions).all()  # the old check, on float64, passed these
        with np.errstate(over="ignore"):  # the cast OpenMMSimulation makes
            frame: FrameDict = {keys.PARTICLE_POSITIONS: np.asarray(positions, dtype=np.float32), keys.SIMULATION_TIME: 0.01 * self.advances}
            if self.velocities:
                velocities = np.zeros((3, 3))
                if exploded:
                    velocities[1] = self.far
                frame[keys.PARTICLE_VELOCITIES] = np.asarray(velocities, dtype=np.float32)
        return frame

    def set_interactions(self, interactions) -> None:
        pass


@pytest.mark.parametrize(
    "far, velocities",
    [(1e39, False), (1.1e6, False), (1e39, True)],
    ids=["float32-overflow", "finite-but-absurd", "velocities-overflow"],
)
def test_a_frame_that_would_be_sent_non_finite_or_absurd_never_leaves_the_runner(far: float, velocities: bool, publisher, wait_for) -> None:
    runner = SimulationRunner([CastingSimulation(far, velocities=velocities)], publisher, frame_rate=200.0)
    runner.start()
    try:
        exception = wait_for(lambda: [f for f in publisher.snapshot() if keys.SIMULATION_EXCEPTION in f])[0]
        wait_for(lambda: runner.is_paused)
    finally:
        runner.close()
    assert "blew up" in exception[keys.SIMULATION_EXCEPTION] or "UnsafeFrameError" in exception[keys.SIMULATION_EXCEPTION]
    assert "playback/play" in exception[keys.SIMULATION_EXCEPTION]
    sent = [f for f in publisher.snapshot() if keys.SIMULATION_EXCEPTION not in f]
    assert len(sent) == 4  # the full frame and three good deltas
    for frame in sent:
        for value in frame.values():
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                assert np.isfinite(value).all()
        assert np.abs(frame[keys.PARTICLE_POSITIONS]).max() < 10.0

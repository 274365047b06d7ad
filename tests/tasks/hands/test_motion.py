"""HandMotion: a hand that heads for a point no faster than its top speed, and turns without jerks."""

from __future__ import annotations

import numpy as np
import pytest

from costeer.tasks.hands.motion import HandMotion

STEP = 1 / 30


def test_it_goes_no_faster_than_its_top_speed_and_settles_on_the_point() -> None:
    motion = HandMotion(np.zeros(3), speed=0.5)
    places = np.array([motion.move([2.0, 0.0, 0.0], STEP) for _ in range(300)])
    speeds = np.linalg.norm(np.diff(places, axis=0), axis=1) / STEP
    assert speeds.max() <= 0.5 + 1e-12 and speeds.max() > 0.45
    assert places[-1] == pytest.approx([2.0, 0.0, 0.0], abs=1e-3)


def test_a_change_of_mind_bends_the_path_instead_of_kinking_it() -> None:
    motion = HandMotion(np.zeros(3), speed=0.5)
    for _ in range(30):
        motion.move([5.0, 0.0, 0.0], STEP)
    before = motion.velocity.copy()
    motion.move([-5.0, 0.0, 0.0], STEP)
    assert motion.velocity[0] > 0.5 * before[0]  # still going the old way, slowing


def test_no_time_no_move_and_a_still_hand_is_refused() -> None:
    motion = HandMotion(np.ones(3), speed=0.5)
    assert motion.move([3.0, 3.0, 3.0], 0.0).tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="top speed must be positive"):
        HandMotion(np.zeros(3), speed=0.0)

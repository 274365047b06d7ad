"""PullingHand: a synthetic person who pulls away from an anchor, late, at a finite speed, then holds and lets go."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from costeer.tasks.hands.pulling import PullHabits, PullingHand

FRAME_S = 1 / 30
STEADY = PullHabits(
    reaction_s=0.5,
    perception_s=0.2,
    speed=0.5,
    wobble_nm=0.0,
    wobble_s=0.5,
    aim_error_deg=10.0,
    lead=0.4,
    max_lead=0.9,
    hold_s=0.6,
    budget_s=20.0,
    pause_rate=0.0,
    pause_s=(0.3, 1.2),
)
START = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.5]])  # anchor, grabbed


def _hand(habits: PullHabits = STEADY, *, seed: int = 0, goal_nm: float = 3.0) -> PullingHand:
    rng = np.random.default_rng(seed)
    return PullingHand(
        grabbed=[1], anchor=[0], positions=START, goal_nm=goal_nm, strength=1201.1, rng=rng, habits=habits
    )


def _drive(hand: PullingHand, *, follow: bool, seconds: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """Call the hand once a frame; the grabbed atom jumps to the target (``follow``) or never moves."""
    positions, times, targets = START.copy(), [], []
    for frame in range(int(seconds / FRAME_S)):
        if hand.finished:
            break
        times.append(frame * FRAME_S)
        targets.append(hand(times[-1], positions))
        if follow:
            positions[1] = targets[-1]
    return np.array(times), np.array(targets)


def test_it_waits_out_its_reaction_then_pulls_no_faster_than_its_top_speed() -> None:
    hand = _hand()
    times, targets = _drive(hand, follow=True)
    still = times < STEADY.reaction_s
    assert np.allclose(targets[still], START[1])
    speeds = np.linalg.norm(np.diff(targets, axis=0), axis=1) / FRAME_S
    assert speeds.max() <= STEADY.speed + 1e-9
    assert (targets[-1] - START[1]) @ hand.direction > 1.0


def test_it_pulls_off_the_line_from_the_anchor_by_its_aim_error() -> None:
    hand = _hand()
    away = START[1] / np.linalg.norm(START[1])
    assert math.degrees(math.acos(hand.direction @ away)) == pytest.approx(STEADY.aim_error_deg)
    assert np.linalg.norm(hand.direction) == pytest.approx(1.0)


def test_it_holds_at_the_goal_then_lets_go() -> None:
    hand = _hand()
    times, targets = _drive(hand, follow=True)
    assert hand.phase == "done" and hand.finished
    reached = np.flatnonzero(np.linalg.norm(targets, axis=1) >= 3.0)[0]
    assert times[-1] - times[reached] >= STEADY.hold_s  # it saw the goal late, then held
    assert times[-1] < STEADY.budget_s


def test_when_the_atoms_are_stuck_it_pulls_harder_then_gives_up() -> None:
    hand = _hand()
    times, targets = _drive(hand, follow=False)
    assert hand.phase == "gave_up"
    assert times[-1] == pytest.approx(STEADY.budget_s, abs=2 * FRAME_S)
    lead = (targets[-1] - START[1]) @ hand.direction
    assert lead == pytest.approx(STEADY.max_lead, abs=0.02)


def test_pauses_stop_the_hand_for_a_while() -> None:
    hand = _hand(replace(STEADY, pause_rate=2.0, pause_s=(0.5, 0.5)), goal_nm=100.0)
    times, targets = _drive(hand, follow=True, seconds=6.0)
    speeds = np.linalg.norm(np.diff(targets, axis=0), axis=1) / FRAME_S
    pulling = times[1:] > STEADY.reaction_s + 1.0
    assert speeds[pulling].max() > 0.8 * STEADY.speed
    assert (speeds[pulling] < 0.05 * STEADY.speed).sum() >= 5  # it comes (smoothly) to a stop


def test_the_same_seed_gives_the_same_person() -> None:
    def person(seed: int) -> PullingHand:
        rng = np.random.default_rng(seed)
        return PullingHand(grabbed=[1], anchor=[0], positions=START, goal_nm=3.0, strength=1.0, rng=rng)

    first, again, other = (_drive(person(seed), follow=True) for seed in (4, 4, 5))
    assert np.array_equal(first[1], again[1])
    assert len(first[1]) != len(other[1]) or not np.allclose(first[1], other[1])


def test_nothing_to_pull_away_from_is_refused() -> None:
    with pytest.raises(ValueError, match="sit on the anchor"):
        PullingHand(grabbed=[0], anchor=[0], positions=START, goal_nm=3.0, strength=1.0, rng=np.random.default_rng(0))

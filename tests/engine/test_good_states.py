"""GoodStates: one state kept per interval, the last few, newest taken first, a probation after."""

from __future__ import annotations

import pytest

from costeer.engine.good_states import GoodStates


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def offer_every(states: GoodStates, clock: Clock, *, seconds: float, step: float) -> list[float]:
    """Offer a state every ``step`` s for ``seconds`` s; the times of those kept."""
    kept = []
    end = clock.now + seconds
    while clock.now < end - 1e-9:
        time_ps = clock.now
        if states.offer(lambda: (f"state@{time_ps:.3f}".encode(), time_ps)):
            kept.append(time_ps)
        clock.now += step
    return kept


def test_one_state_per_interval_and_only_the_last_few_are_kept() -> None:
    clock = Clock()
    states = GoodStates(interval=0.25, capacity=4, clock=clock)
    kept = offer_every(states, clock, seconds=3.0, step=1 / 30)
    gaps = [b - a for a, b in zip(kept, kept[1:])]
    assert all(0.25 <= gap < 0.25 + 1 / 30 + 1e-9 for gap in gaps)
    assert len(states) == 4
    newest = states.take()
    assert newest.simulation_time == kept[-1] and newest.snapshot == f"state@{kept[-1]:.3f}".encode()
    assert clock.now - newest.saved_at <= 0.25 + 1 / 30


def test_each_take_goes_one_state_further_back_until_none_is_left() -> None:
    clock = Clock()
    states = GoodStates(interval=0.25, capacity=4, clock=clock)
    kept = offer_every(states, clock, seconds=2.0, step=0.05)
    taken = [states.take().simulation_time for _ in range(4)]
    assert taken == kept[-1:-5:-1]
    assert states.take() is None


def test_after_a_take_nothing_is_kept_during_the_probation() -> None:
    clock = Clock()
    states = GoodStates(interval=0.1, capacity=4, probation=0.5, clock=clock)
    offer_every(states, clock, seconds=0.5, step=0.05)
    states.take()
    before = len(states)
    assert offer_every(states, clock, seconds=0.45, step=0.05) == []
    assert len(states) == before
    assert offer_every(states, clock, seconds=0.2, step=0.05)


def test_forgetting_all_leaves_none_to_take_and_keeps_none_during_the_probation() -> None:
    clock = Clock()
    states = GoodStates(interval=0.1, capacity=4, probation=0.5, clock=clock)
    offer_every(states, clock, seconds=0.5, step=0.05)
    states.forget_all()
    assert len(states) == 0 and states.take() is None
    assert offer_every(states, clock, seconds=0.45, step=0.05) == []
    assert offer_every(states, clock, seconds=0.2, step=0.05)


def test_clear_forgets_everything_and_keeps_the_next_offer() -> None:
    clock = Clock()
    states = GoodStates(clock=clock)
    offer_every(states, clock, seconds=1.0, step=0.05)
    states.clear()
    assert len(states) == 0
    assert states.offer(lambda: (b"x", 0.0))


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        GoodStates(capacity=0)

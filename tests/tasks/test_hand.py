"""The Hand protocol, the human scale, and the demonstrator hook: the nanotube's person, and a clear refusal elsewhere."""

from __future__ import annotations

import numpy as np
import pytest

from costeer.tasks import Chemistry, Hand, Task, build_task_system, get_task, human_scale
from costeer.tasks.builtin.nanotube import NanotubeTask
from costeer.tasks.hands import ThreadingHand


def _start() -> tuple[Chemistry, np.ndarray]:
    built = build_task_system("nanotube")
    return Chemistry.from_topology(built.topology), built.positions


def test_the_nanotube_task_gives_a_threading_hand_with_the_human_pull() -> None:
    task = get_task("nanotube")
    chemistry, positions = _start()
    selection = task.select(chemistry)
    hand = task.demonstrator(selection, chemistry, positions, np.random.default_rng(1))
    assert isinstance(hand, ThreadingHand) and isinstance(hand, Hand)
    assert hand.strength == pytest.approx(human_scale(chemistry, selection)) == pytest.approx(1201.1, abs=0.5)
    target = hand(0.0, positions)
    assert target.shape == (3,) and not hand.finished


def test_the_same_rng_seed_gives_the_same_person() -> None:
    task = get_task("nanotube")
    chemistry, positions = _start()
    selection = task.select(chemistry)
    first, second, other = (
        task.demonstrator(selection, chemistry, positions, np.random.default_rng(seed)) for seed in (3, 3, 4)
    )
    assert first.persona == second.persona != other.persona


def test_a_task_without_a_synthetic_person_says_so_by_name() -> None:
    class Bare(NanotubeTask):
        name = "bare-task"
        demonstrator = Task.demonstrator  # the base class's hook

    chemistry, positions = _start()
    task = Bare()
    with pytest.raises(NotImplementedError, match="'bare-task' has no synthetic demonstrator"):
        task.demonstrator(task.select(chemistry), chemistry, positions, np.random.default_rng(0))

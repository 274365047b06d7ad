"""MotorHabits: the hand's habits every synthetic person shares, drawn from one set of ranges."""

from __future__ import annotations

import dataclasses

import msgpack
import numpy as np

from costeer.tasks.hands.habits import PAUSE_S, MotorHabits
from costeer.tasks.hands.persona import Persona
from costeer.tasks.hands.pulling import PullHabits

MOTOR = [field.name for field in dataclasses.fields(MotorHabits)]


def test_both_personas_are_motor_habits_with_the_same_hand_for_a_seed() -> None:
    for seed in range(20):
        threading, pulling = Persona.sample(np.random.default_rng(seed)), PullHabits.sample(np.random.default_rng(seed))
        assert isinstance(threading, MotorHabits) and isinstance(pulling, MotorHabits)
        motion = MotorHabits.sample_motion(np.random.default_rng(seed))
        assert {name: getattr(threading, name) for name in motion} == motion == {name: getattr(pulling, name) for name in motion}
        assert threading.pause_s == pulling.pause_s == PAUSE_S


def test_motor_habits_stay_within_the_calibrated_ranges() -> None:
    people = [PullHabits.sample(np.random.default_rng(seed)) for seed in range(200)]
    assert all(0.3 <= p.reaction_s <= 0.9 and 0.1 <= p.perception_s <= 0.25 for p in people)
    assert all(0.4 <= p.speed <= 0.65 and 0.02 <= p.wobble_nm <= 0.05 and 0.05 <= p.pause_rate <= 0.2 for p in people)


def test_to_dict_lists_the_habits_in_draw_order_pauses_last() -> None:
    values = PullHabits.sample(np.random.default_rng(3)).to_dict()
    names = list(values)
    assert names[:5] == MOTOR[:5] and names[-2:] == ["pause_rate", "pause_s"]
    assert set(names) == {field.name for field in dataclasses.fields(PullHabits)}
    assert msgpack.unpackb(msgpack.packb(values)) == values

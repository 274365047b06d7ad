"""Persona: seeded, within the calibrated ranges, and serialisable for the state label."""

from __future__ import annotations

import msgpack
import numpy as np

from costeer.tasks.hands.persona import Persona


def test_the_same_seed_gives_the_same_person() -> None:
    assert Persona.sample(np.random.default_rng(4)) == Persona.sample(np.random.default_rng(4))
    assert Persona.sample(np.random.default_rng(4)) != Persona.sample(np.random.default_rng(5))


def test_people_stay_within_human_ranges() -> None:
    people = [Persona.sample(np.random.default_rng(seed)) for seed in range(200)]
    assert all(0.3 <= p.reaction_s <= 0.9 for p in people)
    assert all(0.3 <= p.speed <= 0.8 for p in people)  # humans: p90 of hand speed 0.49-0.75 nm/s
    assert all(p.push_lead < p.max_lead <= 1.0 for p in people)  # humans lead by 0.3-0.9 nm
    assert {p.max_attempts for p in people} == {2, 3}


def test_to_dict_goes_through_msgpack() -> None:
    values = Persona.sample(np.random.default_rng(1)).to_dict()
    assert msgpack.unpackb(msgpack.packb(values)) == values
    assert values["pause_s"] == [0.3, 1.2]

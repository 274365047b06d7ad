"""Validation of interaction entries clients write into the shared state."""

from __future__ import annotations

import math

import pytest

from costeer.core.interaction import Interaction, InvalidInteractionError

HEADSET = {
    "position": [1.0, 2.0, 3.0],
    "particles": [60],
    "interaction_type": "spring",
    "scale": 100.0,
    "mass_weighted": True,
    "reset_velocities": False,
    "max_force": math.inf,
    "owner.id": "user-1",
    "label": "right hand",
}


def test_what_headsets_send_is_valid():
    interaction = Interaction.from_state(HEADSET, particle_count=65)
    assert interaction.max_force == math.inf
    assert interaction.scale == 100.0
    assert interaction.particles.tolist() == [60]
    assert interaction.properties == {"owner.id": "user-1", "label": "right hand"}
    assert Interaction.from_state(interaction.to_state()).to_state() == interaction.to_state()


def test_defaults_are_nanovers():
    interaction = Interaction.from_state({"particles": [1, 0, 1]})
    assert interaction.interaction_type == "gaussian"
    assert interaction.scale == 1.0 and interaction.mass_weighted and not interaction.reset_velocities
    assert interaction.max_force == 20000.0
    assert interaction.particles.tolist() == [0, 1]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"position": [math.nan, 0, 0]}, "finite"),
        ({"position": [0, 0]}, "three numbers"),
        ({"position": "here"}, "three numbers"),
        ({"scale": math.inf}, "finite"),
        ({"scale": "big"}, "number"),
        ({"particles": [-1]}, "negative"),
        ({"particles": [65]}, "out of range"),
        ({"particles": [1.5]}, "whole numbers"),
        ({"particles": "60"}, "list of indices"),
        ({"interaction_type": "laser"}, "unknown interaction_type"),
        ({"max_force": -1.0}, "max_force"),
        ({"max_force": math.nan}, "max_force"),
        ({"mass_weighted": "yes"}, "true or false"),
        ({"position": ["1", "2", "3"]}, "three numbers"),
        ({"position": [True, False, True]}, "three numbers"),
        ({"particles": [2**64 - 1]}, "out of range"),
        ({"particles": [2**70]}, "whole numbers"),
        ({"particles": {1: 2}}, "list of indices"),
        ({"particles": [[60]]}, "whole numbers"),
        ({"particles": list(range(66))}, "at most 65 particles"),
        ({"particles": []}, "at least one particle"),
        ({"position": [1e308, 0.0, 0.0]}, "within 10000 nm"),
        ({"position": [0.0, -2e4, 0.0]}, "within 10000 nm"),
    ],
)
def test_bad_fields_are_rejected_with_a_reason(change, message):
    with pytest.raises(InvalidInteractionError, match=message):
        Interaction.from_state({**HEADSET, **change}, particle_count=65)


def test_missing_particles_are_refused_like_empty_ones():
    with pytest.raises(InvalidInteractionError, match="at least one particle"):
        Interaction.from_state({"position": [0.0, 0.0, 0.0]})


def test_not_a_map_is_rejected():
    with pytest.raises(InvalidInteractionError, match="map of fields"):
        Interaction.from_state([1, 2, 3])



def test_force_vectors_are_kept_per_particle_and_round_trip():
    value = {"interaction_type": "forces", "particles": [7, 2], "forces": [[1.0, 0.0, 0.0], [0.0, -2.5, 3.0]],
             "label": "imd"}
    interaction = Interaction.from_state(value, particle_count=10)
    assert interaction.particles.tolist() == [2, 7]
    assert interaction.forces.tolist() == [[0.0, -2.5, 3.0], [1.0, 0.0, 0.0]]
    assert interaction.properties == {"label": "imd"}
    again = Interaction.from_state(interaction.to_state(), particle_count=10)
    assert again.forces.tolist() == interaction.forces.tolist()


def test_force_vectors_on_a_particle_listed_twice_add_up():
    interaction = Interaction.from_state(
        {"interaction_type": "forces", "particles": [3, 3], "forces": [[1.0, 2.0, 3.0], [1.0, 0.0, -3.0]]}
    )
    assert interaction.particles.tolist() == [3]
    assert interaction.forces.tolist() == [[2.0, 2.0, 0.0]]


def test_other_types_pass_a_forces_field_through():
    interaction = Interaction.from_state({**HEADSET, "forces": "not mine"}, particle_count=65)
    assert interaction.forces is None
    assert interaction.properties["forces"] == "not mine"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({}, "needs forces: one \\[fx, fy, fz\\] per particle"),
        ({"forces": [[1.0, 0.0, 0.0]]}, "one \\[fx, fy, fz\\] per particle \\(2 particles\\)"),
        ({"forces": [[1.0, 0.0], [0.0, 1.0]]}, "got shape \\(2, 2\\)"),
        ({"forces": [["a", 0, 0], [0, 0, 0]]}, "got shape"),
        ({"forces": [[math.nan, 0, 0], [0, 0, 0]]}, "must be finite"),
        ({"forces": [[math.inf, 0, 0], [0, 0, 0]]}, "must be finite"),
        ({"particles": [0, 99], "forces": [[0, 0, 0], [0, 0, 0]]}, "out of range"),
        ({"particles": [1, 1], "forces": [[1.7e308, 0, 0], [1.7e308, 0, 0]]}, "overflow when summed"),
    ],
)
def test_bad_force_vectors_are_rejected_with_a_reason(change, message):
    value = {"interaction_type": "forces", "particles": [0, 1], **change}
    with pytest.raises(InvalidInteractionError, match=message):
        Interaction.from_state(value, particle_count=65)

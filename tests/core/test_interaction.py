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


"""Fuzzed interaction parsing: any value is an Interaction with sane fields or an InvalidInteractionError."""

from __future__ import annotations

import math
from typing import Any

import msgpack
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from costeer.core.interaction import INTERACTION_TYPES, Interaction, InvalidInteractionError

PARTICLES = 65

_edge_numbers = st.sampled_from([0, -0.0, 1, -1, 1e308, -1e308, 2**63, 2**64, -(2**63) - 1, 10**400, 5e-324])
_numbers = st.integers() | st.floats() | _edge_numbers
_scalars = st.none() | st.booleans() | _numbers | st.text(max_size=6) | st.binary(max_size=4)
_values = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
_indices = st.integers(min_value=-3, max_value=PARTICLES + 3) | st.integers() | st.floats() | st.booleans()
interaction_fields = st.fixed_dictionaries(
    {},
    optional={
        "position": st.lists(_numbers, min_size=2, max_size=4) | _values,
        "particles": st.lists(_indices, max_size=6) | st.lists(st.integers(0, PARTICLES - 1), max_size=6) | _values,
        "interaction_type": st.sampled_from([*INTERACTION_TYPES, "Gaussian", ""]) | _values,
        "type": st.sampled_from(INTERACTION_TYPES) | _values,
        "scale": _numbers | _values,
        "max_force": _numbers | _values,
        "mass_weighted": st.booleans() | _values,
        "reset_velocities": st.booleans() | _values,
        "owner.id": st.text(max_size=8),
        "label": _values,
    },
)
"""Maps shaped like ``interaction.*`` entries, each field possibly absurd."""


def _parse(value: Any, particle_count: int | None = PARTICLES) -> Interaction | None:
    """The accepted interaction, or None for a refusal (any other exception fails the test)."""
    try:
        interaction = Interaction.from_state(value, particle_count=particle_count)
    except InvalidInteractionError as error:
        assert str(error), "a refusal must say why"
        return None
    assert isinstance(interaction, Interaction)
    return interaction


def _assert_sane(interaction: Interaction, particle_count: int) -> None:
    assert interaction.position.shape == (3,) and interaction.position.dtype == np.float64
    assert np.all(np.isfinite(interaction.position))
    assert interaction.particles.dtype == np.int64 and interaction.particles.ndim == 1
    assert np.all(np.diff(interaction.particles) > 0), "particles are sorted and unique"
    assert np.all((interaction.particles >= 0) & (interaction.particles < particle_count))
    assert interaction.interaction_type in INTERACTION_TYPES
    assert math.isfinite(interaction.scale)
    assert interaction.max_force >= 0  # inf allowed, NaN refused (NaN >= 0 is False)
    assert isinstance(interaction.mass_weighted, bool) and isinstance(interaction.reset_velocities, bool)


@given(interaction_fields | _values)
@example({"particles": [True, False]})
@example({"particles": [[1], [1, 2]]})
@example({"particles": [2**64 - 1]})
@example({"position": [10**400, 0, 0], "particles": [1]})
@example({"scale": 10**400, "particles": [1]})
def test_any_value_is_a_sane_interaction_or_a_clear_refusal(value: Any) -> None:
    interaction = _parse(value)
    if interaction is not None:
        _assert_sane(interaction, PARTICLES)


@given(interaction_fields)
def test_what_a_client_sends_over_msgpack_is_a_sane_interaction_or_a_clear_refusal(value: dict) -> None:
    try:
        wire = msgpack.unpackb(msgpack.packb(value, use_bin_type=True), raw=False, strict_map_key=False)
    except (OverflowError, ValueError, TypeError):
        return  # msgpack cannot carry it (10**400): no client can send it
    interaction = _parse(wire)
    if interaction is not None:
        _assert_sane(interaction, PARTICLES)


@given(interaction_fields)
def test_an_accepted_interaction_round_trips_through_its_state_value(value: dict) -> None:
    interaction = _parse(value)
    if interaction is None:
        return
    again = Interaction.from_state(interaction.to_state(), particle_count=PARTICLES)
    assert again.to_state() == interaction.to_state()
    assert np.array_equal(again.position, interaction.position)
    assert np.array_equal(again.particles, interaction.particles)


@given(interaction_fields, st.integers(min_value=0, max_value=PARTICLES))
def test_particles_are_checked_against_the_system_size(value: dict, particle_count: int) -> None:
    interaction = _parse(value, particle_count)
    if interaction is not None:
        _assert_sane(interaction, particle_count)


@given(interaction_fields)
@example({})
def test_an_interaction_on_no_particles_is_refused(value: dict) -> None:
    value = {**value, "particles": []}
    assert _parse(value) is None


@given(st.floats(min_value=1e200, max_value=1e308), st.integers(0, 2), st.booleans())
@example(1e308, 0, False)
def test_an_absurdly_far_position_is_refused(distance: float, axis: int, negative: bool) -> None:
    position = [0.0, 0.0, 0.0]
    position[axis] = -distance if negative else distance
    assert _parse({"position": position, "particles": [1]}) is None

"""Fuzzed iMD forces: for any accepted interactions and finite positions, finite forces within the caps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from costeer.core.interaction import POTENTIAL_TYPES, Interaction, InvalidInteractionError
from costeer.engine.imd import compute_imd_forces

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
"""Absurd coordinates overflow inside the force math; the results' finiteness is what is checked."""

_finite = st.floats(allow_nan=False, allow_infinity=False)
_scales = _finite | st.sampled_from([1e6, -1e6, 1e300, -1e300, 0.0])
_caps = st.floats(min_value=0.0, allow_nan=False) | st.sampled_from([1.0, 1000.0, 20000.0])
_server_caps = st.none() | st.floats(min_value=1e-6, max_value=1e12) | st.just(math.inf)


_near = st.floats(min_value=-20.0, max_value=20.0)
_bounded = st.floats(min_value=-1e4, max_value=1e4)
"""Coordinates a simulation that stays within 10 µm can have."""


@st.composite
def systems(draw: st.DrawFn, coordinates: st.SearchStrategy = _near | _finite) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(positions (N, 3), masses (N,), periodic box or None): finite positions, masses >= 0."""
    count = draw(st.integers(min_value=1, max_value=12))
    positions = draw(hnp.arrays(np.float64, (count, 3), elements=coordinates))
    masses = draw(hnp.arrays(np.float64, count, elements=st.sampled_from([0.0, 1.008, 12.0]) | st.floats(0.0, 300.0)))
    box = draw(st.none() | hnp.arrays(np.float64, 3, elements=st.floats(0.5, 10.0)))
    return positions, masses, box


@st.composite
def interactions(
    draw: st.DrawFn, count: int, scale: st.SearchStrategy = _scales, coordinates: st.SearchStrategy = _near | _finite
) -> Interaction:
    """An interaction as a client would send it, accepted by ``Interaction.from_state``."""
    fields = {
        "position": draw(st.lists(coordinates, min_size=3, max_size=3)),
        "particles": draw(st.lists(st.integers(0, count - 1), min_size=1, max_size=count)),
        "interaction_type": draw(st.sampled_from(POTENTIAL_TYPES)),
        "scale": draw(scale),
        "max_force": draw(_caps | st.just(math.inf)),
        "mass_weighted": draw(st.booleans()),
    }
    try:
        return Interaction.from_state(fields, particle_count=count)
    except InvalidInteractionError:
        assume(False)
        raise


def _pulls(draw: st.DrawFn, count: int) -> list[Interaction]:
    return draw(st.lists(interactions(count), max_size=4))


def _assert_well_formed(result, count: int) -> None:
    assert result.indices.dtype == np.uint32 and result.forces.shape == (result.indices.size, 3)
    assert np.all(np.diff(result.indices.astype(np.int64)) > 0), "indices are sorted and unique"
    assert np.all(result.indices < count)
    assert np.all(np.isfinite(result.forces)), "a force is NaN or infinite"
    assert math.isfinite(result.energy), "the user energy is NaN or infinite"


def _total_force(result) -> float:
    """Magnitude of the summed force of one interaction (its force before it was shared out).

    Scaled before squaring, so a finite force of 1e200 does not read as infinite.
    """
    total = result.forces.sum(axis=0)
    largest = float(np.max(np.abs(total), initial=0.0))
    return 0.0 if largest == 0.0 else largest * float(np.linalg.norm(total / largest))


@given(systems(), st.data(), _server_caps)
def test_forces_are_finite_for_any_accepted_interactions_and_finite_positions(system, data, server_cap) -> None:
    positions, masses, box = system
    pulls = _pulls(data.draw, len(masses))
    result = compute_imd_forces(positions, masses, pulls, periodic_box=box, max_force=server_cap)
    _assert_well_formed(result, len(masses))


@given(systems(), st.data(), st.floats(min_value=1e-6, max_value=1e12))
def test_every_force_component_is_within_the_server_cap(system, data, server_cap: float) -> None:
    positions, masses, box = system
    pulls = _pulls(data.draw, len(masses))
    result = compute_imd_forces(positions, masses, pulls, periodic_box=box, max_force=server_cap)
    _assert_well_formed(result, len(masses))
    assert np.all(np.abs(result.forces) <= server_cap)


@given(systems(_bounded), st.data(), st.floats(min_value=1e-6, max_value=1e12))
def test_one_interaction_pulls_no_harder_than_the_server_cap_whatever_it_asks(system, data, server_cap) -> None:
    positions, masses, box = system
    pull = data.draw(interactions(len(masses), coordinates=_bounded))
    result = compute_imd_forces(positions, masses, [pull], periodic_box=box, max_force=server_cap)
    _assert_well_formed(result, len(masses))
    assert _total_force(result) <= server_cap * (1 + 1e-9)


@given(systems(_bounded), st.data())
def test_a_positive_pull_is_no_stronger_than_its_own_max_force(system, data) -> None:
    positions, masses, box = system
    pull = data.draw(
        interactions(len(masses), scale=st.floats(min_value=1e-300, allow_infinity=False), coordinates=_bounded)
    )
    result = compute_imd_forces(positions, masses, [pull], periodic_box=box)
    _assert_well_formed(result, len(masses))
    assert _total_force(result) <= pull.max_force * (1 + 1e-9)


@given(st.floats(min_value=1e3, max_value=1e12), st.sampled_from(POTENTIAL_TYPES), st.floats(1.0, 20000.0))
@example(1e6, "gaussian", 20000.0)
def test_a_negative_pull_is_no_stronger_than_its_own_max_force(strength: float, kind: str, cap: float) -> None:
    positions, masses = np.array([[1.0, 0.0, 0.0], [3.0, 0.0, 0.0]]), np.array([12.0, 12.0])
    pull = Interaction.from_state(
        {"position": [0.0, 0.0, 0.0], "particles": [0, 1], "interaction_type": kind, "scale": -strength, "max_force": cap},
        particle_count=2,
    )
    result = compute_imd_forces(positions, masses, [pull])
    _assert_well_formed(result, 2)
    assert _total_force(result) <= cap * (1 + 1e-9)


@given(st.floats(1e100, 1e300), st.floats(1.0, 1e4), st.floats(1e100, 1e300))
@example(6.013179299330065e199, 32.70697573954331, 1.0719802223173226e125)  # pulls with 63.7
def test_a_far_spring_is_no_stronger_than_its_own_max_force(scale: float, cap: float, distance: float) -> None:
    pull = Interaction.from_state(
        {"position": [0.0, 0.0, 0.0], "particles": [0], "interaction_type": "spring", "scale": scale, "max_force": cap},
        particle_count=1,
    )
    result = compute_imd_forces(np.array([[distance, 0.0, 0.0]]), np.array([1.0]), [pull])
    _assert_well_formed(result, 1)
    assert _total_force(result) <= cap * (1 + 1e-9)

"""iMD force math: NanoVer's own numbers, the server-wide cap, the non-finite guard."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import warnings

import numpy as np
import pytest

from costeer.core.interaction import Interaction
from costeer.engine.imd import ImdResult, compute_imd_forces, work_contribution

TYPES = ("gaussian", "spring", "constant")


def _interaction(particles, position, kind="spring", **fields) -> Interaction:
    return Interaction(
        position=np.asarray(position, dtype=np.float64),
        particles=np.unique(np.asarray(particles, dtype=np.int64)),
        interaction_type=kind,
        **fields,
    )


def _random_case(rng: np.random.Generator) -> dict:
    count = int(rng.integers(3, 25))
    masses = rng.uniform(1.0, 20.0, count)
    masses[rng.random(count) < 0.15] = 0.0  # virtual sites weigh nothing
    masses[0] = 12.0
    box = rng.uniform(2.5, 4.0, 3).tolist() if rng.random() < 0.5 else None
    interactions = []
    for _ in range(int(rng.integers(1, 4))):
        size = int(rng.integers(1, min(count, 6) + 1))
        particles = sorted(rng.choice(count, size, replace=False).tolist())
        if size > 1 and masses[particles].sum() == 0:
            particles.append(0)
        interactions.append(
            {
                "position": rng.uniform(-1.0, 4.0, 3).tolist(),
                "particles": sorted(set(particles)),
                "interaction_type": TYPES[int(rng.integers(3))],
                "scale": float(rng.choice([1.0, 100.0, 0.5, 7.3, -2.0, 0.0])),
                "mass_weighted": bool(rng.random() < 0.5),
                "max_force": float(rng.choice([math.inf, 20000.0, 50.0, 0.3])),
            }
        )
    positions = rng.uniform(-1.0, 4.0, (count, 3))
    forces = rng.normal(0.0, 100.0, (3, 3))
    return {
        "positions": positions.tolist(),
        "masses": masses.tolist(),
        "box": box,
        "interactions": interactions,
        "work": [[forces.tolist(), positions[:3].tolist()]],
    }


def _ours(case: dict) -> ImdResult:
    interactions = [
        _interaction(
            fields["particles"],
            fields["position"],
            fields["interaction_type"],
            scale=fields["scale"],
            mass_weighted=fields["mass_weighted"],
            max_force=fields["max_force"],
        )
        for fields in case["interactions"]
    ]
    return compute_imd_forces(
        np.asarray(case["positions"]),
        np.asarray(case["masses"]),
        interactions,
        periodic_box=None if case["box"] is None else np.asarray(case["box"]),
    )


@pytest.fixture(scope="module")
def nanover_cases(nanover_python, nanover_side) -> list[tuple[dict, dict]]:
    rng = np.random.default_rng(20261125)
    cases = [_random_case(rng) for _ in range(120)]
    completed = subprocess.run(
        [str(nanover_python), str(nanover_side / "imd_forces.py")],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return list(zip(cases, json.loads(completed.stdout)))


def _negative_scale_cap_binds(case: dict) -> bool:
    """Whether a repulsive interaction's own cap bites: NanoVer leaves those uncapped, we do not."""
    for fields in case["interactions"]:
        if fields["scale"] >= 0 or not math.isfinite(fields["max_force"]):
            continue
        uncapped = _ours({**case, "interactions": [{**fields, "max_force": math.inf}]})
        capped = _ours({**case, "interactions": [fields]})
        if not np.array_equal(uncapped.forces, capped.forces):
            return True
    return False


@pytest.mark.slow
def test_matches_nanover_reference(nanover_cases):
    kinds = set()
    compared = 0
    for number, (case, expected) in enumerate(nanover_cases):
        if _negative_scale_cap_binds(case):
            continue
        compared += 1
        result = _ours(case)
        kinds.update((i["interaction_type"], i["scale"], i["max_force"], case["box"] is None) for i in case["interactions"])
        assert result.indices.dtype == np.uint32
        assert result.indices.tolist() == expected["indices"], f"case {number}"
        # NanoVer accumulates forces in float32
        np.testing.assert_allclose(result.forces, np.reshape(expected["sparse_forces"], (-1, 3)), rtol=1e-5, atol=1e-4, err_msg=f"case {number}")
        assert result.energy == pytest.approx(expected["energy"], rel=1e-9, abs=1e-9), f"case {number}"
    assert compared >= 100
    assert {kind[0] for kind in kinds} == set(TYPES)
    assert any(kind[1] == 100.0 and kind[2] == math.inf for kind in kinds)
    assert any(kind[1] < 0 for kind in kinds)
    assert {kind[3] for kind in kinds} == {True, False}


@pytest.mark.slow
def test_work_contribution_matches_nanover(nanover_cases):
    for case, expected in nanover_cases:
        (forces, positions), = case["work"]
        assert work_contribution(np.asarray(forces), np.asarray(positions)) == pytest.approx(expected["work"][0], rel=1e-12)


def test_no_interactions_is_empty():
    result = compute_imd_forces(np.zeros((3, 3)), np.ones(3), [])
    assert result.indices.shape == (0,) and result.forces.shape == (0, 3) and result.energy == 0.0
    assert ImdResult.EMPTY.indices.size == 0 and not ImdResult.EMPTY.forces.flags.writeable


def test_spring_on_one_particle():
    positions = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    result = compute_imd_forces(positions, np.array([12.0, 1.0]), [_interaction([1], [2.0, 0.0, 0.0], scale=3.0)])
    assert result.indices.tolist() == [1]
    np.testing.assert_allclose(result.forces, [[6.0, 0.0, 0.0]])
    assert result.energy == pytest.approx(3.0)


def test_mass_weighted_split_and_equal_split():
    positions = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    masses = np.array([1.0, 3.0, 0.0])
    target = [1.0, 0.0, 0.0]
    weighted = compute_imd_forces(positions, masses, [_interaction([0, 1, 2], target, mass_weighted=True)])
    equal = compute_imd_forces(positions, masses, [_interaction([0, 1, 2], target, mass_weighted=False)])
    assert weighted.indices.tolist() == [0, 1] and equal.indices.tolist() == [0, 1]
    np.testing.assert_allclose(weighted.forces[:, 0], [0.5, 1.5])
    np.testing.assert_allclose(equal.forces[:, 0], [1.0, 1.0])


def test_interactions_on_one_particle_add_up():
    positions = np.zeros((2, 3))
    interactions = [_interaction([0], [1.0, 0.0, 0.0]), _interaction([0, 1], [0.0, 1.0, 0.0])]
    result = compute_imd_forces(positions, np.ones(2), interactions)
    np.testing.assert_allclose(result.forces, [[2.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    assert result.energy == pytest.approx(2.0)


def test_minimum_image_only_when_periodic():
    positions = np.array([[0.1, 0.0, 0.0]])
    interaction = _interaction([0], [2.9, 0.0, 0.0])
    free = compute_imd_forces(positions, np.ones(1), [interaction])
    periodic = compute_imd_forces(positions, np.ones(1), [interaction], periodic_box=np.diag([3.0, 3.0, 3.0]))
    np.testing.assert_allclose(free.forces, [[5.6, 0.0, 0.0]])
    np.testing.assert_allclose(periodic.forces, [[-0.4, 0.0, 0.0]])


@pytest.mark.parametrize("particles", [[3], [3, 4]])  # atoms no other test's warning names (warnings are logged once)
def test_absurd_positions_in_a_periodic_box_are_left_out_without_a_numpy_warning(particles):
    positions = np.zeros((5, 3))
    positions[3:, 0] = [1.5e308, -1.5e308]  # finite, beyond any box: overflow when wrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = compute_imd_forces(
            positions, np.ones(5), [_interaction(particles, [0.0, 0.0, 0.0])], periodic_box=np.array([0.5, 0.5, 0.5])
        )
    assert result.indices.size == 0 and result.energy == 0.0  # the force is not finite: left out


def test_non_orthorhombic_box_is_refused():
    box = np.array([[3.0, 0.0, 0.0], [1.0, 3.0, 0.0], [0.0, 0.0, 3.0]])
    with pytest.raises(ValueError, match="orthorhombic"):
        compute_imd_forces(np.zeros((1, 3)), np.ones(1), [], periodic_box=box)


@pytest.mark.parametrize("kind", TYPES)
def test_server_cap_bounds_inf_interaction(kind):
    positions = np.zeros((2, 3))
    far = [0.6, -0.8, 0.0] if kind == "gaussian" else [30.0, -40.0, 0.5]
    interaction = _interaction([0, 1], far, kind, scale=100.0, max_force=math.inf)
    uncapped = compute_imd_forces(positions, np.array([1.0, 1.0]), [interaction])
    capped = compute_imd_forces(positions, np.array([1.0, 1.0]), [interaction], max_force=10.0)
    assert np.abs(uncapped.forces).max() > 10.0
    assert np.abs(capped.forces).max() <= 10.0
    total = capped.forces.sum(axis=0)
    assert np.linalg.norm(total) == pytest.approx(min(10.0, np.linalg.norm(uncapped.forces.sum(axis=0))))


def test_server_cap_bounds_summed_components():
    positions = np.zeros((1, 3))
    interactions = [_interaction([0], [5.0, 0.0, 0.0], max_force=math.inf, scale=100.0) for _ in range(3)]
    result = compute_imd_forces(positions, np.ones(1), interactions, max_force=25.0)
    np.testing.assert_allclose(result.forces, [[25.0, 0.0, 0.0]])


def test_server_cap_that_does_not_bind_changes_nothing():
    rng = np.random.default_rng(5)
    positions = rng.uniform(0, 2, (6, 3))
    interactions = [_interaction([1, 4], [0.5, 0.5, 0.5], kind) for kind in TYPES]
    plain = compute_imd_forces(positions, np.ones(6), interactions)
    capped = compute_imd_forces(positions, np.ones(6), interactions, max_force=1e6)
    np.testing.assert_array_equal(plain.forces, capped.forces)
    assert plain.energy == capped.energy


@pytest.mark.parametrize("kind", TYPES)
def test_a_negative_scale_is_capped_like_a_positive_one(kind):
    positions = np.zeros((2, 3))
    target = [0.6, -0.8, 0.0] if kind == "gaussian" else [3.0, -4.0, 0.5]
    repel = compute_imd_forces(positions, np.ones(2), [_interaction([0, 1], target, kind, scale=-1e6, max_force=20000.0)])
    attract = compute_imd_forces(positions, np.ones(2), [_interaction([0, 1], target, kind, scale=1e6, max_force=20000.0)])
    assert np.linalg.norm(repel.forces.sum(axis=0)) == pytest.approx(20000.0)
    np.testing.assert_allclose(repel.forces, -attract.forces)
    assert repel.energy == pytest.approx(-attract.energy)


@pytest.mark.parametrize("scale", [1e6, -1e6])
@pytest.mark.parametrize("client_cap", [math.inf, 1e9, 50.0])
def test_a_client_may_lower_the_server_cap_never_raise_it(scale, client_cap):
    positions = np.zeros((1, 3))
    interaction = _interaction([0], [3.0, 4.0, 0.0], "spring", scale=scale, max_force=client_cap)
    result = compute_imd_forces(positions, np.ones(1), [interaction], max_force=200.0)
    assert np.linalg.norm(result.forces[0]) == pytest.approx(min(client_cap, 200.0))


def test_negative_server_cap_is_refused():
    with pytest.raises(ValueError, match="max_force"):
        compute_imd_forces(np.zeros((1, 3)), np.ones(1), [], max_force=-1.0)


def test_non_finite_force_is_dropped_with_warning(caplog):
    positions = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    overflow = _interaction([0], [1e200, 0.0, 0.0], scale=1e200, max_force=math.inf)
    good = _interaction([1], [2.0, 1.0, 1.0])
    with caplog.at_level(logging.WARNING, logger="costeer.engine.imd"):
        result = compute_imd_forces(positions, np.ones(2), [overflow, good])
    assert result.indices.tolist() == [1]
    assert np.all(np.isfinite(result.forces)) and math.isfinite(result.energy)
    assert result.energy == pytest.approx(1.0)
    assert "not finite" in caplog.text


def test_weightless_group_is_dropped_with_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="costeer.engine.imd"):
        result = compute_imd_forces(np.zeros((3, 3)), np.array([0.0, 0.0, 0.0]), [_interaction([1, 2], [1.0, 0, 0])])
    assert result.indices.size == 0 and result.energy == 0.0
    assert "total mass is zero" in caplog.text


def test_coincident_constant_force_is_zero():
    result = compute_imd_forces(np.ones((1, 3)), np.ones(1), [_interaction([0], [1.0, 1.0, 1.0], "constant")])
    assert result.indices.size == 0 and result.energy == 0.0


def test_work_contribution_is_sum_of_dot_products():
    forces = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]])
    positions = np.array([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    assert work_contribution(forces, positions) == pytest.approx(6.0 - 1.0)
    assert work_contribution(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0


def test_finite_interactions_that_overflow_together_never_reach_the_simulation(caplog):
    positions = np.zeros((2, 3))
    huge = [
        Interaction.from_state({"position": [0.5, 0, 0], "particles": [0], "interaction_type": "constant", "scale": 1e308, "max_force": math.inf})
        for _ in range(3)
    ]
    gentle = Interaction.from_state({"position": [0, 1, 0], "particles": [1], "interaction_type": "spring"})
    with caplog.at_level(logging.WARNING):
        result = compute_imd_forces(positions, np.ones(2), [*huge, gentle])
    assert np.all(np.isfinite(result.forces)) and math.isfinite(result.energy)
    assert result.indices.tolist() == [1]
    assert "overflowed" in caplog.text


def _force_vectors(particles, forces, **fields) -> Interaction:
    return Interaction.from_state(
        {"interaction_type": "forces", "particles": particles, "forces": forces, **fields}, particle_count=4
    )


def test_force_vectors_are_applied_as_given_with_no_energy():
    positions, masses = np.zeros((4, 3)), np.array([12.0, 1.0, 16.0, 0.0])
    pull = _force_vectors([3, 1], [[0.0, 0.0, 5.0], [1.0, -2.0, 0.5]], scale=2.0, max_force=math.inf)
    result = compute_imd_forces(positions, masses, [pull])
    assert result.indices.tolist() == [1, 3]
    np.testing.assert_allclose(result.forces, [[2.0, -4.0, 1.0], [0.0, 0.0, 10.0]])
    assert result.energy == 0.0


@pytest.mark.parametrize("scale", [1.0, -1e300])
def test_force_vectors_are_capped_per_particle_keeping_their_direction(scale):
    positions, masses = np.zeros((4, 3)), np.ones(4)
    pull = _force_vectors([0, 1], [[300.0, 400.0, 0.0], [0.0, 0.0, 1.0]], scale=scale, max_force=50.0)
    result = compute_imd_forces(positions, masses, [pull])
    lengths = np.linalg.norm(result.forces, axis=1)
    assert lengths[0] == pytest.approx(50.0)
    np.testing.assert_allclose(result.forces[0] / lengths[0], np.sign(scale) * np.array([0.6, 0.8, 0.0]))
    assert lengths[1] <= 50.0 * (1 + 1e-12)


def test_force_vectors_feel_the_server_cap_whatever_they_ask():
    pull = _force_vectors([2], [[0.0, 1e6, 0.0]], max_force=math.inf)
    result = compute_imd_forces(np.zeros((4, 3)), np.ones(4), [pull], max_force=20.0)
    np.testing.assert_allclose(result.forces, [[0.0, 20.0, 0.0]])


def test_force_vectors_add_to_a_pull_on_the_same_particle():
    spring = _interaction([0], [1.0, 0.0, 0.0], scale=1.0, max_force=math.inf)
    push = _force_vectors([0], [[0.0, 3.0, 0.0]], max_force=math.inf)
    result = compute_imd_forces(np.zeros((4, 3)), np.ones(4), [spring, push])
    np.testing.assert_allclose(result.forces, [[2.0, 3.0, 0.0]])

"""The user force inside OpenMM: what the Context feels, what it forgets, what it hides."""

from __future__ import annotations

import re

import numpy as np
import openmm
import pytest

from costeer.core.interaction import Interaction
from costeer.engine.imd import ImdResult, compute_imd_forces
from costeer.engine.imd_force import IMD_FORCE_GROUP, NON_IMD_GROUPS, ImdForce

MASSES = np.array([12.0, 1.0, 16.0, 14.0, 1.0])
POSITIONS = np.array(
    [[0.0, 0.0, 0.0], [0.1, 0.0, 0.0], [0.5, 0.5, 0.0], [1.0, 0.2, 0.3], [1.1, 0.2, 0.3]]
)


def _system() -> openmm.System:
    system = openmm.System()
    for mass in MASSES:
        system.addParticle(mass)
    bonds = openmm.HarmonicBondForce()
    bonds.addBond(0, 1, 0.11, 1000.0)
    bonds.addBond(3, 4, 0.12, 1000.0)
    system.addForce(bonds)
    return system


def _context(system: openmm.System) -> openmm.Context:
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(POSITIONS)
    return context


def _user_forces(context: openmm.Context) -> np.ndarray:
    state = context.getState(getForces=True, groups={IMD_FORCE_GROUP})
    return state.getForces(asNumpy=True).value_in_unit(openmm.unit.kilojoule_per_mole / openmm.unit.nanometer)


def _result(particles, position, kind="spring", scale=10.0) -> ImdResult:
    interaction = Interaction(
        position=np.asarray(position, dtype=np.float64),
        particles=np.asarray(particles, dtype=np.int64),
        interaction_type=kind,
        scale=scale,
    )
    return compute_imd_forces(POSITIONS, MASSES, [interaction])


@pytest.fixture
def setup() -> tuple[ImdForce, openmm.Context]:
    system = _system()
    imd = ImdForce(system)
    return imd, _context(system)


def test_group_mask_leaves_out_only_the_user_group():
    assert NON_IMD_GROUPS == 0x7FFFFFFF
    assert not NON_IMD_GROUPS & (1 << IMD_FORCE_GROUP)


@pytest.mark.parametrize("kind", ["gaussian", "spring", "constant"])
def test_context_feels_the_computed_forces(setup, kind):
    imd, context = setup
    result = _result([0, 1, 2], [2.0, -1.0, 0.5], kind)
    imd.apply(context, result)
    expected = np.zeros((len(MASSES), 3))
    expected[result.indices] = result.forces
    np.testing.assert_allclose(_user_forces(context), expected, rtol=1e-12, atol=1e-12)


def test_released_particles_feel_nothing(setup):
    imd, context = setup
    imd.apply(context, _result([0, 1], [2.0, 0.0, 0.0]))
    second = _result([3], [0.0, 2.0, 0.0])
    imd.apply(context, second)
    forces = _user_forces(context)
    np.testing.assert_allclose(forces[[0, 1, 2, 4]], 0.0)
    np.testing.assert_allclose(forces[3], second.forces[0])
    imd.clear(context)
    np.testing.assert_allclose(_user_forces(context), 0.0)


def test_updates_the_context_only_when_something_changed(setup):
    imd, context = setup
    calls = []
    update = imd.force.updateParametersInContext
    imd.force.updateParametersInContext = lambda ctx: (calls.append(1), update(ctx))
    imd.apply(context, ImdResult.EMPTY)
    assert calls == []
    result = _result([2], [1.0, 1.0, 1.0])
    imd.apply(context, result)
    imd.apply(context, result)
    assert len(calls) == 1
    imd.apply(context, _result([2], [1.0, 1.0, 2.0]))
    assert len(calls) == 2
    imd.clear(context)
    imd.clear(context)
    assert len(calls) == 3


def _integrated_groups(context: openmm.Context) -> set[int]:
    mask = context.getIntegrator().getIntegrationForceGroups() & 0xFFFFFFFF
    return {group for group in range(32) if mask & (1 << group)}


def test_the_user_group_is_stepped_only_while_a_user_force_is_applied(setup):
    imd, context = setup
    assert _integrated_groups(context) == set(range(32))  # OpenMM's default, before the first apply
    imd.clear(context)
    assert _integrated_groups(context) == set(range(31)) and not imd.integrated
    imd.apply(context, _result([0, 1], [2.0, 0.0, 0.0]))
    assert _integrated_groups(context) == set(range(32)) and imd.integrated
    imd.apply(context, ImdResult.EMPTY)
    assert _integrated_groups(context) == set(range(31)) and not imd.integrated


def test_a_pull_moves_the_atoms_only_while_applied_and_no_stale_force_is_stepped(setup):
    imd, context = setup
    imd.apply(context, _result([2], [5.0, 0.5, 0.0], kind="constant", scale=100.0))
    context.getIntegrator().step(20)
    pulled = context.getState(getPositions=True).getPositions(asNumpy=True)._value[2].copy()
    assert pulled[0] > POSITIONS[2][0] + 1e-4  # pushed along +x
    context.setVelocities(np.zeros_like(POSITIONS))
    imd.clear(context)
    context.getIntegrator().step(20)
    still = context.getState(getPositions=True).getPositions(asNumpy=True)._value[2]
    np.testing.assert_allclose(still, pulled, atol=1e-12)  # atom 2 has no bonds: with no user force it stays


def test_the_integrators_own_force_groups_are_kept():
    system = _system()
    imd = ImdForce(system)
    context = _context(system)
    context.getIntegrator().setIntegrationForceGroups({0, 3})  # e.g. a system whose file steps two groups
    imd.apply(context, _result([1], [1.0, 0.0, 0.0]))
    assert _integrated_groups(context) == {0, 3, IMD_FORCE_GROUP}
    imd.clear(context)
    assert _integrated_groups(context) == {0, 3}


def test_user_force_energy_is_left_out_of_other_groups(setup):
    imd, context = setup
    unit = openmm.unit.kilojoule_per_mole
    before = context.getState(getEnergy=True, groups=NON_IMD_GROUPS).getPotentialEnergy().value_in_unit(unit)
    imd.apply(context, _result([0, 3, 4], [5.0, 5.0, 5.0], scale=100.0))
    after = context.getState(getEnergy=True, groups=NON_IMD_GROUPS).getPotentialEnergy().value_in_unit(unit)
    everything = context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit)
    assert after == pytest.approx(before)
    assert everything != pytest.approx(before)


def test_leftover_nanover_force_is_replaced_and_others_refused():
    system = _system()
    leftover = openmm.CustomExternalForce("-fx * x - fy * y - fz * z")
    leftover.setForceGroup(IMD_FORCE_GROUP)
    system.addForce(leftover)
    ImdForce(system)
    in_group = [f for f in system.getForces() if f.getForceGroup() == IMD_FORCE_GROUP]
    assert len(in_group) == 1 and in_group[0].getNumParticles() == len(MASSES)

    system = _system()
    system.getForce(0).setForceGroup(IMD_FORCE_GROUP)
    with pytest.raises(ValueError, match="reserved for interactive forces"):
        ImdForce(system)


def test_nanotube_file_leftovers(nanotube_xml):
    text = nanotube_xml.read_text()
    system_xml = re.search(r"<System\b.*?</System>", text, re.DOTALL).group(0)
    system = openmm.XmlSerializer.deserialize(system_xml)
    assert sum(f.getForceGroup() == IMD_FORCE_GROUP for f in system.getForces()) == 2
    ImdForce(system)
    in_group = [f for f in system.getForces() if f.getForceGroup() == IMD_FORCE_GROUP]
    assert len(in_group) == 1 and in_group[0].getNumParticles() == system.getNumParticles() == 65

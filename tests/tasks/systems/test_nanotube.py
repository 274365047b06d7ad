"""The built-in nanotube task against NanoVer's nanotube.xml: same atoms, force field, integrator."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openmm
import openmm.app
import openmm.unit as unit
import pytest

from costeer.tasks import BuiltSystem
from costeer.tasks.systems.nanotube import build_nanotube_system

METHANE_CARBON = 60  # where nanotube.xml has it

NANOVER_IMD_GROUP = 31  # NanoVer saves its interactive-force objects in this group


@dataclass(frozen=True)
class Reference:
    topology: openmm.app.Topology
    positions: np.ndarray
    system: openmm.System
    integrator: openmm.Integrator


@pytest.fixture(scope="module")
def reference(nanotube_xml: Path, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    root = ET.parse(nanotube_xml).getroot()
    cif = tmp_path_factory.mktemp("nanotube") / "nanotube.cif"
    cif.write_text(root.findtext("pdbx"))
    pdbx = openmm.app.PDBxFile(str(cif))
    system = openmm.XmlSerializer.deserialize(ET.tostring(root.find("System"), encoding="unicode"))
    integrator = openmm.XmlSerializer.deserialize(ET.tostring(root.find("Integrator"), encoding="unicode"))
    positions = pdbx.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    return Reference(pdbx.topology, np.asarray(positions), system, integrator)


@pytest.fixture(scope="module")
def built() -> BuiltSystem:
    return build_nanotube_system()


def _forces(system: openmm.System, *, skip_group: int | None = None) -> list[openmm.Force]:
    return [force for force in system.getForces() if force.getForceGroup() != skip_group]


def _force(system: openmm.System, kind: type) -> openmm.Force:
    (force,) = [force for force in _forces(system, skip_group=NANOVER_IMD_GROUP) if isinstance(force, kind)]
    return force


def _potential_energy(system: openmm.System, positions: np.ndarray) -> float:
    context = _reference_context(system)
    context.setPositions(positions)
    return context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)


def _bond_pairs(topology: openmm.app.Topology) -> list[tuple[int, int]]:
    return sorted(tuple(sorted((bond[0].index, bond[1].index))) for bond in topology.bonds())


def _global_parameters(force: openmm.Force) -> dict[str, float]:
    count = force.getNumGlobalParameters()
    return {force.getGlobalParameterName(i): force.getGlobalParameterDefaultValue(i) for i in range(count)}


def _box(system: openmm.System) -> np.ndarray:
    return np.array([vector.value_in_unit(unit.nanometer) for vector in system.getDefaultPeriodicBoxVectors()])


def _particle_parameter_names(force: openmm.CustomNonbondedForce) -> list[str]:
    return [force.getPerParticleParameterName(i) for i in range(force.getNumPerParticleParameters())]


def _exclusions(force: openmm.CustomNonbondedForce) -> list[tuple[int, int]]:
    return sorted(tuple(sorted(force.getExclusionParticles(i))) for i in range(force.getNumExclusions()))


def _reference_context(system: openmm.System) -> openmm.Context:
    return openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))


def test_atoms_match_the_xml(built: BuiltSystem, reference: Reference) -> None:
    assert built.name == "nanotube"
    assert built.system.getNumParticles() == reference.system.getNumParticles() == 65
    assert built.positions.shape == (65, 3) and built.positions.dtype == np.float64
    for ours, theirs in zip(built.topology.atoms(), reference.topology.atoms(), strict=True):
        assert (ours.name, ours.element, ours.residue.name, ours.residue.chain.id) == (
            theirs.name, theirs.element, theirs.residue.name, theirs.residue.chain.id
        )
    assert [len(list(residue.atoms())) for residue in built.topology.residues()] == [60, 5]
    assert list(built.topology.atoms())[METHANE_CARBON].element.symbol == "C"
    ours = [built.system.getParticleMass(i).value_in_unit(unit.dalton) for i in range(65)]
    theirs = [reference.system.getParticleMass(i).value_in_unit(unit.dalton) for i in range(65)]
    assert ours == theirs


def test_bonds_are_identical(built: BuiltSystem, reference: Reference) -> None:
    assert _bond_pairs(built.topology) == _bond_pairs(reference.topology)
    assert built.topology.getNumBonds() == 88


def test_force_classes_and_expressions_match(built: BuiltSystem, reference: Reference) -> None:
    ours, theirs = _forces(built.system), _forces(reference.system, skip_group=NANOVER_IMD_GROUP)
    assert [type(force) for force in ours] == [type(force) for force in theirs]
    for mine, other in zip(ours, theirs, strict=True):
        assert mine.getEnergyFunction() == other.getEnergyFunction()
        assert mine.getForceGroup() == other.getForceGroup() == 0
        assert _global_parameters(mine) == _global_parameters(other)
    assert not built.system.usesPeriodicBoundaryConditions()
    assert not reference.system.usesPeriodicBoundaryConditions()
    np.testing.assert_array_equal(_box(built.system), _box(reference.system))


def test_bonded_terms_are_identical(built: BuiltSystem, reference: Reference) -> None:
    ours, theirs = _force(built.system, openmm.CustomBondForce), _force(reference.system, openmm.CustomBondForce)
    assert ours.getNumBonds() == theirs.getNumBonds() == 88
    for index in range(ours.getNumBonds()):
        *pair, params = ours.getBondParameters(index)
        *other_pair, other_params = theirs.getBondParameters(index)
        assert pair == other_pair
        np.testing.assert_allclose(params, other_params, rtol=1e-12)
    ours, theirs = _force(built.system, openmm.CustomAngleForce), _force(reference.system, openmm.CustomAngleForce)
    assert ours.getNumAngles() == theirs.getNumAngles() == 162
    for index in range(ours.getNumAngles()):
        *triple, params = ours.getAngleParameters(index)
        *other_triple, other_params = theirs.getAngleParameters(index)
        assert triple == other_triple
        np.testing.assert_allclose(params, other_params, rtol=1e-12)


def test_nonbonded_terms_are_identical(built: BuiltSystem, reference: Reference) -> None:
    ours = _force(built.system, openmm.CustomNonbondedForce)
    theirs = _force(reference.system, openmm.CustomNonbondedForce)
    assert ours.getNonbondedMethod() == theirs.getNonbondedMethod() == openmm.CustomNonbondedForce.CutoffNonPeriodic
    assert ours.getCutoffDistance().value_in_unit(unit.nanometer) == pytest.approx(0.3, rel=1e-12)
    assert theirs.getCutoffDistance().value_in_unit(unit.nanometer) == pytest.approx(0.3, rel=1e-12)
    assert (ours.getUseLongRangeCorrection(), ours.getUseSwitchingFunction()) == (False, False)
    assert _particle_parameter_names(ours) == _particle_parameter_names(theirs) == ["sig", "eps"]
    np.testing.assert_allclose(
        [ours.getParticleParameters(i) for i in range(65)],
        [theirs.getParticleParameters(i) for i in range(65)],
        rtol=1e-12,
    )
    assert _exclusions(ours) == _exclusions(theirs) == _bond_pairs(built.topology)  # 1-2 pairs only
    walls = _force(built.system, openmm.CustomExternalForce)
    their_walls = _force(reference.system, openmm.CustomExternalForce)
    assert walls.getNumParticles() == their_walls.getNumParticles() == 65
    for index in range(65):
        assert walls.getParticleParameters(index) == their_walls.getParticleParameters(index)


def test_integrator_settings_match(built: BuiltSystem, reference: Reference) -> None:
    ours, theirs = built.integrator, reference.integrator
    assert isinstance(ours, openmm.LangevinIntegrator)
    assert ET.fromstring(openmm.XmlSerializer.serialize(ours)).get("type") == "LangevinIntegrator"
    assert ours.getTemperature() == theirs.getTemperature() == 300 * unit.kelvin
    assert ours.getFriction() == theirs.getFriction() == 4 / unit.picosecond
    assert ours.getStepSize() == theirs.getStepSize() == 0.0005 * unit.picosecond
    assert ours.getConstraintTolerance() == theirs.getConstraintTolerance()
    assert ours.getRandomNumberSeed() == theirs.getRandomNumberSeed() == 0


def test_same_energy_at_the_same_positions(built: BuiltSystem, reference: Reference) -> None:
    for positions in (reference.positions, built.positions):
        assert _potential_energy(built.system, positions) == pytest.approx(
            _potential_energy(reference.system, positions), rel=1e-9
        )


def test_starting_structure_is_relaxed_and_where_the_xml_has_it(built: BuiltSystem, reference: Reference) -> None:
    # The XML's positions are a 300 K snapshot (about 470 kJ/mol); ours are ideal, within
    # ~25 kJ/mol of the force field's local minimum (about 249 kJ/mol).
    context = _reference_context(reference.system)
    context.setPositions(reference.positions)
    openmm.LocalEnergyMinimizer.minimize(context, 1e-3)
    minimum = context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    start = _potential_energy(built.system, built.positions)
    assert minimum <= start < minimum + 30.0
    assert start < _potential_energy(reference.system, reference.positions)
    deviation = np.linalg.norm(built.positions - reference.positions, axis=1)
    assert np.sqrt(np.mean(deviation**2)) < 0.02
    assert deviation[METHANE_CARBON] < 0.005


def test_tube_is_a_3_3_armchair(built: BuiltSystem) -> None:
    tube = built.positions[:60]
    centred = tube - tube.mean(axis=0)
    axis = np.linalg.eigh(centred.T @ centred)[1][:, -1]
    radial = np.linalg.norm(centred - np.outer(centred @ axis, axis), axis=1)
    np.testing.assert_allclose(radial, 0.1947, atol=1e-4)
    layers = np.unique(np.round(np.abs(centred @ axis), 4))
    assert len(layers) == 5  # 10 layers, symmetric about the centre
    pairs = np.array([pair for pair in _bond_pairs(built.topology) if pair[1] < 60])
    np.testing.assert_allclose(np.linalg.norm(tube[pairs[:, 0]] - tube[pairs[:, 1]], axis=1), 0.1332, rtol=1e-9)
    degrees = np.bincount(pairs.ravel(), minlength=60)
    assert sorted(np.flatnonzero(degrees == 2).tolist()) == [0, 1, 4, 5, 8, 9, 50, 51, 54, 55, 58, 59]


def test_a_short_run_stays_finite_and_intact(built: BuiltSystem) -> None:
    integrator = openmm.LangevinIntegrator(300 * unit.kelvin, 4 / unit.picosecond, 0.0005 * unit.picosecond)
    integrator.setRandomNumberSeed(7)
    context = openmm.Context(built.system, integrator, openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(built.positions)
    context.setVelocitiesToTemperature(300 * unit.kelvin, 7)
    integrator.step(200)
    state = context.getState(getPositions=True, getEnergy=True)
    positions = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    assert np.isfinite(positions).all()
    assert np.isfinite(state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole))
    pairs = np.array(_bond_pairs(built.topology))
    lengths = np.linalg.norm(positions[pairs[:, 0]] - positions[pairs[:, 1]], axis=1)
    assert ((lengths > 0.09) & (lengths < 0.17)).all()


def test_each_build_is_independent() -> None:
    first, second = build_nanotube_system(), build_nanotube_system()
    assert first.system is not second.system and first.integrator is not second.integrator
    np.testing.assert_array_equal(first.positions, second.positions)
    assert openmm.XmlSerializer.serialize(first.system) == openmm.XmlSerializer.serialize(second.system)

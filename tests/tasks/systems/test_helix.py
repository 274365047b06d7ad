"""The built-in helix system: a capped alanine alpha-helix, ff14SB in vacuum, tethered by its first CA."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import openmm
import openmm.unit as unit
import pytest

from costeer.tasks import BuiltSystem, Chemistry
from costeer.tasks.peptide import find_backbone, intact_hydrogen_bonds
from costeer.tasks.systems.helix import TETHER_KJ_NM2, build_helix_system


@pytest.fixture(scope="module")
def built() -> BuiltSystem:
    return build_helix_system()


def _energy(built: BuiltSystem, positions: np.ndarray, *, groups: set[int] | None = None) -> float:
    platform = openmm.Platform.getPlatformByName("Reference")
    context = openmm.Context(built.system, openmm.VerletIntegrator(0.001), platform)
    context.setPositions(positions * unit.nanometer)
    state = context.getState(getEnergy=True, groups=groups if groups is not None else -1)
    return state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)


def test_ace_ten_alanines_nme_with_hydrogens(built: BuiltSystem) -> None:
    residues = [residue.name for residue in built.topology.residues()]
    assert residues == ["ACE"] + ["ALA"] * 10 + ["NME"]
    elements = Chemistry.from_topology(built.topology).elements
    assert built.topology.getNumAtoms() == built.system.getNumParticles() == len(built.positions) == 112
    assert np.bincount(elements, minlength=9)[[1, 6, 7, 8]].tolist() == [57, 33, 11, 11]
    assert built.name == "helix"


def test_starts_as_an_ideal_alpha_helix(built: BuiltSystem) -> None:
    backbone = find_backbone(Chemistry.from_topology(built.topology))
    alpha = built.positions[backbone.alpha_carbons]
    rises = np.linalg.norm(alpha[1:] - alpha[:-1], axis=1)
    assert np.allclose(rises, 0.38, atol=0.005)  # trans peptide bonds: 3.8 Å between alpha carbons
    # 9 residues of 0.15 nm rise, and 900 degrees round, so across the helix's 0.46 nm diameter
    assert 1.4 < np.linalg.norm(alpha[-1] - alpha[0]) < 1.55
    assert intact_hydrogen_bonds(built.positions, backbone.helical_pairs, cutoff=0.22) == 8
    assert _energy(built, built.positions) < 150.0  # no clashes: close to a minimum as built


def test_first_alpha_carbon_is_tethered_and_nothing_removes_the_pull() -> None:
    built = build_helix_system()
    forces = {type(force).__name__: force for force in built.system.getForces()}
    assert "CMMotionRemover" not in forces
    tether = forces["CustomExternalForce"]
    assert tether.getNumParticles() == 1
    atom, start = tether.getParticleParameters(0)
    assert atom == find_backbone(Chemistry.from_topology(built.topology)).alpha_carbons[0]
    assert np.allclose(start, built.positions[atom])
    tether.setForceGroup(5)
    moved = built.positions.copy()
    moved[atom] += [0.1, 0.0, 0.0]
    assert _energy(built, built.positions, groups={5}) == pytest.approx(0.0, abs=1e-6)
    assert _energy(built, moved, groups={5}) == pytest.approx(0.5 * TETHER_KJ_NM2 * 0.1**2)


def test_a_langevin_integrator_at_the_nanotube_step(built: BuiltSystem) -> None:
    integrator = built.integrator
    assert isinstance(integrator, openmm.LangevinMiddleIntegrator)
    assert integrator.getStepSize().value_in_unit(unit.picosecond) == pytest.approx(0.0005)
    assert integrator.getTemperature().value_in_unit(unit.kelvin) == pytest.approx(300.0)
    assert build_helix_system().integrator is not integrator  # fresh each time


def test_too_short_a_helix_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 5 alanines"):
        build_helix_system(alanines=4)


def test_every_process_builds_the_same_helix() -> None:
    """Modeller places hydrogens with Python's ``random``: seeded, so rollouts repeat across processes."""
    script = (
        "import hashlib; from costeer.tasks.systems.helix import build_helix_system; "
        "print(hashlib.sha256(build_helix_system().positions.tobytes()).hexdigest())"
    )
    digests = {
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    }
    assert len(digests) == 1


def test_building_leaves_the_callers_random_state_alone() -> None:
    random.seed(7)
    expected = random.random()
    random.seed(7)
    build_helix_system()
    assert random.random() == expected

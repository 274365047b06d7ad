"""PDB + force field loading with the documented defaults, and task systems."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openmm
import pytest
from openmm import app, unit

from costeer.engine.loading import from_built, load_pdb_system

TEST_PDB = Path(app.__file__).parent / "data" / "test.pdb"  # villin in water, OpenMM's own


def test_villin_without_water_is_a_vacuum_system() -> None:
    loaded = load_pdb_system(TEST_PDB, strip_water=True)
    assert loaded.name == "test"
    assert loaded.system.getNumParticles() == 584  # protein and two Cl- (PERF-NOTES)
    assert loaded.box is None
    assert not loaded.system.usesPeriodicBoundaryConditions()
    integrator = loaded.integrator
    assert isinstance(integrator, openmm.LangevinMiddleIntegrator)
    assert integrator.getTemperature().value_in_unit(unit.kelvin) == pytest.approx(300.0)
    assert integrator.getFriction().value_in_unit(unit.picosecond**-1) == pytest.approx(1.0)
    assert integrator.getStepSize().value_in_unit(unit.femtosecond) == pytest.approx(2.0)
    assert loaded.system.getNumConstraints() > 0  # HBonds
    nonbonded = next(f for f in loaded.system.getForces() if isinstance(f, openmm.NonbondedForce))
    assert nonbonded.getNonbondedMethod() == openmm.NonbondedForce.NoCutoff
    assert loaded.positions.shape == (584, 3)


def test_options_change_the_integrator() -> None:
    loaded = load_pdb_system(
        TEST_PDB, strip_water=True, temperature=310.0, friction=2.0, timestep_fs=1.0, constraints="none"
    )
    assert loaded.integrator.getTemperature().value_in_unit(unit.kelvin) == pytest.approx(310.0)
    assert loaded.integrator.getStepSize().value_in_unit(unit.femtosecond) == pytest.approx(1.0)
    assert loaded.system.getNumConstraints() == 0


def test_bad_constraints_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="HBonds"):
        load_pdb_system(TEST_PDB, constraints="bonds")
    with pytest.raises(FileNotFoundError):
        load_pdb_system(tmp_path / "nothing.pdb")


def test_periodic_box_uses_pme(tmp_path: Path) -> None:
    # A small water box cut from test.pdb keeps the run fast.
    structure = app.PDBFile(str(TEST_PDB))
    modeller = app.Modeller(structure.topology, structure.positions)
    waters = [r for r in modeller.topology.residues() if r.name == "HOH"]
    modeller.delete([r for r in modeller.topology.residues() if r.name != "HOH"] + waters[30:])
    path = tmp_path / "water.pdb"
    with path.open("w") as handle:
        app.PDBFile.writeFile(modeller.topology, modeller.positions, handle)
    loaded = load_pdb_system(path)
    assert loaded.box is not None and loaded.box.shape == (3, 3)
    assert loaded.system.usesPeriodicBoundaryConditions()
    nonbonded = next(f for f in loaded.system.getForces() if isinstance(f, openmm.NonbondedForce))
    assert nonbonded.getNonbondedMethod() == openmm.NonbondedForce.PME
    assert nonbonded.getCutoffDistance().value_in_unit(unit.nanometer) == pytest.approx(1.0)


@dataclass
class _Built:
    name: str
    topology: app.Topology
    system: openmm.System
    integrator: openmm.Integrator
    positions: np.ndarray


def test_from_built() -> None:
    topology = app.Topology()
    chain = topology.addChain()
    residue = topology.addResidue("ARG", chain)
    topology.addAtom("AR", app.element.argon, residue)
    system = openmm.System()
    system.addParticle(39.9)
    built = _Built("argon", topology, system, openmm.VerletIntegrator(0.001), np.zeros((1, 3)))
    loaded = from_built(built)
    assert loaded.name == "argon" and loaded.box is None
    assert loaded.system is system and loaded.positions.shape == (1, 3)

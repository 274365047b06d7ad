"""Reading NanoVer's OpenMM XML (the real nanotube file) and writing it back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openmm
import pytest

from costeer.engine.nanover_xml import LoadedSystem, NanoverXmlError, read_nanover_xml, write_nanover_xml


def test_reads_the_nanotube(nanotube_xml: Path) -> None:
    loaded = read_nanover_xml(nanotube_xml)
    assert isinstance(loaded, LoadedSystem)
    assert loaded.name == "nanotube"
    assert loaded.topology.getNumAtoms() == 65
    assert loaded.system.getNumParticles() == 65
    elements = [atom.element.symbol for atom in loaded.topology.atoms()]
    assert elements[:60] == ["C"] * 60
    assert elements[60:] == ["C", "H", "H", "H", "H"]
    assert loaded.topology.getNumBonds() == 88
    assert loaded.positions.shape == (65, 3) and loaded.positions.dtype == np.float64
    assert np.isfinite(loaded.positions).all()
    assert loaded.box is None  # vacuum
    assert loaded.velocities is not None and loaded.velocities.shape == (65, 3)
    assert loaded.state is not None
    assert isinstance(loaded.integrator, openmm.Integrator)
    assert loaded.source == nanotube_xml


def test_round_trip(nanotube_xml: Path, tmp_path: Path) -> None:
    loaded = read_nanover_xml(nanotube_xml)
    path = tmp_path / "copy.xml"
    write_nanover_xml(
        path, topology=loaded.topology, system=loaded.system, integrator=loaded.integrator,
        positions=loaded.positions,
    )
    again = read_nanover_xml(path)
    assert again.name == "copy"
    assert again.topology.getNumAtoms() == 65
    assert again.topology.getNumBonds() == 88
    np.testing.assert_allclose(again.positions, loaded.positions, atol=1e-4)
    assert again.state is None and again.velocities is None
    assert again.system.getNumForces() == loaded.system.getNumForces()
    assert again.integrator.getStepSize() == loaded.integrator.getStepSize()


def test_round_trip_keeps_state(nanotube_xml: Path, tmp_path: Path) -> None:
    loaded = read_nanover_xml(nanotube_xml)
    path = tmp_path / "with_state.xml"
    write_nanover_xml(
        path, topology=loaded.topology, system=loaded.system, integrator=loaded.integrator,
        positions=loaded.positions, state=loaded.state,
    )
    again = read_nanover_xml(path)
    np.testing.assert_allclose(again.velocities, loaded.velocities)


def test_clear_errors(tmp_path: Path) -> None:
    wrong_root = tmp_path / "wrong.xml"
    wrong_root.write_text("<Something/>")
    with pytest.raises(NanoverXmlError, match="OpenMMSimulation"):
        read_nanover_xml(wrong_root)
    broken = tmp_path / "broken.xml"
    broken.write_text("<OpenMMSimulation><pdbx>")
    with pytest.raises(NanoverXmlError, match="well-formed"):
        read_nanover_xml(broken)
    no_system = tmp_path / "no_system.xml"
    no_system.write_text("<OpenMMSimulation><pdbx>data_x\n</pdbx></OpenMMSimulation>")
    with pytest.raises(NanoverXmlError):
        read_nanover_xml(no_system)


def test_write_checks_positions(nanotube_xml: Path, tmp_path: Path) -> None:
    loaded = read_nanover_xml(nanotube_xml)
    with pytest.raises(ValueError, match="shape"):
        write_nanover_xml(
            tmp_path / "x.xml", topology=loaded.topology, system=loaded.system,
            integrator=loaded.integrator, positions=loaded.positions[:10],
        )

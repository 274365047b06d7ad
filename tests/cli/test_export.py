"""``costeer export --topology``: a PDB whose atoms line up with the served frames, for IMD clients."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from openmm import app

from costeer.cli.main import main
from costeer.engine.nanover_xml import read_nanover_xml

SOLVATED = Path(app.__file__).parent / "data" / "test.pdb"
"""OpenMM's villin in a periodic box of water."""


def test_topology_of_a_nanover_xml_lines_up_atom_by_atom(nanotube_xml, tmp_path, capsys):
    import MDAnalysis

    out = tmp_path / "sub" / "nanotube.pdb"
    assert main(["export", "--omm", str(nanotube_xml), "--topology", str(out)]) == 0
    assert f"wrote {out} (65 particles)" in capsys.readouterr().out
    loaded = read_nanover_xml(nanotube_xml)
    universe = MDAnalysis.Universe(str(out))
    assert universe.atoms.n_atoms == loaded.system.getNumParticles()
    assert list(universe.atoms.names) == [atom.name for atom in loaded.topology.atoms()]
    np.testing.assert_allclose(universe.atoms.positions, loaded.positions * 10.0, atol=1e-3)


def test_a_system_without_a_box_gets_no_cryst1_and_one_with_a_box_keeps_it(nanotube_xml, tmp_path, recwarn):
    import MDAnalysis

    tube = tmp_path / "nanotube.pdb"
    assert main(["export", "--omm", str(nanotube_xml), "--topology", str(tube)]) == 0
    assert "CRYST1" not in tube.read_text()  # the XML's topology carries a 1 A placeholder box
    MDAnalysis.Universe(str(tube))
    assert not [w for w in recwarn if "CRYST1" in str(w.message)]
    assert read_nanover_xml(nanotube_xml).topology.getPeriodicBoxVectors() is not None  # the loaded system kept it
    water = tmp_path / "water.pdb"
    assert main(["export", "--pdb", str(SOLVATED), "--topology", str(water)]) == 0
    assert "CRYST1" in water.read_text()


def test_topology_of_a_task_is_written_beside_its_xml(tmp_path):
    xml, pdb = tmp_path / "task.xml", tmp_path / "task.pdb"
    assert main(["export", "--task", "nanotube", "-o", str(xml), "--topology", str(pdb)]) == 0
    served = read_nanover_xml(xml)
    lines = [line for line in pdb.read_text().splitlines() if line.startswith(("ATOM", "HETATM"))]
    assert len(lines) == served.system.getNumParticles()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "say what to write"),
        (["-o", "x.xml"], "--omm is already NanoVer XML"),
    ],
)
def test_export_says_what_is_missing(nanotube_xml, tmp_path, capsys, extra, message):
    assert main(["export", "--omm", str(nanotube_xml), *extra]) == 2
    assert message in capsys.readouterr().err

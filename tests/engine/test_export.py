"""``export_nanover_xml``: NanoVer's own loader runs what we export."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from openmm import app

from costeer.engine.export import export_nanover_xml
from costeer.engine.loading import load_pdb_system
from costeer.engine.nanover_xml import read_nanover_xml

TEST_PDB = Path(app.__file__).parent / "data" / "test.pdb"

NANOVER_LOAD = """
import json, sys
from nanover.openmm import OpenMMSimulation
simulation = OpenMMSimulation.from_xml_path(sys.argv[1])
simulation.platform_name = "Reference"
simulation.load()
omm = simulation.simulation
omm.step(10)
state = omm.context.getState(getEnergy=True, getPositions=True)
print(json.dumps({
    "atoms": omm.topology.getNumAtoms(),
    "particles": omm.system.getNumParticles(),
    "bonds": omm.topology.getNumBonds(),
    "potential": state.getPotentialEnergy()._value,
}))
"""


def test_export_round_trips_through_our_reader(tmp_path: Path) -> None:
    loaded = load_pdb_system(TEST_PDB, strip_water=True)
    path = tmp_path / "villin.xml"
    export_nanover_xml(loaded, path)
    again = read_nanover_xml(path)
    assert again.system.getNumParticles() == 584
    assert again.topology.getNumBonds() == loaded.topology.getNumBonds()


@pytest.mark.slow
def test_nanover_loads_the_exported_villin(tmp_path: Path, nanover_python: Path) -> None:
    loaded = load_pdb_system(TEST_PDB, strip_water=True)
    path = tmp_path / "villin.xml"
    export_nanover_xml(loaded, path)
    completed = subprocess.run(
        [str(nanover_python), "-c", NANOVER_LOAD, str(path)],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["atoms"] == result["particles"] == 584
    assert result["bonds"] == loaded.topology.getNumBonds()
    assert result["potential"] < 0  # a sane folded protein, not a blown-up one

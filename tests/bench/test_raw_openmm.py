"""Raw OpenMM for the bench: the physical system only, as costeer steps it with nobody pulling."""

from __future__ import annotations

from pathlib import Path

from raw_openmm import RawOpenMM

from costeer.engine.imd_force import IMD_FORCE_GROUP
from costeer.engine.nanover_xml import read_nanover_xml


def test_raw_openmm_steps_the_nanotube_without_nanovers_saved_user_forces(nanotube_xml: Path):
    saved = read_nanover_xml(nanotube_xml).system
    assert sum(force.getForceGroup() == IMD_FORCE_GROUP for force in saved.getForces()) == 2  # NanoVer's, zero
    raw = RawOpenMM(nanotube_xml, platform="Reference")
    groups = [force.getForceGroup() for force in raw.context.getSystem().getForces()]
    assert IMD_FORCE_GROUP not in groups and len(groups) == saved.getNumForces() - 2
    assert raw.steps_per_second(seconds=0.05) > 0

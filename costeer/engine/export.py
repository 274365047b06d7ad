"""Write any loaded system as NanoVer's OpenMM XML, so NanoVer's own server can run it, or
its topology as PDB, so an IMD client (MDAnalysis, VMD) knows the atoms it is sent.

    export_nanover_xml(load_pdb_system("villin.pdb", strip_water=True), "villin.xml")
    export_topology_pdb(read_nanover_xml("nanotube.xml"), "nanotube.pdb")
"""

from __future__ import annotations

import os

from openmm import app, unit

from .nanover_xml import LoadedSystem, write_nanover_xml

__all__ = ["export_nanover_xml", "export_topology_pdb"]


def export_nanover_xml(loaded: LoadedSystem, path: str | os.PathLike[str]) -> None:
    """Write ``loaded`` (topology, system, integrator, positions, and state if any) to ``path``."""
    write_nanover_xml(
        path,
        topology=loaded.topology,
        system=loaded.system,
        integrator=loaded.integrator,
        positions=loaded.positions,
        state=loaded.state,
    )


def export_topology_pdb(loaded: LoadedSystem, path: str | os.PathLike[str]) -> None:
    """Write ``loaded``'s topology and starting positions as PDB, one atom per particle, in particle order.

    The served frames (and IMD's coordinates) list the particles in this order, so
    ``MDAnalysis.Universe(path, "imd://host:port")`` lines up atom by atom. A system without
    periodic boundaries gets no ``CRYST1`` record, whatever box its topology carries (NanoVer's
    nanotube carries a 1 Å placeholder, which MDAnalysis warns about and VMD would draw).
    """
    atoms = loaded.topology.getNumAtoms()
    particles = loaded.system.getNumParticles()
    if atoms != particles:
        raise ValueError(
            f"the topology has {atoms} atoms but the system {particles} particles, so no PDB lines up with the "
            "served frames; serve a system whose topology lists every particle"
        )
    topology, box = loaded.topology, loaded.topology.getPeriodicBoxVectors()
    if not loaded.system.usesPeriodicBoundaryConditions():
        topology.setPeriodicBoxVectors(None)
    try:
        with open(path, "w") as handle:
            app.PDBFile.writeFile(topology, loaded.positions * unit.nanometer, handle, keepIds=False)
    finally:
        topology.setPeriodicBoxVectors(box)

"""Write any loaded system as NanoVer's OpenMM XML, so NanoVer's own server can run it.

    export_nanover_xml(load_pdb_system("villin.pdb", strip_water=True), "villin.xml")
"""

from __future__ import annotations

import os

from .nanover_xml import LoadedSystem, write_nanover_xml

__all__ = ["export_nanover_xml"]


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

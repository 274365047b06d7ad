"""Build a ``LoadedSystem`` from a PDB/mmCIF file and OpenMM force fields, or from a task.

    loaded = load_pdb_system("villin.pdb", strip_water=True)       # amber14-all, vacuum
    loaded = from_built(costeer.tasks.build_task_system("nanotube"))            # a built-in task

Defaults (the issue's documented set-up): ``amber14-all.xml``; a
``LangevinMiddleIntegrator`` at 300 K, friction 1/ps, 2 fs; ``HBonds`` constraints;
``NoCutoff`` without a periodic box, ``PME`` with a 1 nm cutoff with one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import openmm
from openmm import app, unit

from .nanover_xml import LoadedSystem

if TYPE_CHECKING:
    from costeer.tasks import BuiltSystem

__all__ = ["load_pdb_system", "from_built", "StructureFileError", "DEFAULT_WATER_MODEL", "CONSTRAINTS"]

DEFAULT_WATER_MODEL = "amber14/tip3pfb.xml"
"""Water and ion force field added when the structure needs one (see ``load_pdb_system``)."""

CONSTRAINTS = {"none": None, "HBonds": app.HBonds, "AllBonds": app.AllBonds, "HAngles": app.HAngles}
"""Accepted values of ``constraints``."""

_MMCIF_SUFFIXES = {".cif", ".mmcif", ".pdbx"}
_WATER_NAMES = {"HOH", "WAT", "H2O", "SOL", "TIP3", "TIP3P", "SPC"}


class StructureFileError(ValueError):
    """A structure or force-field file OpenMM cannot use; the message names it and says what to give."""


def load_pdb_system(
    path: str | os.PathLike[str],
    *,
    forcefields: Sequence[str] = ("amber14-all.xml",),
    strip_water: bool = False,
    temperature: float = 300.0,
    friction: float = 1.0,
    timestep_fs: float = 2.0,
    constraints: str = "HBonds",
    water_model: str | None = DEFAULT_WATER_MODEL,
    periodic: bool | None = None,
) -> LoadedSystem:
    """Parametrise a PDB or mmCIF file (chosen by extension) with OpenMM force fields.

    - ``forcefields``: OpenMM force-field files (bundled names or paths).
    - ``strip_water``: delete water molecules (and run in vacuum, see ``periodic``).
    - ``water_model``: added to ``forcefields`` when the structure (after stripping) holds
      water or single-atom ions, unless a ``forcefields`` entry already names a water file
      (``tip``, ``spc``, ``opc``, ``water`` in its name); ``None`` never adds one.
    - ``temperature`` (K), ``friction`` (1/ps), ``timestep_fs`` (fs): the
      ``LangevinMiddleIntegrator``.
    - ``constraints``: one of ``none``, ``HBonds``, ``AllBonds``, ``HAngles``.
    - ``periodic``: ``None`` (default) = periodic when the file has a box and water is kept;
      periodic systems use PME with a 1 nm cutoff, others NoCutoff.

    The file must already hold every atom the force field expects (hydrogens included).
    """
    path = Path(path)
    if constraints not in CONSTRAINTS:
        raise ValueError(f"constraints must be one of {', '.join(CONSTRAINTS)}, got {constraints!r}")
    if not path.is_file():
        raise FileNotFoundError(f"no structure file at {path}")
    structure = _read_structure(path)
    modeller = app.Modeller(structure.topology, structure.positions)
    if strip_water:
        modeller.deleteWater()
    topology = modeller.topology
    file_box = structure.topology.getPeriodicBoxVectors()
    if periodic is None:
        periodic = file_box is not None and not strip_water
    if periodic and file_box is None:
        raise ValueError(f"{path} has no periodic box (CRYST1 / _cell): use periodic=False")
    topology.setPeriodicBoxVectors(file_box if periodic else None)

    files = list(forcefields)
    if water_model and _needs_solvent_file(topology) and not any(_is_water_file(f) for f in files):
        files.append(water_model)
    forcefield = _read_forcefield(files)
    try:
        system = forcefield.createSystem(
            topology,
            nonbondedMethod=app.PME if periodic else app.NoCutoff,
            nonbondedCutoff=1.0 * unit.nanometer,
            constraints=CONSTRAINTS[constraints],
        )
    except ValueError as error:
        raise ValueError(
            f"cannot parametrise {path} with {', '.join(files)}: {error} "
            "(add missing hydrogens, or pass the force-field files that cover every residue)"
        ) from error
    integrator = openmm.LangevinMiddleIntegrator(
        temperature * unit.kelvin, friction / unit.picosecond, timestep_fs * unit.femtosecond
    )
    positions = np.asarray(modeller.getPositions().value_in_unit(unit.nanometer), dtype=np.float64)
    box = None
    if periodic:
        box = np.array([v.value_in_unit(unit.nanometer) for v in file_box], dtype=np.float64)
    return LoadedSystem(
        name=path.stem, topology=topology, system=system, integrator=integrator,
        positions=positions, box=box, source=path,
    )


def from_built(built: "BuiltSystem") -> LoadedSystem:
    """Wrap a task's ``BuiltSystem`` (name, topology, system, integrator, positions in nm)."""
    system = built.system
    box = None
    if system.usesPeriodicBoundaryConditions():
        box = np.array(
            [v.value_in_unit(unit.nanometer) for v in system.getDefaultPeriodicBoxVectors()], dtype=np.float64
        )
    return LoadedSystem(
        name=built.name,
        topology=built.topology,
        system=system,
        integrator=built.integrator,
        positions=np.asarray(built.positions, dtype=np.float64),
        box=box,
    )


def _read_structure(path: Path) -> app.PDBFile | app.PDBxFile:
    """The structure in ``path`` (mmCIF by extension, else PDB), with at least one atom."""
    mmcif = path.suffix.lower() in _MMCIF_SUFFIXES
    kind = "PDBx/mmCIF" if mmcif else "PDB"
    try:
        structure = (app.PDBxFile if mmcif else app.PDBFile)(str(path))
    except Exception as error:  # OpenMM's readers fail with assorted types (IndexError, UnicodeDecodeError, ...)
        reason = "no ATOM/HETATM records" if isinstance(error, IndexError) else f"{type(error).__name__}: {error}"
        raise StructureFileError(
            f"{path} is not a {kind} file OpenMM can read ({reason}): give a PDB file, or PDBx/mmCIF "
            f"named {', '.join(sorted(_MMCIF_SUFFIXES))}"
        ) from None
    if structure.topology.getNumAtoms() == 0:
        raise StructureFileError(f"{path} holds no atoms: give a {kind} file with the system's atoms")
    return structure


def _read_forcefield(files: Sequence[str]) -> app.ForceField:
    try:
        return app.ForceField(*files)
    except Exception as error:  # a missing name is a ValueError, a malformed file an XML ParseError
        raise StructureFileError(
            f"cannot load the force field {', '.join(files)} ({type(error).__name__}: {error}): give OpenMM "
            "force-field XML files, by path or by a name bundled with OpenMM such as amber14-all.xml"
        ) from None


def _needs_solvent_file(topology: app.Topology) -> bool:
    """Water or monatomic ions: parametrised by the water model's file, not the protein's."""
    return any(
        residue.name.upper() in _WATER_NAMES or len(residue) == 1 for residue in topology.residues()
    )


def _is_water_file(name: str) -> bool:
    lowered = Path(name).name.lower()
    return any(word in lowered for word in ("tip", "spc", "opc", "water"))

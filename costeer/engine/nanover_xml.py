"""NanoVer's OpenMM simulation XML: read it into a ``LoadedSystem``, write one back.

The file is ``<OpenMMSimulation>`` holding a PDBx/mmCIF topology (``<pdbx>``, or ``<pdb>``
in old files), a serialized OpenMM ``<System>`` and ``<Integrator>``, and optionally a
serialized ``<State>`` (positions, velocities, time) that NanoVer starts from::

    loaded = read_nanover_xml("nanotube.xml")
    write_nanover_xml("copy.xml", topology=loaded.topology, system=loaded.system,
                      integrator=loaded.integrator, positions=loaded.positions)
"""

from __future__ import annotations

import io
import os
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import openmm
from openmm import app, unit

__all__ = ["LoadedSystem", "NanoverXmlError", "read_nanover_xml", "write_nanover_xml"]

ROOT_TAG = "OpenMMSimulation"


class NanoverXmlError(ValueError):
    """A file that is not a valid NanoVer OpenMM simulation XML; the message says what is wrong."""


@dataclass
class LoadedSystem:
    """Everything needed to build an OpenMM simulation: topology, system, integrator, start.

    ``loaded = read_nanover_xml(path)`` or ``load_pdb_system(path)``; then
    ``OpenMMSimulation(loaded)``.
    """

    name: str
    topology: app.Topology
    system: openmm.System
    integrator: openmm.Integrator
    positions: np.ndarray
    """Starting positions in nm, shape (n, 3), float64."""
    box: np.ndarray | None = None
    """Periodic box vectors in nm, shape (3, 3), when the system is periodic."""
    velocities: np.ndarray | None = None
    """Starting velocities in nm/ps, shape (n, 3), when the file holds them."""
    state: openmm.State | None = None
    """The serialized OpenMM state in the file, if any (positions, velocities, time, box)."""
    source: Path | None = None
    """The file this was read from, if any."""


def read_nanover_xml(path: str | os.PathLike[str]) -> LoadedSystem:
    """Read a NanoVer ``<OpenMMSimulation>`` XML file; the name is the file's stem."""
    path = Path(path)
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        raise NanoverXmlError(f"{path} is not well-formed XML: {error}") from error
    if root.tag != ROOT_TAG:
        raise NanoverXmlError(f"{path}: the root tag must be <{ROOT_TAG}>, found <{root.tag}>")

    topology, pdb_positions = _read_structure(root, path)
    system = _deserialize_child(root, "System", path)
    integrator = _deserialize_child(root, "Integrator", path)
    state = _deserialize_child(root, "State", path, required=False)

    positions = pdb_positions
    velocities = None
    if state is not None:
        positions = _state_array(state.getPositions, unit.nanometer, pdb_positions)
        velocities = _state_array(state.getVelocities, unit.nanometer / unit.picosecond, None)
    if len(positions) != system.getNumParticles():
        raise NanoverXmlError(
            f"{path}: the structure has {len(positions)} atoms but the System has "
            f"{system.getNumParticles()} particles"
        )
    box = None
    if system.usesPeriodicBoundaryConditions():
        vectors = state.getPeriodicBoxVectors() if state is not None else system.getDefaultPeriodicBoxVectors()
        box = np.array([v.value_in_unit(unit.nanometer) for v in vectors], dtype=np.float64)
    return LoadedSystem(
        name=path.stem,
        topology=topology,
        system=system,
        integrator=integrator,
        positions=np.asarray(positions, dtype=np.float64),
        box=box,
        velocities=None if velocities is None else np.asarray(velocities, dtype=np.float64),
        state=state,
        source=path,
    )


def write_nanover_xml(
    path: str | os.PathLike[str],
    *,
    topology: app.Topology,
    system: openmm.System,
    integrator: openmm.Integrator,
    positions: np.ndarray,
    state: openmm.State | None = None,
) -> None:
    """Write a NanoVer ``<OpenMMSimulation>`` XML file that NanoVer's server can run.

    ``positions`` are in nm, shape (n, 3). ``state``, when given, is written as ``<State>``
    (NanoVer then starts from its positions and velocities).
    """
    positions = np.asarray(positions, dtype=np.float64)
    if positions.shape != (system.getNumParticles(), 3):
        raise ValueError(
            f"positions must have shape ({system.getNumParticles()}, 3) to match the System, "
            f"got {positions.shape}"
        )
    structure = io.StringIO()
    app.PDBxFile.writeFile(topology, positions * unit.nanometer, structure)
    parts = [
        f"<{ROOT_TAG}>\n<pdbx>",
        escape(structure.getvalue()),
        "</pdbx>\n",
        _serialize(system),
        _serialize(integrator),
    ]
    if state is not None:
        parts.append(_serialize(state))
    parts.append(f"</{ROOT_TAG}>\n")
    Path(path).write_text("".join(parts), encoding="utf-8")


def _read_structure(root: ElementTree.Element, path: Path) -> tuple[app.Topology, np.ndarray]:
    nodes = [(tag, node) for tag in ("pdbx", "pdb") for node in root.iter(tag)]
    if len(nodes) != 1:
        raise NanoverXmlError(f"{path}: expected exactly one <pdbx> (or <pdb>) element, found {len(nodes)}")
    tag, node = nodes[0]
    text = node.text or ""
    if not text.strip():
        raise NanoverXmlError(f"{path}: the <{tag}> element is empty")
    reader = app.PDBxFile if tag == "pdbx" else app.PDBFile
    try:
        structure = reader(io.StringIO(text))
    except Exception as error:  # OpenMM's readers fail with assorted types on bad input
        raise NanoverXmlError(f"{path}: cannot read the <{tag}> structure: {error!r}") from error
    positions = structure.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    return structure.topology, np.asarray(positions, dtype=np.float64)


def _deserialize_child(root: ElementTree.Element, tag: str, path: Path, *, required: bool = True):
    nodes = root.findall(tag)
    if not nodes:
        if required:
            raise NanoverXmlError(f"{path}: no <{tag}> element")
        return None
    if len(nodes) > 1:
        raise NanoverXmlError(f"{path}: more than one <{tag}> element")
    try:
        return openmm.XmlSerializer.deserialize(ElementTree.tostring(nodes[0], encoding="unicode"))
    except Exception as error:  # OpenMM raises its own exception type with a useful text
        raise NanoverXmlError(f"{path}: cannot read <{tag}>: {error}") from error


def _state_array(getter, array_unit: unit.Unit, default: np.ndarray | None) -> np.ndarray | None:
    """One array from a deserialized State, or ``default`` when the file left it out."""
    try:
        return getter(asNumpy=True).value_in_unit(array_unit)
    except openmm.OpenMMException:
        return default


def _serialize(thing: object) -> str:
    text = openmm.XmlSerializer.serialize(thing)
    if text.startswith("<?xml"):
        text = text.split("?>", 1)[1].lstrip()
    return text if text.endswith("\n") else text + "\n"

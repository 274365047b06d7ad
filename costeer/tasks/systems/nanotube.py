"""The built-in ``nanotube`` task: methane beside a short (3,3) armchair carbon nanotube, in vacuum.

Built in code, with the force field of NanoVer's ``nanotube.xml`` (the threading task of the
2018 iMD-VR studies), so that sessions recorded on that file and rollouts on this system match
atom for atom. Facts taken from the XML:

- atoms: 60 tube carbons (indices 0-59, chain A), then methane C (60) and its 4 H (61-64, chain B);
- tube: (3,3) armchair, 10 layers of 6 atoms (1.03 nm between end layers, radius 0.195 nm);
  atom ``i`` is in ring ``i // 12`` (a pair of layers), dimer slot ``(i // 4) % 3``, upper layer
  of the pair if ``(i // 2) % 2``, second atom of its dimer if ``i % 2``;
- MM3-style force field: anharmonic ``CustomBondForce`` (cubic + quartic, ``cs = -25.5`` /nm),
  ``CustomAngleForce`` with MM3's sextic expansion, Lennard-Jones ``CustomNonbondedForce``
  (non-periodic cutoff 0.3 nm, bonded 1-2 pairs excluded, 1-3 pairs not), and a soft
  ``1/r^12`` wall at -1 and 5 nm on every axis (``CustomExternalForce``);
- masses C 12.011, H 1.008; default box 4 nm (the System is not periodic);
- ``LangevinIntegrator``: 300 K, friction 4/ps, step 0.5 fs.

Not reproduced: the XML's two empty ``CustomExternalForce``s in force group 31, which are
NanoVer's own interactive-force objects saved along with the system, and its saved velocities.
Positions are an ideal tube (bond chords equal to the C-C ``r_eq``) and an ideal methane, placed
by a rigid fit onto the XML's coordinates (tube within 0.013 nm RMSD of its thermal snapshot).
"""

from __future__ import annotations

import math

import numpy as np
import openmm
import openmm.app
import openmm.unit as unit

from costeer.tasks.system import BuiltSystem

__all__ = ["build_nanotube_system"]

ARMCHAIR_N = 3
"""The tube is a (3,3) armchair: 3 dimers, 6 atoms, around each layer."""
LAYERS = 10
"""Layers of ``2 * ARMCHAIR_N`` atoms along the tube's axis."""

CC_BOND_KJ_NM2, CC_BOND_NM = 451725.0, 0.1332
CH_BOND_KJ_NM2, CH_BOND_NM = 285490.2, 0.1112
CCC_ANGLE_KJ_RAD2, CCC_ANGLE_DEG = 457.748, 122.0
HCH_ANGLE_KJ_RAD2, HCH_ANGLE_DEG = 331.265, 107.6
BOND_CUBIC_PER_NM = -25.5
"""MM3's cubic stretch constant ``cs`` (global parameter of the bond force)."""
LJ_CUTOFF_NM = 0.3
WALL_MAX_NM, WALL_C6, WALL_C12 = 5.0, 0.0, 1.0
BOX_NM = 4.0
TEMPERATURE_K, FRICTION_PER_PS, STEP_PS = 300.0, 4.0, 0.0005

BOND_ENERGY = "k*0.5*(r-r_eq)*(r-r_eq)*(1.0+cs*(r-r_eq) + (7.0/12.0)*cs*cs*(r-r_eq)*(r-r_eq))"
ANGLE_ENERGY = (
    "k *0.5 *dtheta*dtheta*expansion;"
    "expansion= 1.0 -0.014*dtor*dtheta+ 5.6e-5*dtor^2*dtheta^2-1.0e-6*dtor^3*dtheta^3+2.2e-8*dtor^4*dtheta^4;"
    "dtor=57.295779;dtheta = theta- theta_eq"
)
LJ_ENERGY = "4.0*epsilon*(sigma^12/r^12 - sigma^6/r^6);sigma=((sig1+sig2)/2.0);epsilon=sqrt(eps1*eps2)"
WALL_ENERGY = (
    "fx + fy + fz; fx=(c12 / rx6^2) - (c6 / rx6); fy=(c12 / ry6^2) - (c6 / ry6); "
    "fz=(c12 / rz6^2) - (c6 / rz6); rx6=rx^6; ry6=ry^6; rz6=rz^6; "
    "rx=min(x+1, mx-x); ry=min(y+1, my-y); rz=min(z+1, mz-z); "
)
"""The energy expressions, character for character as in nanotube.xml."""

# Atom type -> (element symbol, mass in dalton, LJ sigma in nm, LJ epsilon in kJ/mol).
_ATOM_TYPES: dict[str, tuple[str, float, float, float]] = {
    "tube_carbon": ("C", 12.011, 0.196, 0.234304),
    "methane_carbon": ("C", 12.011, 0.204, 0.112968),
    "hydrogen": ("H", 1.008, 0.162, 0.08368),
}
_BOND_TYPES: dict[frozenset[str], tuple[float, float]] = {
    frozenset({"tube_carbon"}): (CC_BOND_KJ_NM2, CC_BOND_NM),
    frozenset({"methane_carbon", "hydrogen"}): (CH_BOND_KJ_NM2, CH_BOND_NM),
}
# (end type, centre type, end type) -> (k in kJ/mol/rad^2, theta_eq in rad).
_ANGLE_TYPES: dict[tuple[str, str, str], tuple[float, float]] = {
    ("tube_carbon", "tube_carbon", "tube_carbon"): (CCC_ANGLE_KJ_RAD2, math.radians(CCC_ANGLE_DEG)),
    ("hydrogen", "methane_carbon", "hydrogen"): (HCH_ANGLE_KJ_RAD2, math.radians(HCH_ANGLE_DEG)),
}
_BOND_SEARCH_NM = 0.16
"""Atoms of one residue closer than this are bonded (C-C 0.133, C-H 0.111; 1-3 pairs >= 0.18)."""

# Where nanotube.xml has its molecules (nm, fitted to its coordinates).
_TUBE_CENTRE = (2.0585, 2.0091, 2.2362)
_TUBE_AXIS = (0.7981, 0.1562, 0.5820)
"""From the layer of atoms 0-5 towards the layer of atoms 54-59."""
_TUBE_ZERO_AZIMUTH = (0.5836, -0.4410, -0.6819)
"""From the axis towards atom 0."""
_METHANE_CARBON = (2.3268, 2.7628, 2.2404)
_METHANE_H1 = (0.3324, 0.2201, 0.9171)
"""Direction from methane's carbon to its first hydrogen."""
_METHANE_H2 = (-0.2561, -0.9659, -0.0388)
"""Direction from methane's carbon to its second hydrogen."""


def build_nanotube_system() -> BuiltSystem:
    """Build the nanotube task afresh: 65 atoms, NanoVer's nanotube force field, Langevin at 300 K."""
    tube = _place(_armchair_tube(), first=_TUBE_AXIS, second=_TUBE_ZERO_AZIMUTH, origin=_TUBE_CENTRE)
    methane = _place(_methane(), first=_METHANE_H1, second=_METHANE_H2, origin=_METHANE_CARBON)
    positions = np.concatenate([tube, methane])
    atom_types = ["tube_carbon"] * len(tube) + ["methane_carbon"] + ["hydrogen"] * (len(methane) - 1)
    residue_of = np.array([0] * len(tube) + [1] * len(methane))
    bonds = _bonds_from_geometry(positions, residue_of)
    angles = _angles_from_bonds(bonds)

    topology = _topology(atom_types, bonds, n_tube=len(tube))
    system = openmm.System()
    for atom_type in atom_types:
        system.addParticle(_ATOM_TYPES[atom_type][1])
    system.setDefaultPeriodicBoxVectors(*(openmm.Vec3(*row) for row in np.eye(3) * BOX_NM))
    system.addForce(_bond_force(bonds, atom_types))
    system.addForce(_angle_force(angles, atom_types))
    system.addForce(_lennard_jones_force(bonds, atom_types))
    system.addForce(_wall_force(len(atom_types)))
    integrator = openmm.LangevinIntegrator(
        TEMPERATURE_K * unit.kelvin, FRICTION_PER_PS / unit.picosecond, STEP_PS * unit.picosecond
    )
    return BuiltSystem("nanotube", topology, system, integrator, positions)


def _armchair_tube() -> np.ndarray:
    """Ideal (n,n) tube in its own frame: axis along x, centred on 0, atom 0 towards +y."""
    index = np.arange(4 * ARMCHAIR_N * LAYERS // 2)
    ring, slot = index // (4 * ARMCHAIR_N), (index // 4) % ARMCHAIR_N
    upper, second = (index // 2) % 2, index % 2
    # Unrolled graphene: a dimer spans one bond and the gap to the next dimer two, so a dimer
    # takes a third of each slot and the other layer's dimer sits mid-gap. Rolled up, both
    # the dimer chord and the bond between layers are CC_BOND_NM long.
    slot_arc = 2 * math.pi / ARMCHAIR_N
    dimer_arc = slot_arc / 3
    radius = CC_BOND_NM / (2 * math.sin(dimer_arc / 2))
    interlayer_chord = 2 * radius * math.sin((slot_arc / 2 - dimer_arc) / 2)
    layer_spacing = math.sqrt(CC_BOND_NM**2 - interlayer_chord**2)
    azimuth = slot * slot_arc + upper * slot_arc / 2 + second * dimer_arc
    axial = (2 * ring + upper - (LAYERS - 1) / 2) * layer_spacing
    return np.stack([axial, radius * np.cos(azimuth), radius * np.sin(azimuth)], axis=1)


def _methane() -> np.ndarray:
    """Ideal tetrahedral methane in its own frame: C at 0, H1 along +x, H2 in the xy plane."""
    turns = np.radians([0.0, -120.0, 120.0])
    ring = math.sqrt(8.0 / 9.0)
    others = np.stack([np.full(3, -1.0 / 3.0), ring * np.cos(turns), ring * np.sin(turns)], axis=1)
    directions = np.concatenate([[[1.0, 0.0, 0.0]], others])
    return np.concatenate([np.zeros((1, 3)), CH_BOND_NM * directions])


def _place(
    local: np.ndarray,
    *,
    first: tuple[float, float, float],
    second: tuple[float, float, float],
    origin: tuple[float, float, float],
) -> np.ndarray:
    """Rigidly move ``local`` so its x axis points along ``first``, its xy plane holds ``second``."""
    x_axis = np.asarray(first) / np.linalg.norm(first)
    y_axis = np.asarray(second) - (np.asarray(second) @ x_axis) * x_axis
    y_axis /= np.linalg.norm(y_axis)
    rotation = np.stack([x_axis, y_axis, np.cross(x_axis, y_axis)], axis=1)
    return local @ rotation.T + np.asarray(origin)


def _bonds_from_geometry(positions: np.ndarray, residue_of: np.ndarray) -> list[tuple[int, int]]:
    """Pairs ``(i, j)``, ``i < j``, of one residue closer than ``_BOND_SEARCH_NM``, sorted."""
    distances = np.linalg.norm(positions[:, None, :] - positions[None, :, :], axis=-1)
    close = (distances < _BOND_SEARCH_NM) & (residue_of[:, None] == residue_of[None, :])
    first, second = np.nonzero(np.triu(close, k=1))
    return list(zip(first.tolist(), second.tolist()))


def _angles_from_bonds(bonds: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """Every ``(a, centre, c)`` with both ends bonded to the centre, ``a < c``, sorted."""
    neighbours: dict[int, list[int]] = {}
    for i, j in bonds:
        neighbours.setdefault(i, []).append(j)
        neighbours.setdefault(j, []).append(i)
    return sorted(
        (a, centre, c) for centre, around in neighbours.items() for a in around for c in around if a < c
    )


def _topology(atom_types: list[str], bonds: list[tuple[int, int]], *, n_tube: int) -> openmm.app.Topology:
    """Chain A: the tube (residue CNT, atoms C1-C60); chain B: methane (residue CNT, C61, H1-H4).

    Names as in nanotube.xml, so frames from this task and from the XML carry the same names.
    """
    topology = openmm.app.Topology()
    tube = topology.addResidue("CNT", topology.addChain("A"), id="1")
    methane = topology.addResidue("CNT", topology.addChain("B"), id="1")
    atoms = []
    for index, atom_type in enumerate(atom_types):
        symbol = _ATOM_TYPES[atom_type][0]
        if index < n_tube:
            residue, name = tube, f"C{index + 1}"
        else:
            residue, name = methane, ("C61" if symbol == "C" else f"H{index - n_tube}")
        atoms.append(topology.addAtom(name, openmm.app.Element.getBySymbol(symbol), residue))
    for i, j in bonds:
        topology.addBond(atoms[i], atoms[j])
    return topology


def _bond_force(bonds: list[tuple[int, int]], atom_types: list[str]) -> openmm.CustomBondForce:
    force = openmm.CustomBondForce(BOND_ENERGY)
    force.addPerBondParameter("k")
    force.addPerBondParameter("r_eq")
    force.addGlobalParameter("cs", BOND_CUBIC_PER_NM)
    for i, j in bonds:
        force.addBond(i, j, _BOND_TYPES[frozenset({atom_types[i], atom_types[j]})])
    return force


def _angle_force(angles: list[tuple[int, int, int]], atom_types: list[str]) -> openmm.CustomAngleForce:
    force = openmm.CustomAngleForce(ANGLE_ENERGY)
    force.addPerAngleParameter("k")
    force.addPerAngleParameter("theta_eq")
    for a, centre, c in angles:
        force.addAngle(a, centre, c, _ANGLE_TYPES[(atom_types[a], atom_types[centre], atom_types[c])])
    return force


def _lennard_jones_force(bonds: list[tuple[int, int]], atom_types: list[str]) -> openmm.CustomNonbondedForce:
    force = openmm.CustomNonbondedForce(LJ_ENERGY)
    force.addPerParticleParameter("sig")
    force.addPerParticleParameter("eps")
    force.setNonbondedMethod(openmm.CustomNonbondedForce.CutoffNonPeriodic)
    force.setCutoffDistance(LJ_CUTOFF_NM)
    for atom_type in atom_types:
        force.addParticle(_ATOM_TYPES[atom_type][2:])
    for i, j in bonds:
        force.addExclusion(i, j)
    return force


def _wall_force(n_atoms: int) -> openmm.CustomExternalForce:
    """Soft walls 1 nm outside the 4 nm box (at -1 and ``WALL_MAX_NM`` on each axis)."""
    force = openmm.CustomExternalForce(WALL_ENERGY)
    for name in ("mx", "my", "mz"):
        force.addGlobalParameter(name, WALL_MAX_NM)
    force.addGlobalParameter("c6", WALL_C6)
    force.addGlobalParameter("c12", WALL_C12)
    for index in range(n_atoms):
        force.addParticle(index, [])
    return force

"""The built-in ``helix`` task's system: a capped polyalanine alpha-helix, tethered by one end, in vacuum.

Built in code, no data files: Ace-(Ala)10-NMe (112 atoms with hydrogens) as an ideal
right-handed alpha-helix, Amber ff14SB (``amber14/protein.ff14SB.xml``), no cut-off, no
constraints, Langevin (middle) at 300 K, friction 1/ps, step 0.5 fs, as the nanotube's step,
so that 5 steps a frame at the human pace give a person 30 frames/s. Vacuum, not implicit
solvent: the caps leave the peptide neutral, the helix holds in vacuum, and OpenMM's Reference
platform runs about 2,500 steps/s here against under 100 with OBC2.

- Backbone from internal coordinates (Engh & Huber bond lengths and angles; phi -57°,
  psi -47°, omega 180°); carbonyl O in the peptide plane; CB on the L side
  (C-N-CA-CB dihedral -122.6°); hydrogens from :meth:`openmm.app.Modeller.addHydrogens`.
  Straight from the build the energy is about 75 kJ/mol above the nearest minimum: no
  minimisation is needed.
- The first alanine's CA is tethered to where it starts by a stiff harmonic spring
  (``TETHER_KJ_NM2``: 0.04 nm of give under a 2,000 kJ/(mol nm) pull), as if held by a surface,
  so that pulling the last alanine's CA stretches the helix instead of dragging it along.
- No centre-of-mass motion remover: with a tether and a pull it would take back the pull.

Usage: ``built = build_helix_system(); built.topology.getNumAtoms()  # 112``
"""

from __future__ import annotations

import contextlib
import math
import random
from typing import Iterator

import numpy as np
import openmm
import openmm.app
import openmm.unit as unit

from costeer.tasks.system import BuiltSystem

__all__ = ["TETHER_KJ_NM2", "build_helix_system"]

ALANINES = 10
"""Alanines between the caps: 2.8 turns, 8 i->i+4 hydrogen bonds (the caps' included)."""
FORCE_FIELD = "amber14/protein.ff14SB.xml"
TEMPERATURE_K, FRICTION_PER_PS, STEP_PS = 300.0, 1.0, 0.0005
TETHER_KJ_NM2 = 50000.0
"""Stiffness of the first alanine CA's tether, kJ/(mol nm²) (``E = k |r - r0|² / 2``)."""

# Ideal geometry, nm and degrees.
N_CA, CA_C, C_N, C_O, CA_CB = 0.1458, 0.1525, 0.1329, 0.1231, 0.1530
N_CA_C, CA_C_N, C_N_CA, CA_C_O, N_CA_CB = 111.2, 116.2, 121.7, 120.8, 110.5
PHI, PSI, OMEGA = -57.0, -47.0, 180.0
CB_DIHEDRAL = -122.6
"""C-N-CA-CB: the L-amino acid's side."""

HYDROGEN_SEED = 20261201
"""Seeds Python's ``random`` while ``addHydrogens`` runs, so every process builds the same helix."""

_TETHER_ENERGY = "0.5*tether_k*((x-x0)^2+(y-y0)^2+(z-z0)^2)"


def build_helix_system(*, alanines: int = ALANINES) -> BuiltSystem:
    """Build the helix task afresh: Ace-(Ala)n-NMe, ff14SB in vacuum, the first CA tethered."""
    if alanines < 5:
        raise ValueError(f"a helix needs at least 5 alanines (one i->i+4 hydrogen bond inside), got {alanines}")
    topology, heavy = _heavy_atoms(alanines)
    forcefield = openmm.app.ForceField(FORCE_FIELD)
    modeller = openmm.app.Modeller(topology, heavy * unit.nanometer)
    # Modeller places new hydrogens at random, then minimises them: seeded, and on the Reference
    # platform (the multithreaded CPU platform's sums differ between runs on a busy machine).
    with _python_random_seeded(HYDROGEN_SEED):
        modeller.addHydrogens(forcefield, platform=openmm.Platform.getPlatformByName("Reference"))
    positions = np.array(modeller.getPositions().value_in_unit(unit.nanometer), dtype=np.float64)
    system = forcefield.createSystem(
        modeller.topology, nonbondedMethod=openmm.app.NoCutoff, constraints=None, removeCMMotion=False
    )
    anchor = next(atom.index for atom in modeller.topology.atoms() if atom.residue.name == "ALA" and atom.name == "CA")
    system.addForce(_tether(anchor, positions[anchor]))
    integrator = openmm.LangevinMiddleIntegrator(
        TEMPERATURE_K * unit.kelvin, FRICTION_PER_PS / unit.picosecond, STEP_PS * unit.picosecond
    )
    return BuiltSystem("helix", modeller.topology, system, integrator, positions)


@contextlib.contextmanager
def _python_random_seeded(seed: int) -> Iterator[None]:
    """Seed the ``random`` module for the block, then give back the caller's random state."""
    saved = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(saved)


def _backbone(units: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """N, CA, C and O of ``units`` residues of an ideal alpha-helix, each ``(units, 3)`` nm."""
    n = [np.zeros(3)]
    ca = [np.array([N_CA, 0.0, 0.0])]
    angle = math.radians(N_CA_C)
    c = [ca[0] + CA_C * np.array([-math.cos(angle), math.sin(angle), 0.0])]
    for _ in range(1, units):
        n.append(_place(n[-1], ca[-1], c[-1], C_N, CA_C_N, PSI))
        ca.append(_place(ca[-1], c[-1], n[-1], N_CA, C_N_CA, OMEGA))
        c.append(_place(c[-1], n[-1], ca[-1], CA_C, N_CA_C, PHI))
    o = [_place(n[i], ca[i], c[i], C_O, CA_C_O, PSI + 180.0) for i in range(units)]
    return np.array(n), np.array(ca), np.array(c), np.array(o)


def _heavy_atoms(alanines: int) -> tuple[openmm.app.Topology, np.ndarray]:
    """Ace-(Ala)n-NMe without hydrogens: ACE takes the first unit's CA (its CH3), C and O, NME the last's N and CA."""
    n, ca, c, o = _backbone(alanines + 2)
    topology = openmm.app.Topology()
    chain = topology.addChain("A")
    positions: list[np.ndarray] = []

    def add(residue: openmm.app.Residue, name: str, symbol: str, where: np.ndarray) -> openmm.app.Atom:
        positions.append(where)
        return topology.addAtom(name, openmm.app.Element.getBySymbol(symbol), residue)

    ace = topology.addResidue("ACE", chain, id="1")
    methyl, carbonyl = add(ace, "CH3", "C", ca[0]), add(ace, "C", "C", c[0])
    topology.addBond(methyl, carbonyl)
    topology.addBond(carbonyl, add(ace, "O", "O", o[0]))
    for i in range(1, alanines + 1):
        residue = topology.addResidue("ALA", chain, id=str(i + 1))
        nitrogen, alpha = add(residue, "N", "N", n[i]), add(residue, "CA", "C", ca[i])
        carbon = add(residue, "C", "C", c[i])
        beta = add(residue, "CB", "C", _place(c[i], n[i], ca[i], CA_CB, N_CA_CB, CB_DIHEDRAL))
        for first, second in ((carbonyl, nitrogen), (nitrogen, alpha), (alpha, carbon), (alpha, beta)):
            topology.addBond(first, second)
        topology.addBond(carbon, add(residue, "O", "O", o[i]))
        carbonyl = carbon
    nme = topology.addResidue("NME", chain, id=str(alanines + 2))
    nitrogen = add(nme, "N", "N", n[-1])
    topology.addBond(carbonyl, nitrogen)
    topology.addBond(nitrogen, add(nme, "C", "C", ca[-1]))
    return topology, np.array(positions)


def _place(a: np.ndarray, b: np.ndarray, c: np.ndarray, bond: float, angle: float, dihedral: float) -> np.ndarray:
    """The atom ``d`` with ``|cd| = bond``, angle ``bcd`` and dihedral ``abcd`` (degrees) given."""
    bc = (c - b) / np.linalg.norm(c - b)
    normal = np.cross(b - a, bc)
    normal /= np.linalg.norm(normal)
    across = np.cross(normal, bc)
    theta, phi = math.radians(angle), math.radians(dihedral)
    return c + bond * (
        -math.cos(theta) * bc + math.sin(theta) * math.cos(phi) * across + math.sin(theta) * math.sin(phi) * normal
    )


def _tether(atom: int, where: np.ndarray) -> openmm.CustomExternalForce:
    force = openmm.CustomExternalForce(_TETHER_ENERGY)
    force.addGlobalParameter("tether_k", TETHER_KJ_NM2)
    for name in ("x0", "y0", "z0"):
        force.addPerParticleParameter(name)
    force.addParticle(atom, [float(value) for value in where])
    return force

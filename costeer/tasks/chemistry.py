"""A system's chemistry as plain arrays (elements and bonds), for selecting atoms by what they are.

Tasks select their atoms from this, never by index or residue name: NanoVer's nanotube files,
for instance, give methane the tube's residue name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import openmm.app

from costeer.core import keys

__all__ = ["Chemistry", "ChemistryError"]


class ChemistryError(ValueError):
    """The topology data is missing or does not fit what a task looks for."""


@dataclass(frozen=True, eq=False)
class Chemistry:
    """Atomic numbers and bonds of a system, with neighbour counts for chemical selections.

    Usage: ``chem = Chemistry.from_frame(frame); carbons = chem.elements == 6``
    """

    elements: np.ndarray
    """Atomic number per atom, shape ``(n,)``, uint8 (NanoVer's ``particle.elements``)."""
    bonds: np.ndarray
    """Unique bonded pairs ``(i, j)`` with ``i < j``, sorted, shape ``(m, 2)``, int64."""
    _neighbour_elements: dict[int, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        elements = np.asarray(self.elements, dtype=np.uint8).reshape(-1)
        pairs = np.asarray(self.bonds, dtype=np.int64).reshape(-1, 2)
        if len(pairs) and (pairs.min() < 0 or pairs.max() >= len(elements)):
            raise ChemistryError(f"bond pairs name atoms outside 0..{len(elements) - 1}: check the topology")
        pairs = np.unique(np.sort(pairs, axis=1), axis=0)
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
        object.__setattr__(self, "elements", elements)
        object.__setattr__(self, "bonds", pairs)

    @classmethod
    def from_frame(cls, frame: Mapping[str, Any]) -> "Chemistry":
        """From a NanoVer frame (``particle.elements`` and ``bond.pairs``, as numpy or lists)."""
        missing = [key for key in (keys.PARTICLE_ELEMENTS, keys.BOND_PAIRS) if key not in frame]
        if missing:
            raise ChemistryError(
                f"the frame has no {' or '.join(missing)}: tasks select atoms from elements and bonds, "
                "so use a full frame (the first frame of a recording, or one merged from its deltas)"
            )
        return cls(np.asarray(frame[keys.PARTICLE_ELEMENTS]), np.asarray(frame[keys.BOND_PAIRS]))

    @classmethod
    def from_topology(cls, topology: openmm.app.Topology) -> "Chemistry":
        """From an OpenMM topology; atoms without an element get atomic number 0."""
        elements = [0 if atom.element is None else atom.element.atomic_number for atom in topology.atoms()]
        pairs = [(bond[0].index, bond[1].index) for bond in topology.bonds()]
        return cls(np.array(elements, dtype=np.uint8), np.array(pairs, dtype=np.int64).reshape(-1, 2))

    @property
    def atom_count(self) -> int:
        return len(self.elements)

    def neighbour_count(self, atomic_number: int | None = None) -> np.ndarray:
        """Per atom, how many bonded neighbours it has (of ``atomic_number`` only, if given)."""
        key = -1 if atomic_number is None else atomic_number
        counts = self._neighbour_elements.get(key)
        if counts is None:
            ends = self.bonds.ravel()
            partners = self.bonds[:, ::-1].ravel()
            if atomic_number is not None:
                keep = self.elements[partners] == atomic_number
                ends = ends[keep]
            counts = np.bincount(ends, minlength=self.atom_count)
            self._neighbour_elements[key] = counts
        return counts

    def neighbours(self, atoms: np.ndarray) -> np.ndarray:
        """Sorted unique atoms bonded to any of ``atoms`` (not including ``atoms`` themselves)."""
        chosen = np.zeros(self.atom_count, dtype=bool)
        chosen[np.asarray(atoms, dtype=np.int64)] = True
        first, second = self.bonds[:, 0], self.bonds[:, 1]
        found = np.concatenate([second[chosen[first]], first[chosen[second]]])
        return np.setdiff1d(found, np.flatnonzero(chosen))

    def system_hash(self) -> str:
        """sha256 (hex) of the elements (uint8) then the unique sorted bonds (little-endian uint32 pairs)."""
        digest = hashlib.sha256(self.elements.astype("u1").tobytes())
        digest.update(self.bonds.astype("<u4").tobytes())
        return digest.hexdigest()

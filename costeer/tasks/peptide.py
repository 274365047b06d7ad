"""A peptide's backbone, found from elements and bonds: its alpha carbons in order and its hydrogen-bond partners.

Chemically, with no residue or atom names: a carbonyl carbon is a carbon bonded to an oxygen
that has no other neighbour; an amide nitrogen is a nitrogen bonded to a carbonyl carbon; an
alpha carbon is a carbon bonded to a nitrogen and to a carbonyl carbon. Each alpha carbon's carbonyl leads, through a
peptide bond, to the next residue's nitrogen, which orders the chain from its N-terminus.
Caps (acetyl, N-methyl amide) are peptide bonds without an alpha carbon on one side.

Peptide bond ``j`` joins residue ``j`` to ``j + 1`` (residue 0 being the acetyl cap or the
first alpha carbon's predecessor): its carbonyl O belongs to residue ``j``, its amide H to
residue ``j + 1``. An alpha-helix bonds residue ``i``'s carbonyl O to residue ``i + 4``'s amide
H, so peptide bond ``j``'s O to peptide bond ``j + 3``'s H.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costeer.tasks.chemistry import Chemistry, ChemistryError

__all__ = ["Backbone", "find_backbone", "intact_hydrogen_bonds"]

CARBON, NITROGEN, OXYGEN, HYDROGEN = 6, 7, 8, 1
HELIX_OFFSET = 3
"""Peptide bonds between an alpha-helix's hydrogen-bonded carbonyl and amide (i -> i + 4)."""


@dataclass(frozen=True, eq=False)
class Backbone:
    """One linear peptide chain's backbone atoms, N-terminus first.

    Usage: ``backbone = find_backbone(chemistry); positions[backbone.alpha_carbons[[0, -1]]]``
    """

    alpha_carbons: np.ndarray
    """Alpha carbons from the N-terminus to the C-terminus, int64."""
    carbonyl_oxygens: np.ndarray
    """Per peptide bond (in chain order), its carbonyl oxygen, int64."""
    amide_hydrogens: np.ndarray
    """Per peptide bond, its amide hydrogen (-1 where the nitrogen has none, as in proline), int64."""

    @property
    def helical_pairs(self) -> np.ndarray:
        """``(m, 2)`` (oxygen, hydrogen) pairs that an ideal alpha-helix hydrogen-bonds (i -> i + 4)."""
        pairs = np.stack([self.carbonyl_oxygens[:-HELIX_OFFSET], self.amide_hydrogens[HELIX_OFFSET:]], axis=1)
        return pairs[pairs[:, 1] >= 0].reshape(-1, 2)


def find_backbone(chemistry: Chemistry) -> Backbone:
    """The backbone of the system's one peptide chain; ``ChemistryError`` if there is none or several."""
    elements = chemistry.elements
    lone_oxygen = (elements == OXYGEN) & (chemistry.neighbour_count() == 1)
    carbonyl = (elements == CARBON) & _bonded_to(chemistry, lone_oxygen)
    nitrogen = elements == NITROGEN
    amide = nitrogen & _bonded_to(chemistry, carbonyl)
    alpha = (elements == CARBON) & _bonded_to(chemistry, nitrogen) & _bonded_to(chemistry, carbonyl)
    peptide_bonds = [(int(c), int(n)) for c, n in _pairs(chemistry, carbonyl, amide)]
    if not alpha.any() or not peptide_bonds:
        raise ChemistryError(
            "no peptide backbone (N-CA-C(=O) linked by peptide bonds) in this system: is it a peptide, with its bonds?"
        )
    carbonyl_of = {int(a): int(c) for a, c in _pairs(chemistry, alpha, carbonyl)}
    nitrogen_of = {int(a): int(n) for a, n in _pairs(chemistry, alpha, nitrogen)}
    alpha_at_nitrogen = {n: a for a, n in nitrogen_of.items()}
    next_amide = dict(peptide_bonds)
    following = {a: alpha_at_nitrogen.get(next_amide.get(c, -1)) for a, c in carbonyl_of.items()}
    firsts = sorted(set(carbonyl_of) - {a for a in following.values() if a is not None})
    if len(firsts) != 1 or len(carbonyl_of) != int(alpha.sum()):
        raise ChemistryError(
            f"expected one linear peptide chain, found {len(firsts)} chain start(s) among "
            f"{int(alpha.sum())} alpha carbons: give a system with a single peptide chain"
        )
    chain = [firsts[0]]
    while following[chain[-1]] is not None:
        chain.append(following[chain[-1]])
    carbonyls = [c for c, n in peptide_bonds if n == nitrogen_of[chain[0]]] + [carbonyl_of[a] for a in chain]
    carbonyls = [c for c in carbonyls if c in next_amide]
    oxygens = [_only(chemistry, c, lone_oxygen) for c in carbonyls]
    hydrogens = [_only(chemistry, next_amide[c], elements == HYDROGEN, missing=-1) for c in carbonyls]
    return Backbone(
        alpha_carbons=np.array(chain, dtype=np.int64),
        carbonyl_oxygens=np.array(oxygens, dtype=np.int64),
        amide_hydrogens=np.array(hydrogens, dtype=np.int64),
    )


def intact_hydrogen_bonds(positions: np.ndarray, pairs: np.ndarray, *, cutoff: float) -> np.ndarray:
    """How many (oxygen, hydrogen) ``pairs`` are closer than ``cutoff`` nm, per frame of ``(..., n, 3)``."""
    positions = np.asarray(positions, dtype=np.float64)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    distances = np.linalg.norm(positions[..., pairs[:, 0], :] - positions[..., pairs[:, 1], :], axis=-1)
    return (distances < cutoff).sum(axis=-1)


def _bonded_to(chemistry: Chemistry, chosen: np.ndarray) -> np.ndarray:
    """Per atom, whether it is bonded to any atom where ``chosen`` is true."""
    found = np.zeros(chemistry.atom_count, dtype=bool)
    first, second = chemistry.bonds[:, 0], chemistry.bonds[:, 1]
    found[first[chosen[second]]] = True
    found[second[chosen[first]]] = True
    return found


def _pairs(chemistry: Chemistry, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Bonded ``(l, r)`` pairs with ``left[l]`` and ``right[r]``, ``(m, 2)``."""
    bonds = np.concatenate([chemistry.bonds, chemistry.bonds[:, ::-1]])
    return bonds[left[bonds[:, 0]] & right[bonds[:, 1]]]


def _only(chemistry: Chemistry, atom: int, kind: np.ndarray, *, missing: int | None = None) -> int:
    """The one neighbour of ``atom`` of the ``kind``; ``missing`` if none (an error if ``None``)."""
    found = [int(other) for other in chemistry.neighbours(np.array([atom])) if kind[other]]
    if len(found) == 1:
        return found[0]
    if not found and missing is not None:
        return missing
    raise ChemistryError(f"atom {atom} has {len(found)} of the expected neighbour, not one: is this a peptide?")

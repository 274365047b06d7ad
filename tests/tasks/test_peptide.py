"""find_backbone: a peptide's alpha carbons in order and its helical hydrogen-bond pairs, from elements and bonds."""

from __future__ import annotations

import numpy as np
import pytest

from costeer.tasks import Chemistry, ChemistryError, build_task_system
from costeer.tasks.peptide import find_backbone, intact_hydrogen_bonds
from costeer.tasks.systems.helix import build_helix_system

H, C, N, O = 1, 6, 7, 8


def _dipeptide(*, chains: int = 1) -> Chemistry:
    """H3N+-CA(H)-C(=O)-N(H)-CA(H)-C(=O)O-, uncapped, ``chains`` copies; atom order shuffled within."""
    # 0 CA2, 1 O1, 2 N1, 3 H(N2), 4 CA1, 5 N2, 6 C1, 7 C2, 8 O2, 9 OXT, 10 HA (the amine's H left out)
    elements = [C, O, N, H, C, N, C, C, O, O, H]
    bonds = [(2, 4), (4, 6), (6, 1), (6, 5), (5, 3), (5, 0), (0, 7), (7, 8), (7, 9), (4, 10)]
    size = len(elements)
    return Chemistry(
        np.array(elements * chains),
        np.array([(i + k * size, j + k * size) for k in range(chains) for i, j in bonds]),
    )


def test_the_helix_backbone_runs_from_the_n_terminus() -> None:
    built = build_helix_system()
    backbone = find_backbone(Chemistry.from_topology(built.topology))
    atoms = list(built.topology.atoms())
    assert [atoms[i].name for i in backbone.alpha_carbons] == ["CA"] * 10
    assert [atoms[i].residue.index for i in backbone.alpha_carbons] == list(range(1, 11))
    assert [atoms[i].residue.name for i in backbone.carbonyl_oxygens] == ["ACE"] + ["ALA"] * 10
    assert [atoms[i].residue.index for i in backbone.amide_hydrogens] == list(range(1, 12))
    oxygens, hydrogens = backbone.helical_pairs.T
    assert [atoms[i].residue.index + 4 for i in oxygens] == [atoms[i].residue.index for i in hydrogens]


def test_an_uncapped_chain_starts_at_its_free_amine() -> None:
    backbone = find_backbone(_dipeptide())
    assert backbone.alpha_carbons.tolist() == [4, 0]
    assert backbone.carbonyl_oxygens.tolist() == [1]  # the carboxylate makes no peptide bond
    assert backbone.amide_hydrogens.tolist() == [3]
    assert backbone.helical_pairs.shape == (0, 2)


def test_no_peptide_or_two_chains_are_refused() -> None:
    nanotube = build_task_system("nanotube")
    with pytest.raises(ChemistryError, match="no peptide backbone"):
        find_backbone(Chemistry.from_topology(nanotube.topology))
    with pytest.raises(ChemistryError, match="one linear peptide chain, found 2"):
        find_backbone(_dipeptide(chains=2))


def test_intact_hydrogen_bonds_counts_close_pairs_per_frame() -> None:
    positions = np.zeros((2, 4, 3))
    positions[:, 1, 0] = [0.2, 0.3]
    positions[:, 3, 0] = 0.1
    pairs = np.array([[0, 1], [2, 3]])
    assert intact_hydrogen_bonds(positions, pairs, cutoff=0.25).tolist() == [2, 1]

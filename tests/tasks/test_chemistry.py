"""Chemistry from frames and topologies: normalised bonds, neighbour counts, the system hash."""

from __future__ import annotations

import numpy as np
import pytest

from costeer.tasks import BuiltSystem, Chemistry, ChemistryError, build_task_system

# Methanol-like toy: C0 bonded to O1 and H2-H4; O1 bonded to H5.
ELEMENTS = np.array([6, 8, 1, 1, 1, 1], dtype=np.uint8)
BONDS = np.array([[0, 1], [0, 2], [3, 0], [0, 4], [1, 5]])


@pytest.fixture(scope="module")
def built() -> BuiltSystem:
    return build_task_system("nanotube")


def test_bonds_are_normalised_sorted_and_unique() -> None:
    doubled = np.concatenate([BONDS, BONDS[:, ::-1]])  # older recordings store each bond both ways
    chem = Chemistry(ELEMENTS, doubled)
    assert chem.bonds.tolist() == [[0, 1], [0, 2], [0, 3], [0, 4], [1, 5]]
    assert chem.bonds.dtype == np.int64 and chem.elements.dtype == np.uint8
    assert chem.atom_count == 6


def test_neighbour_counts_and_neighbours() -> None:
    chem = Chemistry(ELEMENTS, BONDS)
    assert chem.neighbour_count().tolist() == [4, 2, 1, 1, 1, 1]
    assert chem.neighbour_count(1).tolist() == [3, 1, 0, 0, 0, 0]
    assert chem.neighbour_count(6).tolist() == [0, 1, 1, 1, 1, 0]
    assert chem.neighbours(np.array([0])).tolist() == [1, 2, 3, 4]
    assert chem.neighbours(np.array([0, 1])).tolist() == [2, 3, 4, 5]


def test_from_frame_accepts_lists_and_names_missing_keys() -> None:
    chem = Chemistry.from_frame({"particle.elements": ELEMENTS.tolist(), "bond.pairs": BONDS.tolist()})
    assert chem.bonds.shape == (5, 2)
    with pytest.raises(ChemistryError, match="bond.pairs"):
        Chemistry.from_frame({"particle.elements": ELEMENTS})


def test_bonds_must_name_existing_atoms() -> None:
    with pytest.raises(ChemistryError, match="outside"):
        Chemistry(ELEMENTS, np.array([[0, 6]]))


def test_from_topology(built: BuiltSystem) -> None:
    chem = Chemistry.from_topology(built.topology)
    assert chem.atom_count == 65 and len(chem.bonds) == 88
    assert np.bincount(chem.elements).tolist() == [0, 4, 0, 0, 0, 0, 61]


def test_system_hash_ignores_bond_order_and_duplicates() -> None:
    first = Chemistry(ELEMENTS, BONDS).system_hash()
    assert first == Chemistry(ELEMENTS, np.concatenate([BONDS[::-1, ::-1], BONDS])).system_hash()
    assert len(first) == 64
    assert first != Chemistry(ELEMENTS, BONDS[:-1]).system_hash()
    changed = ELEMENTS.copy()
    changed[1] = 7
    assert first != Chemistry(changed, BONDS).system_hash()

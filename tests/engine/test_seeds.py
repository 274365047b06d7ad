"""Thermostat seeds: OpenMM's seed from any integer, and each reset's seed."""

from __future__ import annotations

import pytest

from costeer.engine.seeds import openmm_seed, reset_seed


def test_openmm_seeds_are_positive_31_bit_and_tell_signs_apart() -> None:
    seeds = [openmm_seed(value) for value in (-3, -1, 0, 1, 3, 2**40)]
    assert all(0 < seed < 2**31 for seed in seeds)
    assert len(set(seeds)) == len(seeds)


def test_reset_seeds_of_a_seeded_run_repeat_and_differ_reset_by_reset() -> None:
    assert [reset_seed(7, reset=k) for k in range(1, 5)] == [reset_seed(7, reset=k) for k in range(1, 5)]
    assert len({reset_seed(7, reset=k) for k in range(1, 50)}) == 49
    assert reset_seed(7, reset=1) != reset_seed(-7, reset=1) != reset_seed(8, reset=1)


def test_an_unseeded_run_gets_fresh_reset_seeds() -> None:
    assert len({reset_seed(None, reset=1) for _ in range(20)}) > 1


def test_a_negative_reset_number_is_refused() -> None:
    with pytest.raises(ValueError, match="counts from 0"):
        reset_seed(1, reset=-1)

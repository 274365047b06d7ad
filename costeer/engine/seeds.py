"""Thermostat seeds: OpenMM's seed from any integer, and the seed each reset of a simulation uses.

OpenMM draws a stochastic integrator's random numbers (Langevin's noise) from a generator
seeded when its kernels initialise; returning to the initial state leaves the generator as it
is (a checkpoint would restore it, and so replay the same noise after every reset). A reset
reseeds it (see ``OpenMMSimulation.reset``):

    openmm_seed(3)            # what setRandomNumberSeed gets for an episode seeded 3
    reset_seed(7, reset=2)    # the 2nd reset of a run seeded 7: the same in every such run
    reset_seed(None, reset=2) # a run without a seed: fresh noise each reset
"""

from __future__ import annotations

import secrets

import numpy as np

__all__ = ["openmm_seed", "reset_seed"]


def openmm_seed(seed: int) -> int:
    """A positive 31-bit seed for OpenMM from any integer (OpenMM takes 0 to mean "pick one at random")."""
    value = int(np.random.SeedSequence(abs(int(seed)), spawn_key=(int(seed < 0),)).generate_state(1)[0]) & 0x7FFFFFFF
    return value or 1


def reset_seed(base: int | None, *, reset: int) -> int:
    """The seed of reset number ``reset`` of a simulation seeded ``base`` (``None``: a fresh random one).

    Derived from ``(base, reset)`` alone, so runs with the same ``base`` repeat reset by reset
    while each reset of a run gets noise of its own.
    """
    if reset < 0:
        raise ValueError(f"a reset number counts from 0, got {reset}")
    if base is None:
        return secrets.randbits(31)
    key = (int(base < 0), int(reset))
    return int(np.random.SeedSequence(abs(int(base)), spawn_key=key).generate_state(1)[0]) & 0x7FFFFFFF

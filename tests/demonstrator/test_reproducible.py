"""Reproducible demonstrations: ``costeer serve --seed N`` fixes the thermostat's random numbers.

(The option is ``costeer.cli.serve``'s; it is tested here because the demonstrator's success
rate on a live server depends on it.)
"""

from __future__ import annotations

import numpy as np

from costeer.cli.main import build_parser
from costeer.cli.serve import build_simulations
from costeer.core import keys


def _trajectory(*options: str, frames: int = 20, resets: int = 1) -> list[np.ndarray]:
    (simulation,) = build_simulations(build_parser().parse_args(["serve", "--steps-per-frame", "30", "--platform", "Reference", *options]))
    simulation.load()
    runs = []
    for _ in range(resets):
        simulation.reset()
        for _ in range(frames):
            delta = simulation.advance(1 / 30)
        runs.append(np.asarray(delta[keys.PARTICLE_POSITIONS], dtype=np.float64))
    return runs


def test_the_same_seed_gives_the_same_trajectory_and_another_seed_another() -> None:
    (first,) = _trajectory("--seed", "7")
    (again,) = _trajectory("--seed", "7")
    (other,) = _trajectory("--seed", "8")
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 1e-3


def test_each_reset_draws_its_own_noise_and_a_seeded_run_repeats_them_reset_by_reset() -> None:
    run = _trajectory("--seed", "7", resets=3)
    again = _trajectory("--seed", "7", resets=3)
    for episode, repeated in zip(run, again):
        np.testing.assert_array_equal(episode, repeated)
    assert np.abs(run[1] - run[2]).max() > 1e-3 and np.abs(run[0] - run[1]).max() > 1e-3

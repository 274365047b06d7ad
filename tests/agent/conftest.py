"""Fixtures for the agent tests: tiny episode datasets written with costeer's own writer, one torch thread.

The toy task: five atoms drift; the person pulls (on) while atom 0 is below z = 0.5, towards
+z by the first atom's x, with strength 1201.1. Every fourth step of episode 1 has an unknown
action (``action.valid`` False, NaN target), as in the frames-only session.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from costeer.datasets.episodes import Episode
from costeer.datasets.lerobot import write_dataset

ATOMS = 5
ACTION_NAMES = ["target_x", "target_y", "target_z", "strength", "type", "on"]


@pytest.fixture(autouse=True)
def one_thread() -> None:
    """Two cores are shared by everyone; torch takes one."""
    torch.set_num_threads(1)


def toy_episode(number: int, length: int, *, rng: np.random.Generator, invalid: bool = False,
                origin: str = "unknown") -> Episode:
    start = rng.normal(size=(ATOMS, 3)) * 0.3
    drift = np.linspace(0.0, 1.0, length)[:, None, None] * np.array([0.0, 0.0, 1.0])
    positions = start + drift + rng.normal(size=(length, ATOMS, 3)) * 0.01
    on = positions[:, 0, 2] < 0.5
    action = np.zeros((length, 6))
    action[on, 0] = positions[on, 0, 0]
    action[on, 2] = 0.5
    action[on, 3] = 1201.1
    action[on, 4] = 2.0
    action[on, 5] = 1.0
    valid = np.ones(length, bool)
    if invalid:
        valid[::4] = False
        action[~valid, :4] = np.nan
    steps = {"observation.state": positions.reshape(length, -1).astype(np.float32),
             "action": action.astype(np.float32), "action.valid": valid}
    names = {"observation.state": [f"atom{60 + a}.{axis}" for a in range(ATOMS) for axis in "xyz"],
             "action": list(ACTION_NAMES)}
    return Episode(steps=steps, names=names, metadata={"source": f"toy-{number}", "frame_interval_s": 1 / 30,
                                                       "system_hash": "toy", "success": number != 2,
                                                       "origin": origin})


def write_toy(directory: Path, *, episodes: int = 4, length: int = 40, seed: int = 0, task: str = "toy",
              origins: tuple[str, ...] = ()) -> Path:
    """``origins``: the first episodes' origins (the others: ``unknown``)."""
    rng = np.random.default_rng(seed)
    named = [*origins, *["unknown"] * episodes]
    made = [toy_episode(number, length, rng=rng, invalid=number == 1, origin=named[number]) for number in range(episodes)]
    return write_dataset(made, directory, task=task)


@pytest.fixture(scope="session")
def toy_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four toy episodes of 40 steps."""
    return write_toy(tmp_path_factory.mktemp("toy") / "dataset")


@pytest.fixture()
def make_toy(tmp_path: Path):
    """``make_toy(name, **options)``: a toy dataset in ``tmp_path / name`` (see :func:`write_toy`)."""
    return lambda name, **options: write_toy(tmp_path / name, **options)

"""Force caps that hold in the simulation: the server-wide cap bounds every pull by default."""

from __future__ import annotations

import math

import numpy as np
import pytest

from costeer.core import keys
from costeer.core.interaction import DEFAULT_MAX_FORCE, Interaction
from costeer.engine.loading import from_built
from costeer.engine.openmm_simulation import OpenMMSimulation
from costeer.tasks import build_task_system


@pytest.fixture(scope="module")
def nanotube_task():
    return from_built(build_task_system("nanotube"))


def _pull(target, *, kind: str, scale: float, max_force: float = math.inf) -> Interaction:
    return Interaction.from_state(
        {"position": list(target), "particles": [60], "interaction_type": kind, "scale": scale, "max_force": max_force}
    )


@pytest.mark.parametrize("kind, scale", [("spring", 1e6), ("gaussian", -1e6), ("constant", 1e6)])
def test_the_server_cap_bounds_a_pull_whatever_its_scale_and_its_own_cap(nanotube_task, kind, scale) -> None:
    simulation = OpenMMSimulation(nanotube_task, platform="Reference", seed=1)
    assert simulation.max_force == DEFAULT_MAX_FORCE
    simulation.load()
    start = simulation.reset()[keys.PARTICLE_POSITIONS][60].astype(np.float64)
    simulation.set_interactions({"interaction.x": _pull(start + [0.3, 0.4, 0.0], kind=kind, scale=scale)})
    frame = simulation.advance(0.0)
    force = np.linalg.norm(frame[keys.USER_FORCES_SPARSE][0])
    assert 0.5 * DEFAULT_MAX_FORCE < force <= DEFAULT_MAX_FORCE * 1.0001


def test_a_repulsive_gaussian_of_a_million_no_longer_blows_the_nanotube_up(nanotube_task) -> None:
    """The issue's case: scale -1e6 blew the system up in 0.05 s under the default cap."""
    simulation = OpenMMSimulation(nanotube_task, platform="Reference", seed=7)
    simulation.load()
    start = simulation.reset()[keys.PARTICLE_POSITIONS][60].astype(np.float64)
    simulation.set_interactions({"interaction.x": _pull(start + [0.2, 0.0, 0.0], kind="gaussian", scale=-1e6, max_force=DEFAULT_MAX_FORCE)})
    for _ in range(40):  # 0.1 ps, twice the time it took to blow up
        frame = simulation.advance(0.0)
    assert np.isfinite(frame[keys.PARTICLE_POSITIONS]).all()
    assert np.abs(frame[keys.PARTICLE_POSITIONS]).max() < 20.0

"""One meaning for observations and actions: step by step equals a whole episode; decode undoes encode."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from costeer.core.interaction import Interaction
from costeer.datasets.demonstrations import read_demonstrations
from costeer.engine.imd import compute_imd_forces
from costeer.tasks import Chemistry, build_task_system, get_task
from costeer.tasks.encoding import (
    ACTION_NAMES,
    StepEncoder,
    acting_interaction,
    element_masses,
    grabbed_centres,
)

METHANE_CARBON = 60


@pytest.fixture(scope="module")
def nanotube() -> tuple:
    built = build_task_system("nanotube")
    chemistry = Chemistry.from_topology(built.topology)
    task = get_task("nanotube")
    return task, task.select(chemistry), element_masses(chemistry), built.positions.astype(np.float64)


def test_step_by_step_gives_the_numbers_of_a_whole_episode(shared_data: Path) -> None:
    (demo,) = read_demonstrations(shared_data / "recordings" / "nanotube-methane-01.nanover.zip")
    task = get_task("nanotube")
    selection = task.select(demo.chemistry)
    masses = element_masses(demo.chemistry)
    positions = demo.positions.astype(np.float64)
    acting = [acting_interaction(frame.interactions, selection.grabbed) for frame in demo.frames]
    batch = StepEncoder(task, selection, masses=masses)
    observations, frames = batch.observe_episode(positions)
    actions = batch.encode_actions(acting, positions, frames, strength_factor=12.011)
    live = StepEncoder(task, selection, masses=masses)
    for step in range(len(demo)):
        np.testing.assert_array_equal(live.observe(positions[step]), observations[step])
        np.testing.assert_array_equal(live.frame.axes, frames.axes[step])
        np.testing.assert_array_equal(live.encode_action(acting[step], positions[step], strength_factor=12.011), actions[step])
    assert observations.shape == (len(demo), 15) and observations.dtype == np.float32
    assert actions.shape == (len(demo), len(ACTION_NAMES)) and actions.dtype == np.float32
    on = actions[:, 5] == 1.0
    assert on.sum() == sum(item is not None for item in acting) > 100
    assert actions[on, 3] == pytest.approx(1201.1) and (actions[~on] == 0).all()


def test_the_frame_continues_across_calls_and_restarts_on_reset(nanotube: tuple) -> None:
    task, selection, masses, positions = nanotube
    encoder = StepEncoder(task, selection, masses=masses)
    first = encoder.observe(positions)
    flipped = positions.copy()
    flipped[METHANE_CARBON:] = 2 * positions[selection.groups["tube"]].mean(axis=0) - positions[METHANE_CARBON:]
    continued = encoder.observe(flipped)  # methane now nearer the other end: the frame keeps its z
    encoder.reset()
    restarted = encoder.observe(flipped)  # a new episode: z from the end nearer methane
    assert continued[2] == pytest.approx(-first[2], abs=1e-5)
    assert restarted[2] == pytest.approx(first[2], abs=1e-5)


@pytest.mark.parametrize("kind", ["spring", "gaussian", "constant"])
def test_decoding_an_encoded_pull_exerts_the_same_force(nanotube: tuple, kind: str) -> None:
    task, selection, masses, positions = nanotube
    rng = np.random.default_rng(7)
    encoder = StepEncoder(task, selection, masses=masses)
    encoder.observe(positions)
    for _ in range(5):
        pull = Interaction(position=positions[METHANE_CARBON] + rng.normal(0, 0.5, 3), particles=np.array([60]),
                           interaction_type=kind, scale=float(rng.uniform(10, 2000)), max_force=math.inf)
        action = encoder.encode_action(pull, positions)
        assert encoder.decode_action(action, positions).interaction_type == "spring"  # what a policy gets
        decoded = encoder.decode_action(action, positions, properties={"label": "ai"}, interaction_type=None)
        assert decoded is not None and decoded.interaction_type == kind and decoded.properties == {"label": "ai"}
        original, again = (compute_imd_forces(positions, masses, [item]) for item in (pull, decoded))
        assert again.indices.tolist() == original.indices.tolist() == [METHANE_CARBON]
        np.testing.assert_allclose(again.forces, original.forces, rtol=1e-5)


def test_an_older_nanover_scale_decodes_to_the_force_it_made_there(nanotube: tuple) -> None:
    """Older NanoVer's force was 2 * scale * mass * d: strength = scale * mass gives it with costeer's law."""
    task, selection, masses, positions = nanotube
    encoder = StepEncoder(task, selection, masses=masses)
    encoder.observe(positions)
    pull = Interaction(position=positions[METHANE_CARBON] + [0.3, 0.1, -0.2], particles=np.array([60]),
                       interaction_type="spring", scale=100.0, max_force=math.inf)
    mass = masses[METHANE_CARBON]
    action = encoder.encode_action(pull, positions, strength_factor=mass)
    assert action[3] == pytest.approx(1201.078, rel=1e-6)
    decoded = encoder.decode_action(action, positions, max_force=5000.0)
    assert decoded.scale == pytest.approx(100.0 * mass) and decoded.max_force == 5000.0
    old_force = 2 * 100.0 * mass * (pull.position - positions[METHANE_CARBON])
    np.testing.assert_allclose(compute_imd_forces(positions, masses, [decoded]).forces[0], old_force, rtol=1e-5)


def test_off_unknown_and_early_actions(nanotube: tuple) -> None:
    task, selection, masses, positions = nanotube
    encoder = StepEncoder(task, selection, masses=masses)
    with pytest.raises(RuntimeError, match="observe"):
        encoder.encode_action(None, positions)
    encoder.observe(positions)
    assert encoder.encode_action(None, positions).tolist() == [0.0] * 6
    assert encoder.decode_action(np.zeros(6), positions) is None
    assert encoder.decode_action([0.1, 0, 0, 1000, -1, 1], positions, interaction_type=None).interaction_type == "spring"
    with pytest.raises(ValueError, match="not finite"):
        encoder.decode_action([np.nan, 0, 0, 1000, -1, 1], positions)
    with pytest.raises(ValueError, match="6 components"):
        encoder.decode_action([0, 0, 1], positions)


def test_a_pull_of_raw_forces_is_the_unknown_action(nanotube: tuple) -> None:
    task, selection, masses, positions = nanotube
    encoder = StepEncoder(task, selection, masses=masses)
    encoder.observe(positions)
    imd_pull = Interaction.from_state({"interaction_type": "forces", "particles": [METHANE_CARBON], "forces": [[0, 0, 50.0]]})
    action = encoder.encode_action(imd_pull, positions)
    assert np.isnan(action[:4]).all() and action[4:].tolist() == [-1.0, 1.0]


def test_masses_and_the_mass_weighted_centre(nanotube: tuple) -> None:
    _, selection, masses, positions = nanotube
    assert masses[METHANE_CARBON] == pytest.approx(12.011, abs=1e-3) and masses[61] == pytest.approx(1.008, abs=1e-3)
    methane = selection.groups["methane"]
    expected = (positions[methane] * masses[methane, None]).sum(axis=0) / masses[methane].sum()
    np.testing.assert_allclose(grabbed_centres(positions, methane, masses), expected)
    np.testing.assert_allclose(grabbed_centres(positions[None], selection.grabbed, masses)[0], positions[METHANE_CARBON])

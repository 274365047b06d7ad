"""The helix task: chemical selection, its fixed frame, the unfolding test, its synthetic person, and a pull in MD."""

from __future__ import annotations

import numpy as np
import pytest

from costeer.core import keys
from costeer.core.interaction import Interaction
from costeer.engine.loading import from_built
from costeer.engine.openmm_simulation import OpenMMSimulation
from costeer.tasks import AtomSelection, BuiltSystem, Chemistry, ChemistryError, Outcome, get_task, task_names
from costeer.tasks.builtin.helix import HelixTask, UnfoldingOutcome
from costeer.tasks.hand import Hand
from costeer.tasks.hands.pulling import PullingHand


@pytest.fixture(scope="module")
def task() -> HelixTask:
    task = get_task("helix")
    assert isinstance(task, HelixTask)
    return task


@pytest.fixture(scope="module")
def built(task: HelixTask) -> BuiltSystem:
    return task.build_system()


@pytest.fixture(scope="module")
def selection(task: HelixTask, built: BuiltSystem) -> AtomSelection:
    return task.select(Chemistry.from_topology(built.topology))


def _stretched(task: HelixTask, positions: np.ndarray, selection: AtomSelection, factor: float) -> np.ndarray:
    """The helix stretched along the task's z by ``factor`` (its i->i+4 hydrogen bonds run along z)."""
    frame = task.frames(positions, selection)
    local = frame.to_task(positions[None])[0]
    local[:, 2] *= factor
    return frame.to_lab(local[None])[0]


def test_registered_beside_the_nanotube() -> None:
    assert {"helix", "nanotube"} <= set(task_names())


def test_grabs_the_last_alpha_carbon_and_observes_the_alpha_carbons(
    selection: AtomSelection, built: BuiltSystem
) -> None:
    atoms = list(built.topology.atoms())
    alpha = selection.groups["alpha_carbons"]
    assert [(atoms[i].residue.index, atoms[i].name) for i in alpha] == [(index, "CA") for index in range(1, 11)]
    assert selection.grabbed.tolist() == [alpha[-1]] and selection.groups["anchor"].tolist() == [alpha[0]]
    assert selection.observed.tolist() == alpha.tolist()
    assert len(selection.groups["oxygens"]) == len(selection.groups["hydrogens"]) == 8


def test_refuses_a_system_without_a_long_enough_peptide(task: HelixTask) -> None:
    nanotube = get_task("nanotube").build_system()
    with pytest.raises(ChemistryError, match="no peptide backbone"):
        task.select(Chemistry.from_topology(nanotube.topology))


def test_the_frame_is_fixed_at_the_anchor_with_z_towards_the_grabbed_end(
    task: HelixTask, built: BuiltSystem, selection: AtomSelection
) -> None:
    episode = np.stack([built.positions, _stretched(task, built.positions, selection, 2.0)])
    frames = task.frames(episode, selection)
    assert len(frames) == 2 and np.allclose(frames.axes[0], frames.axes[1])
    observed = task.observe(episode, frames, selection)
    assert observed.shape == (2, 10, 3)
    assert np.allclose(observed[:, 0], 0.0)  # the anchor at the origin
    assert np.allclose(observed[0, -1, :2], 0.0) and observed[0, -1, 2] > 1.4  # the end on +z
    assert np.allclose(np.einsum("ij,kj->ik", frames.axes[0], frames.axes[0]), np.eye(3))
    assert np.linalg.det(frames.axes[0]) == pytest.approx(1.0)
    later = task.frames(episode[1:], selection, previous=frames[0])
    assert np.allclose(later.origin, frames.origin[0]) and np.allclose(later.axes, frames.axes[0])


def test_unfolded_only_once_stretched_and_held(task: HelixTask, built: BuiltSystem, selection: AtomSelection) -> None:
    helix, stretched = built.positions, _stretched(task, built.positions, selection, 2.5)
    assert task.extension(stretched, selection) > task.min_extension
    held = np.stack([helix] * 5 + [stretched] * task.hold_frames + [helix] * 3)
    outcome = task.evaluate(held, selection)
    assert isinstance(outcome, Outcome) and isinstance(outcome, UnfoldingOutcome)
    assert outcome.success and outcome.success_index == 5 + task.hold_frames - 1
    assert outcome.details()["fewest_hydrogen_bonds"] == 0
    brief = np.stack([helix] * 5 + [stretched] * (task.hold_frames - 1) + [helix] * 3)
    assert not task.evaluate(brief, selection).success
    helical = np.stack([helix] * 20)
    assert task.evaluate(helical, selection).details() == {
        "success": False,
        "success_index": None,
        "max_extension": pytest.approx(float(task.extension(helix, selection)), abs=1e-4),
        "fewest_hydrogen_bonds": 8,
    }


def test_stretched_with_its_hydrogen_bonds_intact_is_not_unfolded(
    task: HelixTask, built: BuiltSystem, selection: AtomSelection
) -> None:
    far_end = built.positions.copy()
    far_end[selection.grabbed] += 2.0 * task.frames(built.positions, selection).z_axis
    assert not task.evaluate(np.stack([far_end] * 20), selection).success


def test_its_synthetic_person_pulls_the_end_with_a_persons_strength(
    task: HelixTask, built: BuiltSystem, selection: AtomSelection
) -> None:
    chemistry = Chemistry.from_topology(built.topology)
    hand = task.demonstrator(selection, chemistry, built.positions, np.random.default_rng(0))
    assert isinstance(hand, PullingHand) and isinstance(hand, Hand) and not hand.finished
    assert hand.strength == pytest.approx(1201.1, abs=0.5)
    assert hand.goal_nm > task.min_extension
    assert hand(0.0, built.positions).shape == (3,)
    assert hand.direction @ task.frames(built.positions, selection).z_axis > np.cos(np.radians(30))


def _pull_in_md(task: HelixTask, selection: AtomSelection, *, speed: float, seconds: float) -> UnfoldingOutcome:
    """Frames at the human pace (5 steps of 0.5 fs, 30 a person's second): the hand moves along z."""
    loaded = from_built(task.build_system())
    simulation = OpenMMSimulation(loaded, include_energies=False, platform="Reference", seed=1)
    simulation.load()
    start = np.asarray(simulation.reset()[keys.PARTICLE_POSITIONS], dtype=np.float64)
    frame = task.frames(start, selection)
    positions = [start]
    for index in range(int(seconds * 30)):
        target = start[selection.grabbed[0]] + (0.5 + speed * index / 30) * frame.z_axis
        if speed:
            simulation.set_interactions({"pull": Interaction(target, selection.grabbed, "spring", scale=1201.1)})
        positions.append(np.asarray(simulation.advance(0.0)[keys.PARTICLE_POSITIONS], dtype=np.float64))
    return task.evaluate(np.array(positions), selection)


def test_a_straight_pull_unfolds_it_and_no_pull_does_not(task: HelixTask, selection: AtomSelection) -> None:
    assert _pull_in_md(task, selection, speed=1.0, seconds=6.5).success  # done at about 5.5 s
    idle = _pull_in_md(task, selection, speed=0.0, seconds=3.0)
    assert not idle.success and idle.max_extension < 1.7

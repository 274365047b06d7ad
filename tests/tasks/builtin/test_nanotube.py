"""The nanotube task: chemical selection, its frame and observation, and success on real sessions."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import openmm.app
import pytest

from costeer.recording.reader import RecordingReader
from costeer.tasks import (
    AtomSelection,
    BuiltSystem,
    Chemistry,
    ChemistryError,
    Outcome,
    build_task_system,
    get_task,
)
from costeer.tasks.builtin.nanotube import NanotubeTask
from costeer.tasks.threading import ThreadingOutcome

RECORDINGS = ["nanotube-methane-01", "nanotube-methane-02", "nanotube-example"]


@pytest.fixture(scope="module")
def built() -> BuiltSystem:
    return build_task_system("nanotube")


@pytest.fixture(scope="module")
def task() -> NanotubeTask:
    task = get_task("nanotube")
    assert isinstance(task, NanotubeTask)
    return task


@pytest.fixture(scope="module")
def selection(task: NanotubeTask, built: BuiltSystem) -> AtomSelection:
    return task.select(Chemistry.from_topology(built.topology))


@pytest.fixture(scope="module", params=RECORDINGS)
def recording(request: pytest.FixtureRequest, shared_data: Path) -> tuple[str, list[dict]]:
    with RecordingReader(shared_data / "recordings" / f"{request.param}.nanover.zip") as reader:
        return request.param, [frame for _, frame in reader.frames()]


def _check_nanotube_selection(selection: AtomSelection, *, methane_carbon: int = 60) -> None:
    assert selection.grabbed.tolist() == [methane_carbon]
    assert selection.groups["methane"][0] == methane_carbon and len(selection.groups["methane"]) == 5
    assert len(selection.groups["tube"]) == 60
    assert selection.observed.tolist() == selection.groups["methane"].tolist()


def test_selection_on_the_built_system(selection: AtomSelection) -> None:
    _check_nanotube_selection(selection)
    assert selection.groups["methane"].tolist() == [60, 61, 62, 63, 64]
    assert selection.groups["tube"].tolist() == list(range(60))


def test_selection_on_nanotube_xml_where_methane_shares_the_tubes_residue_name(
    task: NanotubeTask, nanotube_xml: Path, tmp_path: Path
) -> None:
    cif = tmp_path / "nanotube.cif"
    cif.write_text(ET.parse(nanotube_xml).getroot().findtext("pdbx"))
    topology = openmm.app.PDBxFile(str(cif)).topology
    assert {residue.name for residue in topology.residues()} == {"CNT"}
    _check_nanotube_selection(task.select(Chemistry.from_topology(topology)))


def test_selection_on_recorded_frames(task: NanotubeTask, recording: tuple[str, list[dict]]) -> None:
    _, frames = recording
    _check_nanotube_selection(task.select(Chemistry.from_frame(frames[0])))
    assert set(frames[0]["residue.names"]) == {"CNT"}


def test_selection_follows_the_atoms_not_their_order(task: NanotubeTask, built: BuiltSystem) -> None:
    chemistry = Chemistry.from_topology(built.topology)
    order = np.random.default_rng(3).permutation(chemistry.atom_count)  # new atom k is old atom order[k]
    new_index = np.argsort(order)
    shuffled = Chemistry(chemistry.elements[order], new_index[chemistry.bonds])
    selection = task.select(shuffled)
    assert selection.grabbed.tolist() == [new_index[60]]
    assert sorted(order[selection.groups["methane"]].tolist()) == [60, 61, 62, 63, 64]
    assert sorted(order[selection.groups["tube"]].tolist()) == list(range(60))


def test_selection_refuses_a_system_without_methane(task: NanotubeTask, built: BuiltSystem) -> None:
    chemistry = Chemistry.from_topology(built.topology)
    without = Chemistry(chemistry.elements[:60], chemistry.bonds[chemistry.bonds.max(axis=1) < 60])
    with pytest.raises(ChemistryError, match="exactly one methane"):
        task.select(without)


def test_observation_in_the_task_frame(task: NanotubeTask, built: BuiltSystem, selection: AtomSelection) -> None:
    episode = np.stack([built.positions, built.positions + 0.1])
    frames = task.frames(episode, selection)
    observed = task.observe(episode, frames, selection)
    assert observed.shape == (2, 5, 3)
    np.testing.assert_allclose(observed[0], observed[1], atol=1e-12)  # a drift changes nothing
    assert observed[0, 0, 2] < 0  # methane starts at the near end
    single = task.observe(built.positions, task.frames(built.positions, selection), selection)  # one frame
    np.testing.assert_allclose(single, observed[0], atol=1e-12)
    velocities = np.zeros_like(episode)
    velocities[:, 60] = frames.z_axis  # moving along the tube's axis
    with_velocities = task.observe(episode, frames, selection, velocities=velocities)
    assert with_velocities.shape == (2, 5, 6)
    np.testing.assert_allclose(with_velocities[:, 0, 3:], [[0, 0, 1], [0, 0, 1]], atol=1e-12)
    wider = NanotubeTask(observe_tube=True)
    assert wider.select(Chemistry.from_topology(built.topology)).observed.shape == (65,)


def _methane_episode(built: BuiltSystem, z_path: np.ndarray) -> np.ndarray:
    """Methane carried rigidly along the tube's axis to the given task-frame z values; the tube turns slowly."""
    task = NanotubeTask()
    selection = task.select(Chemistry.from_topology(built.topology))
    start = task.frames(built.positions, selection)
    frames = []
    for step, z in enumerate(z_path):
        positions = built.positions.copy()
        positions[60:] += start.z_axis * z - (positions[60] - start.origin)
        angle = 0.02 * step
        turn = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
        frames.append((positions - start.origin) @ turn.T + start.origin)
    return np.stack(frames)


def test_evaluate_threading_and_backing_out(task: NanotubeTask, built: BuiltSystem, selection: AtomSelection) -> None:
    through = _methane_episode(built, np.linspace(-1.2, 1.2, 50))
    outcome = task.evaluate(through, selection)
    assert isinstance(outcome, ThreadingOutcome) and isinstance(outcome, Outcome) and outcome.success
    assert (outcome.passages[0].entry_end, outcome.passages[0].exit_end) == ("near", "far")
    back = _methane_episode(built, np.concatenate([np.linspace(-1.2, 0.1, 30), np.linspace(0.1, -1.2, 30)]))
    assert not task.evaluate(back, selection).success
    # Stopping at the far end's plane is not leaving the tube; a small step beyond it is.
    at_the_mouth = _methane_episode(built, np.linspace(-1.2, 0.55, 50))
    assert not task.evaluate(at_the_mouth, selection).success
    assert NanotubeTask(exit_margin=0.0).evaluate(at_the_mouth, selection).success
    assert task.evaluate(_methane_episode(built, np.linspace(-1.2, 0.7, 50)), selection).success
    # Starting beyond the other end of the tube flips the frame: the same walk reads near -> far.
    reverse = _methane_episode(built, np.linspace(1.2, -1.2, 50))
    path, _ = task.methane_path(reverse, selection)
    assert path[0, 2] < 0 and path[-1, 2] > 0
    assert task.evaluate(reverse, selection).passages[0].entry_end == "near"


def test_real_sessions_thread_the_methane(task: NanotubeTask, recording: tuple[str, list[dict]]) -> None:
    name, frames = recording
    selection = task.select(Chemistry.from_frame(frames[0]))
    positions = np.stack([frame["particle.positions"] for frame in frames])
    path, hull = task.methane_path(positions, selection)
    # By hand: each session starts beyond the near end, goes in close to the axis, leaves at the far end.
    assert hull.radius == pytest.approx(0.197, abs=0.005) and hull.half_length == pytest.approx(0.52, abs=0.01)
    assert path[0, 2] < -hull.half_length and path[-1, 2] > hull.half_length
    inside = hull.contains(path)
    assert inside.sum() > 50
    assert np.hypot(path[inside, 0], path[inside, 1]).max() < 0.1
    outcome = task.evaluate(positions, selection)
    assert outcome.success, name
    assert [(p.entry_end, p.exit_end) for p in outcome.passages] == [("near", "far")]
    assert outcome.details()["success_index"] == outcome.passages[0].exit_index

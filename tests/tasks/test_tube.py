"""Tube task frames (the sign rule, continuity, handedness) and the tube's hull."""

from __future__ import annotations

import numpy as np
import pytest

from costeer.tasks import BuiltSystem, build_task_system
from costeer.tasks.tube import TubeHull, fit_tube_frames, tube_hull

TUBE = np.arange(60)
METHANE_C = 60


@pytest.fixture(scope="module")
def built() -> BuiltSystem:
    return build_task_system("nanotube")


def _rotation_about(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * cross @ cross


FIRST_END = [0, 1, 4, 5, 8, 9]
LAST_END = [50, 51, 54, 55, 58, 59]
"""The end layers of the built tube (its atoms with two bonds)."""


def _tube_axis(positions: np.ndarray) -> np.ndarray:
    """From the first end layer to the last."""
    direction = positions[LAST_END].mean(axis=0) - positions[FIRST_END].mean(axis=0)
    return direction / np.linalg.norm(direction)


def test_z_runs_from_the_end_nearer_methane_to_the_far_end(built: BuiltSystem) -> None:
    frame = fit_tube_frames(built.positions, tube=TUBE, toward=METHANE_C)
    local = frame.to_task(built.positions)
    # In the built system methane sits nearer the last end layer.
    assert (local[LAST_END, 2] < 0).all() and (local[FIRST_END, 2] > 0).all()
    assert local[METHANE_C, 2] < 0
    np.testing.assert_allclose(local[TUBE].mean(axis=0), 0, atol=1e-12)

    # Move methane past the other end: the axis turns round.
    moved = built.positions.copy()
    centre = built.positions[TUBE].mean(axis=0)
    axis = _tube_axis(built.positions)
    np.testing.assert_allclose(frame.z_axis, -axis, atol=1e-9)
    moved[60:] += 2 * ((centre - built.positions[METHANE_C]) @ axis) * axis
    flipped = fit_tube_frames(moved, tube=TUBE, toward=METHANE_C)
    np.testing.assert_allclose(flipped.z_axis, -frame.z_axis, atol=1e-12)
    assert flipped.to_task(moved)[METHANE_C, 2] < 0


def test_axes_are_right_handed_and_x_points_at_the_first_tube_atom(built: BuiltSystem) -> None:
    frame = fit_tube_frames(built.positions, tube=TUBE, toward=METHANE_C)
    np.testing.assert_allclose(frame.axes @ frame.axes.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(frame.axes) == pytest.approx(1.0)
    first = frame.to_task(built.positions[:1])[0]
    assert first[0] > 0.19 and abs(first[1]) < 1e-12


def test_frames_follow_a_tumbling_tube(built: BuiltSystem) -> None:
    # The whole system turns rigidly by up to 250 degrees and drifts: task coordinates stay put,
    # so the axis keeps its start-of-episode sign however far the tube turns.
    angles = np.linspace(0, np.radians(250), 60)
    spin = np.array([0.3, -1.0, 0.4])
    centre = built.positions.mean(axis=0)
    episode = np.stack(
        [
            (built.positions - centre) @ _rotation_about(spin, angle).T + centre + 0.01 * step
            for step, angle in enumerate(angles)
        ]
    )
    frames = fit_tube_frames(episode, tube=TUBE, toward=METHANE_C)
    assert len(frames) == 60
    local = frames.to_task(episode)
    np.testing.assert_allclose(local, np.broadcast_to(local[0], local.shape), atol=1e-9)
    start = fit_tube_frames(built.positions, tube=TUBE, toward=METHANE_C)
    np.testing.assert_allclose(frames[0].axes, start.axes, atol=1e-12)


def test_hull_of_the_built_tube(built: BuiltSystem) -> None:
    frame = fit_tube_frames(built.positions, tube=TUBE, toward=METHANE_C)
    hull = tube_hull(built.positions, frame, tube=TUBE)
    assert hull.radius == pytest.approx(0.1947, abs=1e-4)
    assert hull.half_length == pytest.approx(0.515, abs=0.005)
    assert hull.contains(np.array([[0, 0, 0], [0.1, 0.1, 0.5], [0, 0, 0.6], [0.25, 0, 0]])).tolist() == [
        True, True, False, False
    ]


def test_hull_contains_is_elementwise() -> None:
    hull = TubeHull(half_length=0.5, radius=0.2)
    points = np.zeros((4, 2, 3))
    points[1, 1, 2] = 0.7
    assert hull.contains(points).shape == (4, 2)
    assert hull.contains(points).sum() == 7


def test_too_few_tube_atoms() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        fit_tube_frames(np.zeros((5, 3)), tube=np.array([0, 1]), toward=4)


def test_a_live_episode_in_pieces_continues_the_first_frame(built: BuiltSystem) -> None:
    # Methane walks along the axis past the far end while the system turns half a circle.
    axis = _tube_axis(built.positions)
    centre = built.positions.mean(axis=0)
    steps = []
    for shift, angle in zip(np.linspace(0, -1.6, 20), np.linspace(0, np.pi, 20)):
        positions = built.positions.copy()
        positions[60:] += shift * axis
        steps.append((positions - centre) @ _rotation_about(np.array([0.0, 0.0, 1.0]), angle).T + centre)
    episode = np.stack(steps)
    whole = fit_tube_frames(episode, tube=TUBE, toward=METHANE_C)
    assert whole.to_task(episode[:, [METHANE_C]])[-1, 0, 2] > 0.5  # it ended beyond the far end
    # A frame at a time, each continuing the one before: the same frames as the whole episode.
    frame = fit_tube_frames(episode[0], tube=TUBE, toward=METHANE_C)
    for step in range(1, 20):
        frame = fit_tube_frames(episode[step], tube=TUBE, toward=METHANE_C, previous=frame)
        np.testing.assert_allclose(frame.axes, whole[step].axes, atol=1e-9)
    piece = fit_tube_frames(episode[10:], tube=TUBE, toward=METHANE_C, previous=whole[9])
    np.testing.assert_allclose(piece.axes, whole.axes[10:], atol=1e-9)
    # Without the previous frame, the last frame alone would be read as a new episode.
    alone = fit_tube_frames(episode[-1], tube=TUBE, toward=METHANE_C)
    np.testing.assert_allclose(alone.z_axis, -whole[-1].z_axis, atol=1e-9)

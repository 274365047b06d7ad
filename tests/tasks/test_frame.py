"""Task frames: lab <-> task for points and vectors, single and batched."""

from __future__ import annotations

import numpy as np
import pytest

from costeer.tasks import TaskFrame


def _rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def test_points_go_to_task_coordinates_and_back() -> None:
    axes = _rotation(1)
    frame = TaskFrame(np.array([1.0, 2.0, 3.0]), axes)
    points = np.random.default_rng(2).normal(size=(7, 3))
    local = frame.to_task(points)
    np.testing.assert_allclose(local, (points - [1.0, 2.0, 3.0]) @ axes.T)
    np.testing.assert_allclose(frame.to_lab(local), points)
    np.testing.assert_allclose(frame.to_task(frame.origin[None] + axes[2])[0], [0, 0, 1], atol=1e-12)


def test_vectors_only_turn() -> None:
    frame = TaskFrame(np.array([5.0, 5.0, 5.0]), _rotation(3))
    vectors = np.random.default_rng(4).normal(size=(4, 3))
    turned = frame.vectors_to_task(vectors)
    np.testing.assert_allclose(np.linalg.norm(turned, axis=1), np.linalg.norm(vectors, axis=1))
    np.testing.assert_allclose(frame.vectors_to_lab(turned), vectors)


def test_batched_frames_apply_per_time_step() -> None:
    origins = np.random.default_rng(5).normal(size=(6, 3))
    axes = np.stack([_rotation(seed) for seed in range(6)])
    frames = TaskFrame(origins, axes)
    points = np.random.default_rng(6).normal(size=(6, 2, 3))
    local = frames.to_task(points)
    assert local.shape == (6, 2, 3) and len(frames) == 6
    for step in range(6):
        np.testing.assert_allclose(local[step], frames[step].to_task(points[step]))


def test_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match="origin"):
        TaskFrame(np.zeros(3), np.eye(2))
    with pytest.raises(TypeError):
        len(TaskFrame(np.zeros(3), np.eye(3)))

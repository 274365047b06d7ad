"""Geometry of a tube-shaped group of atoms: its task frame along an episode, and its hull.

The axis comes from a principal-component fit of the tube's atoms, whose sign is arbitrary;
it is fixed by a rule about the episode's start (z runs from the end nearer a chosen atom
towards the far end) and then kept continuous from frame to frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costeer.tasks.frame import TaskFrame

__all__ = ["TubeHull", "fit_tube_frames", "tube_hull"]


@dataclass(frozen=True)
class TubeHull:
    """The inside of a tube in its task frame: a cylinder of ``radius`` between ``z = ±half_length``.

    Usage: ``hull.contains(path)  # (T,) bool for task-frame points (T, 3)``
    """

    half_length: float
    """Half the distance between the end rings' atom centres along the axis, nm."""
    radius: float
    """Mean distance of the tube's atom centres from the axis, nm."""

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Which task-frame points ``(..., 3)`` lie inside (``|z| <= half_length``, radial < radius)."""
        points = np.asarray(points, dtype=np.float64)
        radial = np.hypot(points[..., 0], points[..., 1])
        return (np.abs(points[..., 2]) <= self.half_length) & (radial < self.radius)

    def grown(self, margin: float) -> "TubeHull":
        """This hull widened by ``margin`` nm at the wall and at each end."""
        return TubeHull(half_length=self.half_length + margin, radius=self.radius + margin)


def fit_tube_frames(
    positions: np.ndarray, *, tube: np.ndarray, toward: int, previous: TaskFrame | None = None
) -> TaskFrame:
    """Task frames of a tube along an episode, one per frame of ``positions``.

    ``positions`` is ``(T, n, 3)`` (or ``(n, 3)`` for a single frame), ``tube`` the tube's atom
    indices and ``toward`` the atom whose place at the first frame picks the sign of z: z runs
    from the tube end nearer that atom towards the far end. Origin: the tube atoms' centroid.
    x: from the axis towards the tube's lowest-index atom; y completes a right-handed frame.
    When an episode arrives in pieces (live), pass the last frame of the previous piece as
    ``previous``: z then continues from it instead of following the start-of-episode rule.
    """
    positions = np.asarray(positions, dtype=np.float64)
    single = positions.ndim == 2
    if single:
        positions = positions[None]
    tube = np.asarray(tube, dtype=np.int64)
    if len(tube) < 3:
        raise ValueError(f"a tube needs at least 3 atoms to define an axis, got {len(tube)}")
    atoms = positions[:, tube, :]
    centre = atoms.mean(axis=1)
    centred = atoms - centre[:, None, :]
    axis = np.linalg.eigh(np.einsum("tki,tkj->tij", centred, centred))[1][..., -1]
    # Keep the axis continuous, then orient it from the near end (at the start) to the far end.
    turns = np.sign(np.einsum("ti,ti->t", axis[1:], axis[:-1]))
    turns[turns == 0] = 1.0
    axis *= np.concatenate([[1.0], np.cumprod(turns)])[:, None]
    if previous is not None:
        if np.asarray(previous.z_axis).reshape(-1, 3)[-1] @ axis[0] < 0:
            axis = -axis
    elif (positions[0, toward] - centre[0]) @ axis[0] > 0:
        axis = -axis
    reference = centred[:, 0, :]
    x_axis = reference - np.einsum("ti,ti->t", reference, axis)[:, None] * axis
    x_axis /= np.linalg.norm(x_axis, axis=1, keepdims=True)
    y_axis = np.cross(axis, x_axis)
    frames = TaskFrame(centre, np.stack([x_axis, y_axis, axis], axis=1))
    return frames[0] if single else frames


def tube_hull(positions: np.ndarray, frames: TaskFrame, *, tube: np.ndarray) -> TubeHull:
    """The tube's hull in its task frame, from the median over the episode's frames."""
    local = frames.to_task(np.asarray(positions, dtype=np.float64)[..., tube, :])
    half_length = np.abs(local[..., 2]).max(axis=-1)
    radius = np.hypot(local[..., 0], local[..., 1]).mean(axis=-1)
    return TubeHull(half_length=float(np.median(half_length)), radius=float(np.median(radius)))

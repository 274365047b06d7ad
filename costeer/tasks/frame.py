"""A task's frame of reference: an origin and right-handed axes, for one frame or a whole episode.

Observations and actions are expressed in it, so that a policy does not depend on where the
molecule drifted or how it turned in the lab.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TaskFrame"]


@dataclass(frozen=True, eq=False)
class TaskFrame:
    """Origin and axes of a task frame; leading dimensions batch frames (e.g. one per time step).

    Usage: ``local = frame.to_task(positions)  # lab nm -> task nm``
    """

    origin: np.ndarray
    """Where the task frame's origin is, in lab coordinates, shape ``(..., 3)``, nm."""
    axes: np.ndarray
    """Rows are the task's x, y and z axes as lab unit vectors, shape ``(..., 3, 3)``."""

    def __post_init__(self) -> None:
        origin = np.asarray(self.origin, dtype=np.float64)
        axes = np.asarray(self.axes, dtype=np.float64)
        if origin.shape[-1:] != (3,) or axes.shape != origin.shape[:-1] + (3, 3):
            raise ValueError(
                f"a task frame needs origin (..., 3) and axes (..., 3, 3), got {origin.shape} and {axes.shape}"
            )
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "axes", axes)

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self.origin.shape[:-1]

    def __len__(self) -> int:
        if not self.batch_shape:
            raise TypeError("a single task frame has no length")
        return self.batch_shape[0]

    def __getitem__(self, index: int | slice | np.ndarray) -> "TaskFrame":
        """The frame(s) at ``index`` of the first batch dimension."""
        return TaskFrame(self.origin[index], self.axes[index])

    @property
    def z_axis(self) -> np.ndarray:
        return self.axes[..., 2, :]

    def to_task(self, points: np.ndarray) -> np.ndarray:
        """Lab points ``(..., k, 3)`` (batch dims matching the frame's) to task coordinates."""
        points = np.asarray(points, dtype=np.float64)
        return self.vectors_to_task(points - self.origin[..., None, :])

    def vectors_to_task(self, vectors: np.ndarray) -> np.ndarray:
        """Lab vectors ``(..., k, 3)`` (velocities, forces, displacements) to task axes."""
        return np.einsum("...ij,...kj->...ki", self.axes, np.asarray(vectors, dtype=np.float64))

    def to_lab(self, points: np.ndarray) -> np.ndarray:
        """Task points ``(..., k, 3)`` back to lab coordinates."""
        return self.vectors_to_lab(points) + self.origin[..., None, :]

    def vectors_to_lab(self, vectors: np.ndarray) -> np.ndarray:
        """Task vectors ``(..., k, 3)`` back to lab axes."""
        return np.einsum("...ji,...kj->...ki", self.axes, np.asarray(vectors, dtype=np.float64))

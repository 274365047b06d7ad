"""What may leave the engine: frames whose numbers are finite and whose atoms are where atoms can be.

The runner checks every frame it is about to publish, as it will be sent (after the cast to
float32, where a large finite float64 becomes ``inf``), so no client and no recording ever
gets a blown-up frame::

    guard = FrameGuard()
    guard.start(full_frame)     # after a reset: the system's initial extent sets the reach
    guard.check(delta_frame)    # raises UnsafeFrameError (a SimulationBlowUpError) if unsafe

Checks, vectorised (one flat min and one flat max per array, no per-atom Python; a
per-axis reduction of an (N, 3) array is 50 times slower at 9k atoms):

- every float array (positions, velocities, forces, user forces, box) and every float
  (energies, temperature, time, work) is finite;
- every coordinate lies within ``reach`` of the initial system's centre (the centre of its
  bounding box; the bound is one interval for all three axes, from the lowest centre
  component minus ``reach`` to the highest plus ``reach``), with
  ``reach = REACH_MARGIN_NM + REACH_PER_SIZE * size`` and ``size`` the largest side of the
  initial bounding box (or of the periodic box, if larger). No interactive session moves
  an atom 100 nm (thirty protein diameters) plus ten system sizes from where the system
  began; a coordinate out there is a blow-up under way (the issue's frames had 1.1e6 nm
  and 2e38 nm), even while it is still finite.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from costeer.core import keys
from costeer.core.frame import FrameDict

__all__ = ["FrameGuard", "SimulationBlowUpError", "UnsafeFrameError", "REACH_MARGIN_NM", "REACH_PER_SIZE"]

REACH_MARGIN_NM = 100.0
"""Fixed part of how far from the initial system's centre an atom may be, nm."""
REACH_PER_SIZE = 10.0
"""Part of that reach proportional to the system's initial size (largest box side)."""


class SimulationBlowUpError(RuntimeError):
    """The simulation produced non-finite or absurd numbers: it blew up.

    ``cause`` is the short what-happened (``non-finite positions``), the message may add advice.
    """

    def __init__(self, message: str, *, cause: str | None = None) -> None:
        super().__init__(message)
        self.cause = message if cause is None else cause


class UnsafeFrameError(SimulationBlowUpError):
    """A frame that must not leave the engine (non-finite values, atoms out of reach)."""


class FrameGuard:
    """Refuses frames with non-finite numbers or atoms beyond a physically possible reach.

    ``guard.start(full_frame)`` after each reset, then ``guard.check(frame)`` before
    publishing; without a started reach only finiteness is checked.
    """

    def __init__(self) -> None:
        self.reach: float | None = None
        """How far from ``centre`` a coordinate may be, nm (``None``: not started)."""
        self.centre: np.ndarray | None = None
        """Centre of the initial system's bounding box, nm."""
        self._low = -math.inf
        self._high = math.inf

    def start(self, frame: FrameDict) -> None:
        """Set the reach from a full frame's positions (and box); keeps the old one if it has none."""
        positions = frame.get(keys.PARTICLE_POSITIONS)
        if positions is None:
            return
        positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        if positions.size == 0 or not np.isfinite(positions).all():
            return
        low, high = positions.min(axis=0), positions.max(axis=0)
        size = float((high - low).max())
        box = frame.get(keys.BOX_VECTORS)
        if box is not None:
            box = np.asarray(box, dtype=np.float64).reshape(-1)
            if box.size and np.isfinite(box).all():
                size = max(size, float(np.abs(box).max()))
        self.centre = (low + high) / 2.0
        self.reach = REACH_MARGIN_NM + REACH_PER_SIZE * size
        self._low = float(self.centre.min()) - self.reach
        self._high = float(self.centre.max()) + self.reach

    def check(self, frame: FrameDict) -> None:
        """Raise ``UnsafeFrameError`` naming the first key that must not be sent."""
        for key, value in frame.items():
            if key == keys.PARTICLE_POSITIONS:
                self._check_positions(value)
            elif isinstance(value, np.ndarray):
                if value.dtype.kind == "f" and value.size and not _finite_extremes(value):
                    raise UnsafeFrameError(f"the frame's {key} holds non-finite values")
            elif isinstance(value, float) and not math.isfinite(value):
                raise UnsafeFrameError(f"the frame's {key} is {value}")

    def _check_positions(self, value: Any) -> None:
        positions = value if isinstance(value, np.ndarray) else np.asarray(value, dtype=np.float64)
        if positions.size == 0:
            return
        low, high = float(positions.min()), float(positions.max())
        if not (math.isfinite(low) and math.isfinite(high)):  # min and max propagate NaN
            raise UnsafeFrameError(f"the frame's {keys.PARTICLE_POSITIONS} hold non-finite coordinates")
        if low < self._low or high > self._high:
            farthest = float(np.abs(positions.reshape(-1, 3) - self.centre).max())
            raise UnsafeFrameError(
                f"a coordinate lies {farthest:.3g} nm from the system's starting centre, beyond "
                f"the {self.reach:.0f} nm any atom can reach in a session"
            )


def _finite_extremes(array: np.ndarray) -> bool:
    """Whether every value is finite: min and max propagate NaN, and catch ±inf."""
    return bool(np.isfinite(array.min()) and np.isfinite(array.max()))

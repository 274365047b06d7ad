"""How a person's hand moves towards where they want it: at a finite speed, and without jerks.

The hand heads for the wanted point fast enough to close the gap in ``MOVE_TIME_S``, never
faster than the person's top speed, and its velocity follows that intention over
``SMOOTH_S`` (a first-order lag), so a change of mind bends the path instead of kinking it.
Exact for any step, so the frame rate does not change the path much.

Usage: ``motion = HandMotion(start, speed=0.5); place = motion.move(wanted, step_s)``
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MOVE_TIME_S", "SMOOTH_S", "HandMotion"]

MOVE_TIME_S = 0.3
"""The hand closes a gap in about this long, up to its top speed."""
SMOOTH_S = 0.15
"""Time for the hand's velocity to follow a new intention (no jerks)."""


class HandMotion:
    """A hand at ``place`` moving with ``velocity``, steered towards a wanted point.

    Usage: ``place = motion.move(wanted, step_s)  # lab or task nm, whichever ``wanted`` is in``
    """

    def __init__(self, start: np.ndarray, *, speed: float) -> None:
        if not speed > 0:
            raise ValueError(f"a hand's top speed must be positive (nm/s), got {speed}")
        self.place = np.array(start, dtype=np.float64)
        """Where the hand is."""
        self.velocity = np.zeros_like(self.place)
        """How it moves, nm/s."""
        self.speed = speed
        """Top speed, nm/s."""

    def move(self, wanted: np.ndarray, step_s: float) -> np.ndarray:
        """Move ``step_s`` seconds towards ``wanted``; returns the new place (a copy)."""
        if step_s > 0:
            heading = (np.asarray(wanted, dtype=np.float64) - self.place) / MOVE_TIME_S
            speed = float(np.linalg.norm(heading))
            if speed > self.speed:
                heading *= self.speed / speed
            self.velocity += (heading - self.velocity) * (1.0 - math.exp(-step_s / SMOOTH_S))
            self.place = self.place + self.velocity * step_s
        return self.place.copy()

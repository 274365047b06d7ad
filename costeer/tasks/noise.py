"""Smooth random wobble for a synthetic hand: an Ornstein-Uhlenbeck process, low-pass filtered.

A hand held out in VR drifts and wobbles slowly; white noise (a new random offset every
update) would look like a jittering controller and would depend on the update rate. This
noise is continuous and smooth, has a set spread and correlation time, and is sampled at
whatever times the caller asks (exact updates for any step), so a faster or slower frame
rate gives the same wobble.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["SmoothNoise"]


class SmoothNoise:
    """A 3-D smooth random signal of about ``spread`` nm per axis, varying over ``correlation_s`` seconds.

    Usage: ``wobble = SmoothNoise(spread=0.04, correlation_s=0.4, rng=rng); offset = wobble.at(t)``
    """

    def __init__(self, *, spread: float, correlation_s: float, rng: np.random.Generator, dims: int = 3) -> None:
        if spread < 0 or correlation_s <= 0:
            raise ValueError(f"spread must be >= 0 and correlation_s > 0, got {spread} and {correlation_s}")
        self.spread = spread
        """Standard deviation of the driving process per axis (the output's is a little smaller), nm."""
        self.correlation_s = correlation_s
        """Correlation time of the driving process; the filter's time constant is half of it."""
        self._rng = rng
        self._drive = rng.normal(0.0, spread, dims)
        self._value = self._drive.copy()
        self._time: float | None = None

    def at(self, time_s: float) -> np.ndarray:
        """The wobble at ``time_s`` (seconds; times must not go back)."""
        if self._time is None:
            self._time = time_s
        step = time_s - self._time
        if step < 0:
            raise ValueError(f"noise sampled back in time ({time_s} s after {self._time} s)")
        if step > 0:
            # Exact Ornstein-Uhlenbeck step for the drive, then a first-order filter following it.
            decay = math.exp(-step / self.correlation_s)
            kick = self.spread * math.sqrt(1.0 - decay * decay)
            self._drive = self._drive * decay + self._rng.normal(0.0, kick, self._drive.shape)
            follow = 1.0 - math.exp(-2.0 * step / self.correlation_s)
            self._value = self._value + (self._drive - self._value) * follow
            self._time = time_s
        return self._value.copy()

"""When a frame gets fresh energies: as often as they cost at most a set share of the time.

    schedule = EnergySchedule(0.03)
    if schedule.due():
        started = time.perf_counter(); ...evaluate...; schedule.evaluated(time.perf_counter() - started)

OpenMM's integrators do not keep the energy of the step they ran: ``getState(getEnergy=True)``
is one more force evaluation, as long as an MD step (villin, 584 atoms: 2.5 ms on CPU;
solvated villin, 8,867 atoms with PME: 85 ms). Evaluated with every frame that is 7% of
villin's time at 30 frames/s and a quarter of solvated villin's. So energies are evaluated
only when their measured cost is at most ``budget`` times the wall time since the last
evaluation: a small system (the nanotube: 0.1 ms) still gets them with every frame, a big
one every few frames, and the frame says when (``energy.simulation.time``).
"""

from __future__ import annotations

import time
from typing import Callable

__all__ = ["EnergySchedule", "ENERGY_BUDGET"]

ENERGY_BUDGET = 0.03
"""Default share of the wall time that energy evaluations may take."""
_SMOOTHING = 0.5
"""Weight of the newest measured cost in the running estimate."""


class EnergySchedule:
    """Says whether the next frame's energies are due, from their measured cost.

    ``budget`` ``None`` evaluates them with every frame whatever they cost.
    """

    def __init__(self, budget: float | None = ENERGY_BUDGET, *, clock: Callable[[], float] = time.perf_counter) -> None:
        if budget is not None and not budget > 0:
            raise ValueError(f"the energy budget must be a positive share of the time (or None), got {budget}")
        self.budget = budget
        self._clock = clock
        self._cost: float | None = None
        self._last = 0.0

    @property
    def cost(self) -> float | None:
        """Running estimate of one evaluation, in seconds; ``None`` before the first."""
        return self._cost

    def due(self) -> bool:
        """Whether to evaluate energies now."""
        if self.budget is None or self._cost is None:
            return True
        return self._cost <= self.budget * (self._clock() - self._last)

    def evaluated(self, seconds: float) -> None:
        """Record an evaluation that just finished and took ``seconds``."""
        self._cost = seconds if self._cost is None else (1 - _SMOOTHING) * self._cost + _SMOOTHING * seconds
        self._last = self._clock()

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
one every few frames, and the frame says when (``energy.simulation.time``). The cost is
the least of the last few evaluations: one that the OS interrupted (a busy shared machine)
overstates it and would otherwise hold the next ones back.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Callable

__all__ = ["EnergySchedule", "ENERGY_BUDGET"]

ENERGY_BUDGET = 0.03
"""Default share of the wall time that energy evaluations may take."""
_RECENT = 5
"""Evaluations whose least cost is the estimate."""


class EnergySchedule:
    """Says whether the next frame's energies are due, from their measured cost.

    ``budget`` ``None`` evaluates them with every frame whatever they cost.
    """

    def __init__(self, budget: float | None = ENERGY_BUDGET, *, clock: Callable[[], float] = time.perf_counter) -> None:
        if budget is not None and not budget > 0:
            raise ValueError(f"the energy budget must be a positive share of the time (or None), got {budget}")
        self.budget = budget
        self._clock = clock
        self._costs: deque[float] = deque(maxlen=_RECENT)
        self._last = 0.0

    @property
    def cost(self) -> float | None:
        """Estimated seconds per evaluation (least of the last few); ``None`` before the first."""
        return min(self._costs) if self._costs else None

    def due(self) -> bool:
        """Whether to evaluate energies now."""
        cost = self.cost
        if self.budget is None or cost is None:
            return True
        return cost <= self.budget * (self._clock() - self._last)

    def evaluated(self, seconds: float) -> None:
        """Record an evaluation that just finished and took ``seconds``."""
        self._costs.append(seconds)
        self._last = self._clock()

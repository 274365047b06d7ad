"""Recent good states of a simulation, kept cheaply for rolling back after a blow-up.

A state is offered after every frame that passed the frame guard; one is kept every
``interval`` seconds of wall time, the newest ``capacity`` of them (by default 4 × 0.25 s:
the last second). ``take`` hands back the newest and forgets it, so a second blow-up right
after a rollback goes one state further back; after a take nothing is kept for
``probation`` seconds, so the descendants of a doomed state are not kept as good ones::

    states = GoodStates()
    states.offer(lambda: (context.getState(getPositions=True, getVelocities=True), time_ps))   # after each good frame
    saved = states.take()    # SavedState or None when none is left
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["GoodStates", "SavedState", "SAVE_INTERVAL_SECONDS", "SAVED_STATES", "PROBATION_SECONDS"]

SAVE_INTERVAL_SECONDS = 0.25
"""Wall time between two kept states."""
SAVED_STATES = 4
"""States kept: with the interval, they cover the last second."""
PROBATION_SECONDS = 0.5
"""After a rollback, how long the run must go on before its states are kept again."""


@dataclass(frozen=True)
class SavedState:
    """One kept state: an opaque snapshot (an OpenMM ``State``), its time, when it was kept."""

    snapshot: Any
    simulation_time: float
    """Simulation time of the state, ps."""
    saved_at: float
    """When it was kept, in the clock's seconds."""


class GoodStates:
    """A small ring of recent good states, newest taken first.

    ``GoodStates(interval=0.25, capacity=4)``; ``offer`` after each good frame, ``take`` on a blow-up.
    """

    def __init__(
        self,
        *,
        interval: float = SAVE_INTERVAL_SECONDS,
        capacity: int = SAVED_STATES,
        probation: float = PROBATION_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.interval = interval
        self.probation = probation
        self._clock = clock
        self._states: deque[SavedState] = deque(maxlen=capacity)
        self._next_save = -float("inf")

    def __len__(self) -> int:
        return len(self._states)

    def now(self) -> float:
        """The clock's time, seconds."""
        return self._clock()

    def offer(self, snapshot: Callable[[], tuple[Any, float]]) -> bool:
        """Keep ``snapshot()`` (snapshot, simulation time) if one is due; whether it was kept."""
        now = self._clock()
        if now < self._next_save:
            return False
        state, simulation_time = snapshot()
        self._states.append(SavedState(state, simulation_time, now))
        self._next_save = now + self.interval
        return True

    def take(self) -> SavedState | None:
        """The newest kept state, forgotten as it is taken; ``None`` when none is left."""
        self._next_save = self._clock() + self.probation
        return self._states.pop() if self._states else None

    def forget_all(self) -> None:
        """Forget every kept state as a take would, probation included: going back to the start."""
        self._states.clear()
        self._next_save = self._clock() + self.probation

    def clear(self) -> None:
        """Forget every state (after a reset or a load); the next offer is kept."""
        self._states.clear()
        self._next_save = -float("inf")

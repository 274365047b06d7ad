"""How a synthetic person's hand moves whatever the task: reaction, perception, speed, wobble, pauses.

Each task's person (``Persona`` for the nanotube, ``PullHabits`` for the one-long-pull tasks)
is a :class:`MotorHabits` with its task's own habits added. The motor habits are drawn from one
set of ranges, fitted to the human sessions (see ``costeer.tasks.hands.persona``); a person's
``sample`` draws ``sample_motion`` first and ``sample_pauses`` last, with its own habits in
between, so that a seed gives the same person it always did.

    motion = MotorHabits.sample_motion(rng)        # reaction_s, perception_s, speed, wobble_nm, wobble_s
    person = Persona(**motion, ..., **MotorHabits.sample_pauses(rng))
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["MotorHabits", "PAUSE_S"]

PAUSE_S = (0.3, 1.2)
"""Shortest and longest pause a person makes, s."""


@dataclass(frozen=True, kw_only=True)
class MotorHabits:
    """A person's hand, in a person's own time: how late, how fast, how unsteady, how often it stops.

    Usage: ``Persona(**MotorHabits.sample_motion(rng), ..., **MotorHabits.sample_pauses(rng))``
    """

    reaction_s: float
    """From the grab to the first deliberate move."""
    perception_s: float
    """How old the atoms' position the hand reacts to is (seeing, deciding, moving)."""
    speed: float
    """Top hand speed, nm/s."""
    wobble_nm: float
    """Spread of the hand's slow wobble per axis, nm."""
    wobble_s: float
    """Correlation time of the wobble."""
    pause_rate: float
    """Pauses per second while approaching or pulling."""
    pause_s: tuple[float, float]
    """Shortest and longest pause."""

    @staticmethod
    def sample_motion(rng: np.random.Generator) -> dict[str, float]:
        """Reaction, perception, speed and wobble, drawn in that order (a person's first draws)."""
        uniform = rng.uniform
        return {
            "reaction_s": uniform(0.3, 0.9),
            "perception_s": uniform(0.1, 0.25),
            "speed": uniform(0.4, 0.65),
            "wobble_nm": uniform(0.02, 0.05),
            "wobble_s": uniform(0.3, 0.8),
        }

    @staticmethod
    def sample_pauses(rng: np.random.Generator) -> dict[str, Any]:
        """How often and how long the person pauses (a person's last draw)."""
        return {"pause_rate": rng.uniform(0.05, 0.2), "pause_s": PAUSE_S}

    def to_dict(self) -> dict[str, Any]:
        """JSON- and msgpack-friendly fields (for the ``costeer.demonstrator`` state entry), in draw order."""
        values = asdict(self)
        values.update(pause_rate=values.pop("pause_rate"), pause_s=list(values.pop("pause_s")))
        return {key: (round(value, 4) if isinstance(value, float) else value) for key, value in values.items()}

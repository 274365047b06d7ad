"""What a synthetic person's hand is to a task: a target each frame, how hard it pulls, when it lets go.

A task that can be demonstrated without people returns a :class:`Hand` from
:meth:`costeer.tasks.Task.demonstrator`. The rollout environment (``costeer.rollout.hand_actor``)
and the live demonstrator move it once per frame on a person's clock (simulated time over the
human pace) and pull the task's grabbed atoms towards its target with a spring of
``scale = hand.strength``.

    hand = task.demonstrator(selection, chemistry, positions, np.random.default_rng(1))
    target = hand(0.0, positions)          # lab nm, (3,)
    scale = human_scale(chemistry, selection)   # what a headset's pull on the grabbed atoms meant
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
from openmm.app import Element
from openmm.unit import dalton

from costeer.tasks.chemistry import Chemistry

if TYPE_CHECKING:  # task.py imports this module for the demonstrator hook's type
    from costeer.tasks.task import AtomSelection

__all__ = ["HUMAN_PACE_PS_PER_S", "HUMAN_SCALE_PER_DALTON", "Hand", "human_scale"]

HUMAN_PACE_PS_PER_S = 0.075
"""Simulated picoseconds per second a person lives in the human sessions (NanoVer's default
pacing, 5 steps of 0.5 fs at 30 frames/s; measured 0.0750 in both recordings): a hand's clock
is simulated time over this pace."""

HUMAN_SCALE_PER_DALTON = 100.0
"""Headsets send ``scale`` 100; the server that recorded the human sessions multiplied a
mass-weighted spring by the grabbed mass as well (their force is 2 x 100 x 12.011 x distance),
so the scale that reproduces the force people felt, with costeer's force law, is 100 per
dalton grabbed."""


@runtime_checkable
class Hand(Protocol):
    """A synthetic person's controller: where it is, given a person's seconds since the grab and the positions.

    Usage: ``target = hand(elapsed_s, positions); hand.finished  # let go``

    The live demonstrator also reports, when a hand has them: ``phase`` and ``attempt`` (shown in
    the shared state as they change), ``outcome`` (what the person believes happened),
    ``persona`` (with ``to_dict()``) and ``events`` (phase changes).
    """

    strength: float
    """The spring's ``scale`` in costeer's force law (``F = -2 scale d`` on the grabbed atoms' centre,
    no mass multiplier), kJ/(mol nm^2)."""

    @property
    def finished(self) -> bool:
        """The person has let go (done, or given up)."""
        ...

    def __call__(self, elapsed_s: float, positions: np.ndarray) -> np.ndarray:
        """The controller's position, lab frame nm ``(3,)``; ``positions`` ``(n, 3)`` nm; times never go back."""
        ...


def human_scale(chemistry: Chemistry, selection: "AtomSelection") -> float:
    """The spring ``scale`` that gives the grabbed atoms the force people felt (``HUMAN_SCALE_PER_DALTON``).

    Usage: ``human_scale(chemistry, selection)  # 1201.1 for methane's carbon``
    """
    numbers = chemistry.elements[selection.grabbed]
    mass = sum(Element.getByAtomicNumber(int(number)).mass.value_in_unit(dalton) for number in numbers)
    return HUMAN_SCALE_PER_DALTON * float(mass)

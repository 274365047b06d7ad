"""Synthetic people's hands for the built-in tasks, one module per task (the task's ``demonstrator`` hook returns one).

A hand is a :class:`costeer.tasks.hand.Hand`. It lives here, beside the task files and not in
:mod:`costeer.tasks.builtin`, because that folder holds one task per module (each imported and
registered on first look-up) and a hand is the longer, separate job of acting like a person.
A task file of a lab's own may define its hand in the same file instead.

    hand = ThreadingHand(task, selection, positions, rng=np.random.default_rng(1))
"""

from __future__ import annotations

from costeer.tasks.hands.habits import MotorHabits
from costeer.tasks.hands.nanotube import HandEvent, Phase, ThreadingHand
from costeer.tasks.hands.persona import Persona

__all__ = ["HandEvent", "MotorHabits", "Persona", "Phase", "ThreadingHand"]

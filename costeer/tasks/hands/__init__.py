"""Synthetic people's hands for the built-in tasks (the task's ``demonstrator`` hook returns one).

A hand is a :class:`costeer.tasks.hand.Hand`. It lives here, beside the task files and not in
:mod:`costeer.tasks.builtin`, because that folder holds one task per module (each imported and
registered on first look-up) and a hand is the longer, separate job of acting like a person.
A task file of a lab's own may define its hand in the same file instead, or reuse one of these:
``nanotube`` threads methane through the tube; ``pulling`` pulls the grabbed atoms away from an
anchor until they are far enough (the ``helix`` task's person); ``motion`` is how a hand moves.

    hand = ThreadingHand(task, selection, positions, rng=np.random.default_rng(1))
"""

from __future__ import annotations

from costeer.tasks.hands.nanotube import HandEvent, Phase, ThreadingHand
from costeer.tasks.hands.persona import Persona
from costeer.tasks.hands.pulling import PullHabits, PullingHand

__all__ = ["HandEvent", "Persona", "Phase", "PullHabits", "PullingHand", "ThreadingHand"]

"""Who acts in a rollout: the ``Actor`` protocol, and a synthetic person's hand adapted to it.

An actor is called once per frame with a person's seconds since the reset and the positions,
and answers with the interaction to apply until the next frame (``None``: let go). A policy,
a scripted pull or a synthetic person (:func:`hand_actor`) all fit.

    actor = hand_actor(task.demonstrator(env.selection, env.chemistry, env.initial_positions, rng), env.selection)
    interaction = actor.act(0.0, env.initial_positions)
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import numpy as np

from costeer.core.interaction import Interaction
from costeer.tasks import AtomSelection, Hand

__all__ = ["Actor", "HandActor", "SYNTHETIC_OWNER", "hand_actor"]

SYNTHETIC_OWNER = "costeer-demonstrator"
"""``owner.id`` of a synthetic person's interaction (``label: synthetic`` says what it is)."""


@runtime_checkable
class Actor(Protocol):
    """Chooses the interaction for the next frame; ``finished`` ends the rollout's acting part."""

    @property
    def finished(self) -> bool:
        """Done acting (a person let go; a policy may never finish)."""
        ...

    def act(self, time_s: float, positions: np.ndarray) -> Interaction | None:
        """The interaction from now to the next frame; ``positions`` ``(n, 3)`` nm, ``time_s`` a person's seconds."""
        ...


class HandActor:
    """A :class:`~costeer.tasks.Hand` pulling the grabbed atoms with a spring of ``scale = hand.strength``.

    Usage: ``actor = HandActor(hand, selection); actor.act(0.0, positions).scale == hand.strength``
    """

    def __init__(self, hand: Hand, selection: AtomSelection, *, owner: str = SYNTHETIC_OWNER) -> None:
        self.hand = hand
        self.selection = selection
        self.properties = {"owner.id": owner, "label": "synthetic"}
        """Carried by every interaction, so recordings tag the pull as a synthetic person's."""

    @property
    def finished(self) -> bool:
        return bool(self.hand.finished)

    def act(self, time_s: float, positions: np.ndarray) -> Interaction:
        target = np.asarray(self.hand(time_s, positions), dtype=np.float64)
        return Interaction(
            position=target,
            particles=self.selection.grabbed,
            interaction_type="spring",
            scale=float(self.hand.strength),
            mass_weighted=True,
            max_force=math.inf,  # as a headset sends it; the environment's server-wide cap applies
            properties=dict(self.properties),
        )


def hand_actor(hand: Hand, selection: AtomSelection, *, owner: str = SYNTHETIC_OWNER) -> HandActor:
    """Adapt a synthetic person's hand to an :class:`Actor` (see :class:`HandActor`)."""
    return HandActor(hand, selection, owner=owner)

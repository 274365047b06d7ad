"""A trained policy's pull for the next frame: observe, act, decode (shared by ``PolicyActor`` and the co-pilot).

    proposer = PolicyProposer(runner, task, selection, masses=masses, properties={"label": "policy"})
    proposal = proposer.propose(positions)     # Proposal(interaction | None, action, confidence)

Confidence is the policy's own on/off output (the ``on`` component of its action, trained
towards 1 on steps where the person pulled and 0 where nobody did), clipped to ``[0, 1]``: how
sure it is that a pull belongs here now. A proposal is a pull when ``on >= 0.5``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from costeer.core.interaction import Interaction
from costeer.tasks.encoding import ACTION_NAMES, StepEncoder
from costeer.tasks.task import AtomSelection, Task

__all__ = ["PolicyProposer", "Proposal"]

_ON = ACTION_NAMES.index("on")


@dataclass(frozen=True, eq=False)
class Proposal:
    """What the policy would do from this frame on."""

    interaction: Interaction | None
    """The pull, or ``None`` when the policy would let go."""
    action: np.ndarray
    """``(6,)`` the policy's raw action (:data:`~costeer.tasks.encoding.ACTION_NAMES`)."""
    confidence: float
    """The policy's ``on`` output clipped to ``[0, 1]``."""


class PolicyProposer:
    """One episode of a policy's proposals: its task frame and its history continue from frame to frame.

    Usage: ``proposer.reset(); proposal = proposer.propose(positions)  # once per frame``

    ``runner`` is a :class:`~costeer.agent.runner.PolicyRunner`; ``max_force`` caps each pull,
    ``properties`` (``owner.id``, ``label``) tag it.
    """

    def __init__(self, runner: Any, task: Task, selection: AtomSelection, *, masses: np.ndarray,
                 max_force: float = math.inf, properties: Mapping[str, Any] | None = None) -> None:
        self.runner = runner
        self.encoder = StepEncoder(task, selection, masses=masses)
        self.max_force = float(max_force)
        self.properties = dict(properties or {})

    def reset(self, seed: int | None = None) -> None:
        """A new episode: forget the task frame and the policy's history (``seed``: reseed a sampling policy)."""
        self.encoder.reset()
        self.runner.reset(seed)

    def propose(self, positions: np.ndarray) -> Proposal:
        """The policy's pull given ``positions`` ``(n, 3)`` nm; raises ``ValueError`` on non-finite positions."""
        positions = np.asarray(positions, dtype=np.float64)
        if not np.isfinite(positions).all():
            raise ValueError("positions have NaN or infinite values: the policy cannot act on this frame")
        action = np.asarray(self.runner.act(self.encoder.observe(positions)), dtype=np.float64)
        interaction = self.encoder.decode_action(action, positions, max_force=self.max_force,
                                                 properties=self.properties)
        confidence = float(np.clip(action[_ON], 0.0, 1.0)) if math.isfinite(action[_ON]) else 0.0
        return Proposal(interaction, action, confidence)

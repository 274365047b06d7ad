"""The one rule of what the co-pilot applies when a person may be pulling the same atoms.

Used by :class:`~costeer.agent.copilot.Copilot` on every frame and by the headless
co-steering evaluation (``costeer.agent.evaluation.costeering``), so both follow one rule.
The server's interaction gate enforces the same from its side: an agent's pull on atoms a
person holds is left out of the simulation unless it carries ``"blend"``, and a blended one
has its scale capped at ``blend / (1 - blend)`` times the person's.

    person = person_pulling(interactions, selection.grabbed)
    applied = arbitrate("assist", proposal, person, blend=0.5)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from costeer.core import keys
from costeer.core.interaction import Interaction
from costeer.tasks.encoding import acting_interaction

__all__ = ["arbitrate", "blend_cap", "is_person", "person_pulling"]


def is_person(interaction: Interaction) -> bool:
    """A person's pull (a headset's, or a synthetic person's): its ``label`` is not an agent's."""
    return interaction.properties.get("label") not in keys.AGENT_LABELS


def person_pulling(interactions: Mapping[str, Interaction], grabbed: np.ndarray) -> Interaction | None:
    """The person's interaction on any of the ``grabbed`` atoms (first by key), or ``None``."""
    return acting_interaction({key: value for key, value in interactions.items() if is_person(value)}, grabbed)


def blend_cap(blend: float, person: Interaction) -> float:
    """Largest scale an agent's pull may have beside ``person``: ``blend / (1 - blend)`` times the person's.

    Two springs on the same atoms pull them towards the scale-weighted mean of their targets,
    so the agent's weight ``s_a / (s_a + s_p)`` stays at most ``blend``.
    """
    return blend / (1.0 - blend) * abs(person.scale)


def arbitrate(mode: str, proposal: Interaction | None, person: Interaction | None, *,
              blend: float | None) -> Interaction | None:
    """What the co-pilot puts in the shared state, given its ``proposal`` and the ``person`` on the task's atoms.

    - ``off``, ``suggest``: nothing (a suggestion is not an interaction).
    - ``apply``: the proposal, as a user would (the gate leaves it out while a person holds the same atoms).
    - ``assist``: the proposal while no person pulls; with a person, nothing, or with ``blend``
      the proposal tagged ``"blend": blend`` and its scale capped at :func:`blend_cap`.
    """
    if proposal is None or mode not in ("apply", "assist"):
        return None
    if mode == "apply" or person is None:
        return proposal
    if blend is None:
        return None
    cap = blend_cap(blend, person)
    scale = math.copysign(min(abs(proposal.scale), cap), proposal.scale)
    return dataclasses.replace(proposal, scale=scale, properties={**proposal.properties, "blend": blend})

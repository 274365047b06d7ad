"""Who the synthetic demonstrator is, episode by episode: reaction, speed, wobble, care and patience.

A :class:`Persona` holds one person's habits in a person's own time (seconds as they live
them in the headset, nanometres in the task frame). A new one is drawn for each episode, so a
set of demonstrations varies the way a group of people (or one person over a session) does.

Calibration (``costeer.demonstrator.calibration`` on the two human sessions in
``../shared/data/recordings``): hand speed over 0.25 s windows has a median of 0.28-0.36 nm/s
and a 90th percentile of 0.49-0.75 nm/s; the user's force on methane has a median of
930-1370 kJ/(mol nm) and a 90th percentile of 1960-2200; people lead the methane by
0.3-0.9 nm, line it up before the near end and push it through in 0.3-1 ps.

The hand's habits (reaction, perception, speed, wobble, pauses) are ``MotorHabits``, shared
with the pulling person of the other tasks (``costeer.tasks.hands.habits``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costeer.tasks.hands.habits import MotorHabits

__all__ = ["Persona"]


@dataclass(frozen=True, kw_only=True)
class Persona(MotorHabits):
    """One synthetic person's habits for an episode (its hand's, then the nanotube's); draw them with :meth:`sample`.

    Usage: ``persona = Persona.sample(np.random.default_rng(7))``
    """

    stage_gap: float
    """How far before the near end (nm, along the axis) methane is lined up."""
    align_tolerance: float
    """How far off the (believed) axis methane may be when the push starts, nm."""
    settle_s: float
    """How long methane must sit lined up before the push."""
    correction: float
    """Sideways over-correction: the hand goes this many times methane's error past the aim."""
    damping_s: float
    """How much the hand leans against methane's drift (nm of lean per nm/s of drift)."""
    push_lead: float
    """How far ahead of methane the hand starts pushing, nm."""
    max_lead: float
    """How far ahead it goes when methane is stuck, nm."""
    patience_s: float
    """How long methane may make no headway before the person backs out."""
    sloppiness: float
    """Chance that an attempt is aimed off the axis (misjudged depth): it hits the rim."""
    persistence: float
    """Chance of trying again after a failed attempt."""
    max_attempts: int
    """Attempts before giving up."""
    budget_s: float
    """Time after which the person gives up."""

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "Persona":
        """A plausible person, drawn from ranges fitted to the human sessions (module docstring)."""
        motion = cls.sample_motion(rng)
        uniform = rng.uniform
        own = {
            "stage_gap": uniform(0.3, 0.55),
            "align_tolerance": uniform(0.06, 0.12),
            "settle_s": uniform(0.2, 0.7),
            "correction": uniform(0.0, 0.3),
            "damping_s": uniform(0.7, 1.1),
            "push_lead": uniform(0.35, 0.55),
            "max_lead": uniform(0.8, 1.0),
            "patience_s": uniform(2.0, 3.5),
            "sloppiness": uniform(0.4, 0.6),
            "persistence": uniform(0.6, 0.9),
            "max_attempts": int(rng.integers(2, 4)),
            "budget_s": uniform(30.0, 38.0),
        }
        return cls(**motion, **own, **cls.sample_pauses(rng))

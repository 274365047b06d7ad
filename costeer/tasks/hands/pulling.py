"""A synthetic person who pulls the grabbed atoms away from an anchor until they are far enough, holds, lets go.

The demonstrator of tasks that are one long pull (unfold a helix tethered at one end, drag a
ligand out of its pocket). Like a person in the headset it starts after a reaction time, sees
the atoms a little late, moves the controller at a finite speed without jerks, wobbles, keeps
the hand ahead of the atoms (further ahead when they make no headway), aims a few degrees off
the line from the anchor, pauses now and then, and gives up when its time is spent. Once it
sees the atoms ``goal_nm`` from the anchor it holds still for a moment, then lets go.

    hand = PullingHand(grabbed=sel.grabbed, anchor=sel.groups["anchor"], positions=start,
                       goal_nm=3.0, strength=1201.1, rng=np.random.default_rng(1))
    target = hand(elapsed_s, positions)  # lab nm, (3,); hand.finished -> let go
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np

from costeer.tasks.hands.habits import MotorHabits
from costeer.tasks.hands.motion import HandMotion
from costeer.tasks.noise import SmoothNoise

__all__ = ["PullHabits", "PullPhase", "PullingHand"]

PullPhase = Literal["react", "pull", "pause", "hold", "done", "gave_up"]

LEAD_GROWTH = 0.25
"""How fast the lead grows while the atoms make too little headway, nm per second."""
HEADWAY_NM = 0.1
"""Getting this much further from the anchor than ever before counts as headway..."""
STALL_S = 0.5
"""...within this long; slower than that, the person pulls harder (and keeps to it)."""
RECOIL_NM = 0.2
"""While holding, falling back this far short of the goal sets the person pulling again."""


@dataclass(frozen=True, kw_only=True)
class PullHabits(MotorHabits):
    """One synthetic person's habits for an episode (its hand's, then the pull's); draw them with :meth:`sample`.

    Usage: ``habits = PullHabits.sample(np.random.default_rng(7))``
    """

    aim_error_deg: float
    """Angle between the person's pull and the line from the anchor through the grabbed atoms."""
    lead: float
    """How far ahead of the atoms the hand pulls at first, nm."""
    max_lead: float
    """How far ahead it goes when they are stuck, nm."""
    hold_s: float
    """How long the person holds the atoms at the goal before letting go."""
    budget_s: float
    """Time after which the person gives up."""

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "PullHabits":
        """A plausible person: the same hand as the nanotube demonstrator's ``Persona``, its own pull."""
        motion = cls.sample_motion(rng)
        uniform = rng.uniform
        own = {
            "aim_error_deg": uniform(0.0, 25.0),
            "lead": uniform(0.35, 0.55),
            "max_lead": uniform(0.8, 1.0),
            "hold_s": uniform(0.5, 1.0),
            "budget_s": uniform(20.0, 30.0),
        }
        return cls(**motion, **own, **cls.sample_pauses(rng))


class PullingHand:
    """Where a person's controller is while pulling, given the time since the grab and the positions.

    Usage: ``target = hand(elapsed_s, positions)  # lab nm, (3,)``
    """

    def __init__(
        self,
        *,
        grabbed: np.ndarray,
        anchor: np.ndarray,
        positions: np.ndarray,
        goal_nm: float,
        strength: float,
        rng: np.random.Generator,
        habits: PullHabits | None = None,
    ) -> None:
        if goal_nm <= 0 or strength <= 0:
            raise ValueError(f"goal_nm and strength must be positive, got {goal_nm} and {strength}")
        self.grabbed = np.asarray(grabbed, dtype=np.int64)
        self.anchor = np.asarray(anchor, dtype=np.int64)
        self.goal_nm = goal_nm
        """Distance from the anchor at which the person is satisfied, nm."""
        self.strength = strength
        """The spring scale the person pulls with (F = 2 * strength * distance on the grabbed centre)."""
        self.habits = habits if habits is not None else PullHabits.sample(rng)
        choices, wobble = rng.spawn(2)
        self._pauses = choices
        self._wobble = SmoothNoise(spread=self.habits.wobble_nm, correlation_s=self.habits.wobble_s, rng=wobble)
        self.direction = _aimed(self._away(np.asarray(positions, dtype=np.float64)), self.habits.aim_error_deg, choices)
        """The lab unit vector the person pulls along."""
        self.phase: PullPhase = "react"
        self._since = 0.0
        self._pause_until = 0.0
        self._seen: deque[tuple[float, np.ndarray]] = deque()
        self._motion: HandMotion | None = None
        self._time: float | None = None
        self._lead = self.habits.lead
        self._best = -math.inf
        self._headway_at = 0.0

    @property
    def finished(self) -> bool:
        """The person has let go: satisfied, or given up."""
        return self.phase in ("done", "gave_up")

    def __call__(self, elapsed_s: float, positions: np.ndarray) -> np.ndarray:
        positions = np.asarray(positions, dtype=np.float64)
        centre = positions[self.grabbed].mean(axis=0)
        step = 0.0 if self._time is None else max(0.0, elapsed_s - self._time)
        self._time = elapsed_s
        if self._motion is None:
            self._motion = HandMotion(centre, speed=self.habits.speed)
        seen = self._perceive(elapsed_s, np.concatenate([centre, positions[self.anchor].mean(axis=0)]))
        wanted = self._decide(elapsed_s, step, seen[:3], float(np.linalg.norm(seen[:3] - seen[3:])))
        return self._motion.move(self._motion.place if wanted is None else wanted, step) + self._wobble.at(elapsed_s)

    def _away(self, positions: np.ndarray) -> np.ndarray:
        away = positions[self.grabbed].mean(axis=0) - positions[self.anchor].mean(axis=0)
        length = float(np.linalg.norm(away))
        if length == 0:
            raise ValueError("the grabbed atoms sit on the anchor: there is no direction to pull away in")
        return away / length

    def _perceive(self, now: float, sight: np.ndarray) -> np.ndarray:
        """What the person sees ``perception_s`` late (interpolated between calls): grabbed centre, anchor."""
        self._seen.append((now, sight))
        seen_at = now - self.habits.perception_s
        while len(self._seen) > 2 and self._seen[1][0] <= seen_at:
            self._seen.popleft()
        times = np.array([time for time, _ in self._seen])
        sights = np.array([value for _, value in self._seen])
        return np.array([np.interp(seen_at, times, sights[:, axis]) for axis in range(sights.shape[1])])

    def _enter(self, phase: PullPhase, now: float) -> None:
        self.phase, self._since = phase, now

    def _decide(self, now: float, step: float, seen: np.ndarray, distance: float) -> np.ndarray | None:
        """Where the person wants the hand; ``None``: where it is (stopping)."""
        habits = self.habits
        if not self.finished and now > habits.budget_s:
            self._enter("gave_up", now)
        if self.phase == "react" and now - self._since >= habits.reaction_s:
            self._headway_at = now
            self._enter("pull", now)
        elif self.phase == "pause" and now >= self._pause_until:
            self._enter("pull", now)
        elif self.phase == "pull" and distance >= self.goal_nm:
            self._enter("hold", now)
        elif self.phase == "pull" and self._pauses.random() < 1.0 - math.exp(-habits.pause_rate * step):
            self._pause_until = now + self._pauses.uniform(*habits.pause_s)
            self._enter("pause", now)
        elif self.phase == "hold" and distance < self.goal_nm - RECOIL_NM:
            self._enter("pull", now)
        elif self.phase == "hold" and now - self._since >= habits.hold_s:
            self._enter("done", now)
        if self.phase != "pull":
            return None
        if distance > self._best + HEADWAY_NM:
            self._best, self._headway_at = distance, now
        elif now - self._headway_at > STALL_S:
            self._lead = min(habits.max_lead, self._lead + LEAD_GROWTH * step)
        return seen + self._lead * self.direction


def _aimed(direction: np.ndarray, error_deg: float, rng: np.random.Generator) -> np.ndarray:
    """``direction`` turned by ``error_deg`` towards a random perpendicular."""
    sideways = np.cross(direction, rng.normal(size=3))
    sideways /= np.linalg.norm(sideways)
    angle = math.radians(error_deg)
    return math.cos(angle) * direction + math.sin(angle) * sideways

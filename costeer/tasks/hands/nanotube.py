"""The nanotube task's synthetic person: a hand that threads methane through the tube, attempt by attempt.

It does what people do in the recorded sessions: grab, wait a moment, lead methane round to
a point on the tube's axis before the near end, steady it there (leaning against its drift
and over-correcting sideways, because the spring leaves methane swinging slowly), then push
along the axis with the hand well ahead of it, pushing harder while it makes no headway.
It errs as people do: some attempts are aimed off the axis and run into the rim or slide
along the outside; then it backs out and tries again, or gives up. It sees methane a little
late, wobbles smoothly and pauses now and then.

It is a :class:`costeer.tasks.hand.Hand` (``elapsed`` in a person's seconds); the nanotube
task's ``demonstrator`` hook returns one::

    hand = get_task("nanotube").demonstrator(selection, chemistry, positions, np.random.default_rng(1))
    target = hand(0.0, positions)     # lab nm; pull selection.grabbed with a spring of scale hand.strength

``hand.finished`` turns true when the person lets go (threaded, or given up).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from openmm.app import Element
from openmm.unit import dalton

from costeer.tasks.hand import HUMAN_SCALE_PER_DALTON
from costeer.tasks.hands.motion import HandMotion
from costeer.tasks.hands.persona import Persona
from costeer.tasks.noise import SmoothNoise
from costeer.tasks.task import AtomSelection

if TYPE_CHECKING:  # the task's module imports this one for its demonstrator hook
    from costeer.tasks.builtin.nanotube import NanotubeTask

__all__ = ["HandEvent", "Phase", "ThreadingHand"]

Phase = Literal["react", "approach", "align", "push", "back_out", "pause", "release", "done", "gave_up"]

METHANE_CARBON_SCALE = HUMAN_SCALE_PER_DALTON * Element.getBySymbol("C").mass.value_in_unit(dalton)
"""The human pull on methane's carbon (the nanotube task's one grabbed atom), 1201.1."""

BESIDE_CLEARANCE = 0.5
"""Distance from the axis kept while bringing methane round from beside the tube, nm."""
LEAD_GROWTH = 0.25
"""How fast the push grows (up to ``max_lead``), nm of lead per second of pushing."""
EXIT_CLEARANCE = 0.3
"""How far past the far end methane must be before the person lets go, nm."""
RELEASE_HOLD_S = 0.3
LINE_UP_LIMIT_S = 4.0
"""Longest a person fiddles at the entrance before pushing anyway."""
DRIFT_WINDOW_S = 0.3
CAREFUL_AIM_NM = 0.02
SLOPPY_AIM_NM = (0.22, 0.35)


@dataclass(frozen=True)
class HandEvent:
    """A change of phase: when (person's seconds since the grab), into what, in which attempt."""

    time_s: float
    phase: Phase
    attempt: int
    reason: str = ""


class ThreadingHand:
    """Where a synthetic person's controller is, given the time since the grab and the positions.

    Usage: ``target = hand(elapsed_s, positions)  # lab nm, (3,); hand.finished -> let go``
    """

    def __init__(
        self,
        task: "NanotubeTask",
        selection: AtomSelection,
        positions: np.ndarray,
        *,
        rng: np.random.Generator,
        persona: Persona | None = None,
        strength: float = METHANE_CARBON_SCALE,
    ) -> None:
        positions = np.asarray(positions, dtype=np.float64)
        self.task = task
        self.strength = strength
        """The spring's ``scale`` (``costeer.tasks.hand.human_scale`` of the grabbed atoms)."""
        self.selection = selection
        self.persona = persona if persona is not None else Persona.sample(rng)
        # Separate streams: how often the hand is called (the frame rate) must not change
        # the person's choices, only the sampling of their pauses and wobble.
        self._choices, self._pauses, wobble = rng.spawn(3)
        self.hull = task.methane_path(positions[None], selection)[1]
        """The tube's hull (half-length, radius) in the task frame."""
        self.phase: Phase = "react"
        self.attempt = 1
        """Attempts so far, counting the current one."""
        self.events: list[HandEvent] = [HandEvent(0.0, "react", 1)]
        self._carbon = int(selection.groups["methane"][0])
        self._frame = task.frames(positions, selection)
        self._wobble = SmoothNoise(spread=self.persona.wobble_nm, correlation_s=self.persona.wobble_s, rng=wobble)
        self._seen: deque[tuple[float, np.ndarray]] = deque()
        self._motion: HandMotion | None = None
        """The hand in the task frame (before its wobble); placed on methane at the first call."""
        self._time: float | None = None
        self._since = 0.0
        self._aim = np.zeros(2)
        self._settled_since: float | None = None
        self._best_z = -math.inf
        self._progress_at = 0.0
        self._paused: tuple[Phase, float] = ("approach", 0.0)
        """The phase a pause interrupted and how long that phase had lasted."""
        self._pause_until = 0.0

    @property
    def finished(self) -> bool:
        """The person has let go: threaded it, or given up."""
        return self.phase in ("done", "gave_up")

    @property
    def outcome(self) -> Literal["threaded", "gave_up"] | None:
        """What the person believes happened, once finished."""
        return {"done": "threaded", "gave_up": "gave_up"}.get(self.phase)  # type: ignore[return-value]

    @property
    def retries(self) -> int:
        """Attempts after the first."""
        return self.attempt - 1

    def __call__(self, elapsed: float, positions: np.ndarray) -> np.ndarray:
        positions = np.asarray(positions, dtype=np.float64)
        self._frame = self.task.frames(positions, self.selection, previous=self._frame)
        methane = self._frame.to_task(positions[self._carbon][None])[0]
        step = 0.0 if self._time is None else max(0.0, elapsed - self._time)
        self._time = elapsed
        if self._motion is None:
            self._motion = HandMotion(methane, speed=self.persona.speed)
        seen, drift = self._perceive(elapsed, methane)
        place = self._motion.move(self._decide(elapsed, step, seen, drift), step)
        return self._frame.to_lab((place + self._wobble.at(elapsed))[None])[0]

    @property
    def _hand(self) -> np.ndarray:
        """Where the hand is now (task frame): what the decisions return to hold it still."""
        return self._motion.place

    # -- perception ------------------------------------------------------------------------------

    def _perceive(self, now: float, methane: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Methane as the person sees it (``perception_s`` late) and its drift, nm/s.

        Between frames the person's picture is interpolated, so the delay is the same whatever
        the frame spacing (a server running faster than a person's pace sends sparser frames).
        """
        self._seen.append((now, methane))
        horizon = now - self.persona.perception_s - DRIFT_WINDOW_S
        while len(self._seen) > 2 and self._seen[1][0] <= horizon:
            self._seen.popleft()
        times = np.array([time for time, _ in self._seen])
        places = np.array([place for _, place in self._seen])
        seen_at = now - self.persona.perception_s
        seen, before = (
            np.array([np.interp(when, times, places[:, axis]) for axis in range(3)])
            for when in (seen_at, seen_at - DRIFT_WINDOW_S)
        )
        span = min(DRIFT_WINDOW_S, max(seen_at - times[0], 0.0))
        return seen, ((seen - before) / span if span > 0 else np.zeros(3))

    # -- decisions ------------------------------------------------------------------------------

    def _enter(self, phase: Phase, now: float, reason: str = "") -> None:
        self.phase = phase
        self._since = now
        self.events.append(HandEvent(now, phase, self.attempt, reason))

    def _decide(self, now: float, step: float, methane: np.ndarray, drift: np.ndarray) -> np.ndarray:
        persona, phase = self.persona, self.phase
        if phase not in ("release", "done", "gave_up") and now > persona.budget_s:
            self._enter("gave_up", now, "out of time")
        elif phase in ("approach", "align") and self._pauses.random() < 1.0 - math.exp(-persona.pause_rate * step):
            self._paused = (phase, now - self._since)
            self._pause_until = now + self._pauses.uniform(*persona.pause_s)
            self._settled_since = None  # lining up starts afresh after the pause
            self._enter("pause", now)
        phase = self.phase
        if phase == "react":
            if now - self._since >= persona.reaction_s:
                self._start_attempt(now)
            return self._hand
        if phase == "pause":
            if now >= self._pause_until:  # carry on where it was: the pause does not count
                phase, lasted = self._paused
                self._enter(phase, now)
                self._since = now - lasted
            return self._hand
        if phase == "approach":
            return self._approach(now, methane, drift)
        if phase == "align":
            return self._align(now, methane, drift)
        if phase == "push":
            return self._push(now, methane, drift)
        if phase == "back_out":
            return self._back_out(now, methane)
        if phase == "release" and now - self._since >= RELEASE_HOLD_S:
            self._enter("done", now)
        return self._hand

    @property
    def _stage(self) -> np.ndarray:
        return np.array([*self._aim, -(self.hull.half_length + self.persona.stage_gap)])

    def _start_attempt(self, now: float) -> None:
        sloppy = self._choices.random() < self.persona.sloppiness
        if sloppy:
            radius, angle = self._choices.uniform(*SLOPPY_AIM_NM), self._choices.uniform(0.0, 2 * math.pi)
            self._aim = radius * np.array([math.cos(angle), math.sin(angle)])
        else:
            self._aim = self._choices.normal(0.0, CAREFUL_AIM_NM, 2)
        self._enter("approach", now, "aim off the axis" if sloppy else "")

    def _approach(self, now: float, methane: np.ndarray, drift: np.ndarray) -> np.ndarray:
        stage, hull = self._stage, self.hull
        radial = float(np.hypot(*methane[:2]))
        if methane[2] > -(hull.half_length + 0.15) and radial > hull.radius + 0.05:
            # Beside the tube: bring it round the outside, behind the near end.
            outward = methane[:2] / radial * max(radial, BESIDE_CLEARANCE)
            return np.array([*outward, stage[2]])
        if np.linalg.norm(methane - stage) < 0.2:
            self._settled_since = None
            self._enter("align", now)
        return stage - self.persona.damping_s * drift

    def _align(self, now: float, methane: np.ndarray, drift: np.ndarray) -> np.ndarray:
        persona, stage = self.persona, self._stage
        lined_up = (
            np.linalg.norm(methane[:2] - self._aim) < persona.align_tolerance
            and abs(methane[2] - stage[2]) < 0.15
            and np.linalg.norm(drift) < 0.25
        )
        if not lined_up:
            self._settled_since = None
        elif self._settled_since is None:
            self._settled_since = now
        settled = self._settled_since is not None and now - self._settled_since >= persona.settle_s
        if settled or now - self._since > LINE_UP_LIMIT_S:
            self._best_z, self._progress_at = methane[2], now
            self._enter("push", now, "" if settled else "impatient")
        return stage + persona.correction * (stage - methane) - persona.damping_s * drift

    def _push(self, now: float, methane: np.ndarray, drift: np.ndarray) -> np.ndarray:
        persona, hull = self.persona, self.hull
        if methane[2] > self._best_z + 0.05:
            self._best_z, self._progress_at = methane[2], now
        if methane[2] > hull.half_length + EXIT_CLEARANCE:
            self._enter("release", now)
            return self._hand
        if np.hypot(*methane[:2]) > hull.radius + 0.15 and methane[2] > -hull.half_length:
            self._enter("back_out", now, "slid along the outside")
        elif now - self._progress_at > persona.patience_s:
            self._enter("back_out", now, "stuck")
        lead = min(persona.max_lead, persona.push_lead + LEAD_GROWTH * (now - self._since))
        sideways = self._aim + persona.correction * (self._aim - methane[:2]) - persona.damping_s * drift[:2]
        return np.array([*sideways, methane[2] + lead])

    def _back_out(self, now: float, methane: np.ndarray) -> np.ndarray:
        behind = -(self.hull.half_length + 0.2)
        if methane[2] < behind:
            if (
                self.attempt >= self.persona.max_attempts
                or self._choices.random() > self.persona.persistence
            ):
                self._enter("gave_up", now, f"after {self.attempt} attempts")
                return self._hand
            self.attempt += 1
            self._start_attempt(now)
        return np.array([methane[0], methane[1], self._stage[2] - 0.1])


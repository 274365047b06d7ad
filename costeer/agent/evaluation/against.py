"""Open-loop comparison with a person: the policy's action against the person's, step by step, on a recording.

The recording is read into episodes exactly as a dataset is built (same observation and action
meaning), the policy sees each recorded observation in turn, and its action is compared with
what the person chose on seeing that frame (recorded ``ACTION_LAG`` steps later; for a checkpoint
trained with ``costeer train --lead-frames K``, the action recorded ``K`` steps later, which it learned):

- ``direction_cosine``: cosine between the policy's and the person's pull (target relative to
  the grabbed atoms), over the steps where the person pulls;
- ``on_accuracy``: how often the policy pulls exactly when the person does;
- ``target_error_nm``: distance between the two targets while the person pulls.

    comparison = compare_with_recording(load_policy("policy.pt"), "session.nanover.zip", task="nanotube")
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from costeer.datasets.demonstrations import read_demonstrations
from costeer.datasets.episodes import build_episode
from costeer.tasks import resolve_task
from costeer.tasks.encoding import ACTION_LAG, ACTION_NAMES

__all__ = ["Comparison", "compare_with_recording"]

TARGET = slice(0, 3)
ON = ACTION_NAMES.index("on")


@dataclass(frozen=True)
class Comparison:
    """Per-step agreement between a policy and the person of one recording."""

    recording: str
    steps: int
    """Steps compared (the person's action known)."""
    pulling_steps: int
    """Of those, steps where the person pulls."""
    direction_cosine: float
    """Mean cosine of the pull directions while the person pulls (1: same direction)."""
    on_accuracy: float
    target_error_nm: float
    """Median distance between the targets while the person pulls."""

    def to_json(self) -> dict[str, Any]:
        """The fields, with ``None`` for a figure nothing was there to measure (JSON has no NaN)."""
        return {name: None if isinstance(value, float) and math.isnan(value) else value
                for name, value in self.__dict__.items()}


def compare_with_recording(runner: Any, recording: str | Path, *, task: str) -> Comparison:
    """Compare ``runner`` (a loaded checkpoint) with every episode of ``recording`` under ``task``."""
    task_object = resolve_task(task)
    lead = int(getattr(runner, "lead_frames", ACTION_LAG))
    observed, expected = [], []
    for demo in read_demonstrations(recording):
        episode = build_episode(demo, task_object)
        valid = episode.steps.get("action.valid", np.ones(len(episode), dtype=bool))
        runner.reset()
        observations, actions = episode.steps["observation.state"], episode.steps["action"]
        for step in range(len(episode) - lead):
            predicted = runner.act(observations[step])  # every step, so the policy's history stays the recording's
            action = actions[step + lead]  # what the person chose on seeing that frame (or lead frames on)
            if valid[step + lead] and np.all(np.isfinite(action)):
                observed.append(np.asarray(predicted, dtype=np.float64))
                expected.append(np.asarray(action, dtype=np.float64))
    if not expected:
        raise ValueError(f"{recording}: no steps with the person's action known to compare against")
    mine, theirs = np.array(observed), np.array(expected)
    pulling = theirs[:, ON] >= 0.5
    cosines = _cosines(mine[pulling, TARGET], theirs[pulling, TARGET])
    distances = np.linalg.norm(mine[pulling, TARGET] - theirs[pulling, TARGET], axis=1)
    return Comparison(
        recording=str(recording),
        steps=len(theirs),
        pulling_steps=int(pulling.sum()),
        direction_cosine=float(cosines.mean()) if len(cosines) else float("nan"),
        on_accuracy=float(np.mean((mine[:, ON] >= 0.5) == pulling)),
        target_error_nm=float(np.median(distances)) if len(distances) else float("nan"),
    )


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine; 0 where either vector is zero (no direction to agree with)."""
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    dots = np.einsum("ij,ij->i", a, b)
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)

"""Closed-loop evaluation of policies and baselines, and open-loop comparison with a person.

    result = evaluate("policy.pt", task="nanotube", rollouts=50, seed=0)
    plot_evaluations([result, evaluate("none", task="nanotube", rollouts=50)], "figures/")
"""

from __future__ import annotations

from costeer.agent.evaluation.actors import BASELINES, NoForce, PolicyActor, ScriptedPull
from costeer.agent.evaluation.against import Comparison, compare_with_recording
from costeer.agent.evaluation.closed_loop import Evaluation, RolloutResult, evaluate
from costeer.agent.evaluation.intervals import median_interval, wilson_interval
from costeer.agent.evaluation.plot import plot_evaluations

__all__ = [
    "BASELINES",
    "Comparison",
    "Evaluation",
    "NoForce",
    "PolicyActor",
    "RolloutResult",
    "ScriptedPull",
    "compare_with_recording",
    "evaluate",
    "median_interval",
    "plot_evaluations",
    "wilson_interval",
]

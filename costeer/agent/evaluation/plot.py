"""Pictures of closed-loop evaluations (PNG, matplotlib's Agg backend).

- ``success.png``: each actor's success rate with its 95 % Wilson interval, policy and
  baselines side by side;
- ``paths.png``: every rollout's path of the grabbed atoms in the task frame (along the axis
  against the distance from it), one panel per actor, green where it succeeded, red where not.

    written = plot_evaluations([policy, none, scripted], "figures/")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from costeer.agent.evaluation.closed_loop import Evaluation

__all__ = ["plot_evaluations"]

OUTCOME_COLOURS = {True: "tab:green", False: "tab:red"}


def plot_evaluations(evaluations: Sequence[Evaluation], output: str | Path) -> list[Path]:
    """Write ``success.png`` and ``paths.png`` for ``evaluations`` into ``output``; returns the files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not evaluations:
        raise ValueError("nothing to plot: give at least one evaluation")
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    summaries = [evaluation.summary() for evaluation in evaluations]
    names = [_short(summary["actor"]) for summary in summaries]

    figure, axes = plt.subplots(figsize=(1.6 * len(names) + 2, 3.6))
    rates = np.array([summary["success_rate"] for summary in summaries])
    intervals = np.array([summary["success_interval"] for summary in summaries])
    errors = np.abs(intervals.T - rates)
    axes.bar(names, rates * 100, yerr=errors * 100, capsize=6, color="tab:blue", alpha=0.8)
    for place, summary in enumerate(summaries):
        axes.annotate(f"{summary['successes']}/{summary['rollouts']}", (place, summary["success_interval"][1] * 100),
                      ha="center", va="bottom", fontsize=8)
    axes.set_ylim(0, 110)
    axes.set_ylabel("success, % (95 % Wilson interval)")
    axes.set_title(f"{evaluations[0].task}: closed-loop success")
    written = [_save(plt, figure, output / "success.png")]

    figure, panels = plt.subplots(1, len(evaluations), figsize=(4 * len(evaluations), 3.6), squeeze=False, sharey=True)
    for panel, evaluation, name in zip(panels[0], evaluations, names):
        for result in evaluation.rollouts:
            path = np.asarray(result.path, dtype=np.float64).reshape(-1, 3)
            panel.plot(path[:, 2], np.hypot(path[:, 0], path[:, 1]), color=OUTCOME_COLOURS[result.success],
                       alpha=0.5, linewidth=0.8, label="success" if result.success else "failure")
        panel.set_title(name, fontsize=9)
        panel.set_xlabel("along the task's axis, nm")
        handles, labels = panel.get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        if unique:
            panel.legend(unique.values(), unique.keys(), fontsize=8)
    panels[0][0].set_ylabel("distance from the axis, nm")
    written.append(_save(plt, figure, output / "paths.png"))
    return written


def _short(actor: str) -> str:
    return Path(actor).stem if actor.endswith((".pt", ".ckpt")) else actor


def _save(plt: object, figure: object, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path

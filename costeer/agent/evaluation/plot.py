"""Pictures of closed-loop evaluations (PNG, matplotlib's Agg backend).

- ``success.png``: each actor's success rate with its 95 % Wilson interval, policy and
  baselines side by side;
- ``paths.png``: every rollout's path of the grabbed atoms in the task frame (along the axis
  against the distance from it), one panel per actor, green where it succeeded, red where not;
- ``costeering.png``: the synthetic person alone and with the co-pilot (see :func:`plot_costeering`).

    written = plot_evaluations([policy, none, scripted], "figures/")
    plot_costeering(evaluate_costeering("nanotube.pt", blend=0.5), "figures/costeering.png")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from costeer.agent.evaluation.closed_loop import Evaluation

if TYPE_CHECKING:
    from costeer.agent.evaluation.costeering import Costeering

__all__ = ["plot_costeering", "plot_evaluations"]

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


def plot_costeering(result: "Costeering", path: str | Path) -> Path:
    """One PNG of a co-steering evaluation: success (Wilson), time to success and the person's work, seed by seed.

    Left: success alone and with the co-pilot; middle: each seed's time to success, alone
    against with (the diagonal: no change; the dashed line: the target, half the time);
    right: the person's work likewise.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = result.summary()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arms = {"alone": summary["alone"], "with co-pilot": summary["with_copilot"]}
    figure, (rates, times, works) = plt.subplots(1, 3, figsize=(12, 3.8))
    values = np.array([arm["success_rate"] for arm in arms.values()])
    errors = np.abs(np.array([arm["success_interval"] for arm in arms.values()]).T - values)
    rates.bar(list(arms), values * 100, yerr=errors * 100, capsize=6, color=["tab:grey", "tab:blue"], alpha=0.8)
    for place, arm in enumerate(arms.values()):
        rates.annotate(f"{arm['successes']}/{arm['episodes']}", (place, arm["success_interval"][1] * 100),
                       ha="center", va="bottom", fontsize=8)
    rates.set_ylim(0, 110)
    rates.set_ylabel("threaded, % (95 % Wilson interval)")
    together = {episode.seed: episode for episode in result.together}
    pairs = [(episode, together[episode.seed]) for episode in result.alone if episode.seed in together]
    for panel, field, unit, ratio in ((times, "time_to_success_s", "s", summary["ratios"]["time_to_success"]),
                                      (works, "person_work", "kJ/mol", summary["ratios"]["person_work"])):
        points = np.array([(getattr(alone, field), getattr(both, field)) for alone, both in pairs
                           if getattr(alone, field) is not None and getattr(both, field) is not None], dtype=float)
        if len(points):
            panel.scatter(points[:, 0], points[:, 1], s=14, color="tab:blue", alpha=0.7)
            top = float(np.nanmax(points)) * 1.05
            panel.plot([0, top], [0, top], color="grey", linewidth=0.8, label="no change")
            if field == "time_to_success_s":
                panel.plot([0, top], [0, top / 2], color="tab:green", linestyle="--", linewidth=0.8,
                           label="target: half the time")
            panel.legend(fontsize=8)
        median = "-" if ratio["median"] is None else f"{ratio['median']:.2f} [{ratio['interval'][0]:.2f}, {ratio['interval'][1]:.2f}]"
        panel.set_title(f"with / alone: median {median}", fontsize=9)
        panel.set_xlabel(f"alone, {unit}")
        panel.set_ylabel(f"with the co-pilot, {unit}")
    times.set_xlabel("time to success alone, s")
    works.set_xlabel("person's work alone, kJ/mol")
    blend = "" if result.blend is None else f", blend {result.blend:g}"
    figure.suptitle(f"{result.task}: the synthetic person alone and with {Path(result.policy).name} ({result.mode}{blend})",
                    fontsize=10)
    return _save(plt, figure, path)

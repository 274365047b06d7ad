"""Pictures of an episode dataset (PNG, matplotlib's Agg backend): paths, forces, success.

Written to an output folder:

- ``paths/episode-NNN.png``: the grabbed atoms' path in the task frame (axial z against the
  distance from the axis), one figure per episode, coloured by origin;
- ``paths.png``: every episode's path on one figure;
- ``force.png``: the user force's magnitude over each episode's time;
- ``success.png``: success (1) or not (0) per episode, coloured by origin.

    written = plot_dataset("dataset/", "figures/")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from costeer.datasets.reading import read_episodes, read_info, read_steps

__all__ = ["ORIGIN_COLOURS", "plot_dataset"]

ORIGIN_COLOURS = {"human": "tab:blue", "synthetic": "tab:orange", "co-pilot": "tab:green"}
"""Colour per origin; any other origin is grey."""
OTHER_COLOUR = "tab:gray"


def plot_dataset(directory: str | Path, output: str | Path) -> list[Path]:
    """Write the figures listed in the module docstring; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    info = read_info(directory)
    episodes = read_episodes(directory).to_pydict()
    steps = read_steps(directory, columns=["episode_index", "grabbed_position", "user_force", "timestamp", "next.success"])
    table = {
        "episode": steps.column("episode_index").to_numpy(),
        "position": _matrix(steps, "grabbed_position"),
        "force": np.linalg.norm(_matrix(steps, "user_force"), axis=1),
        "time": steps.column("timestamp").to_numpy(),
    }
    output = Path(output)
    (output / "paths").mkdir(parents=True, exist_ok=True)
    task = info.get("costeer", {}).get("task", "")
    written = []
    overview, overview_axes = plt.subplots(figsize=(7, 5))
    force_figure, force_axes = plt.subplots(figsize=(8, 4))
    for number, origin in enumerate(episodes["origin"]):
        rows = table["episode"] == number
        z, radial = table["position"][rows, 2], np.hypot(*table["position"][rows, :2].T)
        colour = ORIGIN_COLOURS.get(origin, OTHER_COLOUR)
        figure, axes = plt.subplots(figsize=(6, 4))
        _path(axes, z, radial, colour=colour, label=origin)
        success = "success" if episodes["success"][number] else "no success"
        axes.set_title(f"{task} episode {number} ({origin}, {success})\n{episodes['source'][number]}", fontsize=9)
        written.append(_save(figure, output / "paths" / f"episode-{number:03d}.png"))
        _path(overview_axes, z, radial, colour=colour, label=origin, marks=False)
        force_axes.plot(table["time"][rows], table["force"][rows], color=colour, lw=0.8, label=origin)
    overview_axes.set_title(f"{task}: path of the grabbed atoms in the task frame")
    _legend(overview_axes)
    written.append(_save(overview, output / "paths.png"))
    force_axes.set(xlabel="time in episode (s)", ylabel="|user force| (kJ/(mol nm))", title="user force")
    _legend(force_axes)
    written.append(_save(force_figure, output / "force.png"))
    written.append(_save(_success_figure(plt, episodes), output / "success.png"))
    return written


def _path(axes: Any, z: np.ndarray, radial: np.ndarray, *, colour: str, label: str, marks: bool = True) -> None:
    axes.plot(z, radial, color=colour, lw=1.0, label=label)
    if marks and len(z):
        axes.plot(z[:1], radial[:1], "o", color=colour, ms=5, label="start")
        axes.plot(z[-1:], radial[-1:], "s", color=colour, ms=5, label="end")
    axes.set_xlabel("z along the task axis (nm)")
    axes.set_ylabel("distance from the axis (nm)")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)


def _success_figure(plt: Any, episodes: dict[str, list[Any]]) -> Any:
    figure, axes = plt.subplots(figsize=(max(4.0, 0.25 * len(episodes["success"]) + 2), 3))
    colours = [ORIGIN_COLOURS.get(origin, OTHER_COLOUR) for origin in episodes["origin"]]
    values = [1.0 if success else 0.0 for success in episodes["success"]]
    axes.bar(range(len(values)), values, color=colours, width=0.8)
    for origin in dict.fromkeys(episodes["origin"]):
        axes.bar([0], [0], color=ORIGIN_COLOURS.get(origin, OTHER_COLOUR), label=origin)
    rate = 100 * sum(values) / len(values) if values else 0.0
    axes.set(xlabel="episode", ylabel="success", ylim=(0, 1.1), title=f"success per episode ({rate:.0f}%)")
    axes.set_yticks([0, 1])
    _legend(axes)
    return figure


def _legend(axes: Any) -> None:
    handles, labels = axes.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    if unique:
        axes.legend(unique.values(), unique.keys(), fontsize=8)


def _save(figure: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _matrix(steps: Any, name: str) -> np.ndarray:
    column = steps.column(name).combine_chunks()
    return column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), -1).astype(np.float64)

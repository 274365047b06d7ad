"""What an episode dataset holds: episodes, steps, origins, success rate, action (strength) and force statistics.

    print(summarise_dataset("dataset/"))
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from costeer.datasets.reading import read_episodes, read_info, read_steps

__all__ = ["DatasetSummary", "summarise_dataset"]


@dataclass(frozen=True)
class DatasetSummary:
    """Counts and statistics of one dataset; ``str()`` is what ``costeer dataset info`` prints.

    Usage: ``summary = summarise_dataset(path); summary.success_rate``
    """

    path: Path
    task: str
    episodes: int
    steps: int
    fps: int
    origins: dict[str, int]
    """Episodes per origin (human, synthetic, co-pilot, unknown, ...)."""
    successes: int
    sources: int
    """Distinct recordings."""
    pulling_fraction: float
    """Share of steps with the action on."""
    target_mean: tuple[float, float, float]
    """Mean target offset (nm, task axes) over steps where the target is known."""
    target_std: tuple[float, float, float]
    target_distance: tuple[float, float]
    """Median and 95th percentile of the target's distance from the grabbed atoms, nm."""
    strengths: dict[float, int]
    """Steps per action strength, to 5 significant digits (steps with the action on and known)."""
    unknown_steps: int
    """Steps where someone pulled but the action is unknown (``action.valid`` false: frames-only recordings)."""
    force: tuple[float, float]
    """Median and 95th percentile of the user force's magnitude while pulling, kJ/(mol nm)."""
    anonymised: bool

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes if self.episodes else 0.0

    def __str__(self) -> str:
        origins = ", ".join(f"{name} {count}" for name, count in sorted(self.origins.items()))
        strengths = ", ".join(f"{value:g} ({count} steps)" for value, count in sorted(self.strengths.items())) or "none"
        return "\n".join(
            [
                f"dataset {self.path} (task {self.task}{', anonymised' if self.anonymised else ''})",
                f"  episodes      {self.episodes} from {self.sources} recording(s); {self.steps} steps at {self.fps} fps",
                f"  origins       {origins}",
                f"  success       {self.successes}/{self.episodes} ({100 * self.success_rate:.0f}%)",
                f"  pulling       {100 * self.pulling_fraction:.0f}% of steps"
                + (f" ({self.unknown_steps} with no known target: action.valid false)" if self.unknown_steps else ""),
                "  target (nm)   mean " + _vector(self.target_mean) + "  std " + _vector(self.target_std),
                f"  distance (nm) median {self.target_distance[0]:.3f}, 95% {self.target_distance[1]:.3f}",
                f"  strength      {strengths}",
                f"  force         median {self.force[0]:.0f}, 95% {self.force[1]:.0f} kJ/(mol nm) while pulling",
            ]
        )


def summarise_dataset(directory: str | Path) -> DatasetSummary:
    """Read ``directory``'s metadata, episodes and actions and summarise them."""
    directory = Path(directory)
    info = read_info(directory)
    episodes = read_episodes(directory).to_pydict()
    steps = read_steps(directory, columns=["action", "action.valid", "user_force"])
    action = _matrix(steps, "action")
    valid = steps.column("action.valid").to_numpy(zero_copy_only=False).astype(bool)
    force = np.linalg.norm(_matrix(steps, "user_force"), axis=1)
    on = action[:, 5] > 0.5
    known = on & valid
    targets = action[known, :3]
    distance = np.linalg.norm(targets, axis=1)
    strengths = Counter(float(f"{strength:.5g}") for strength in action[known, 3])
    return DatasetSummary(
        path=directory,
        task=str(info.get("costeer", {}).get("task", info.get("robot_type", "?"))),
        episodes=int(info["total_episodes"]),
        steps=int(info["total_frames"]),
        fps=int(info["fps"]),
        origins=dict(Counter(episodes["origin"])),
        successes=int(sum(bool(value) for value in episodes["success"])),
        sources=len(set(episodes["source"])),
        pulling_fraction=float(on.mean()) if len(on) else 0.0,
        target_mean=_triple(targets.mean(axis=0) if len(targets) else None),
        target_std=_triple(targets.std(axis=0) if len(targets) else None),
        target_distance=_percentiles(distance),
        strengths=dict(strengths),
        unknown_steps=int((on & ~valid).sum()),
        force=_percentiles(force[on]),
        anonymised=bool(info.get("costeer", {}).get("anonymised", False)),
    )


def _matrix(steps: pa.Table, name: str) -> np.ndarray:
    column = steps.column(name).combine_chunks()
    return column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), -1).astype(np.float64)


def _triple(values: np.ndarray | None) -> tuple[float, float, float]:
    if values is None:
        return (float("nan"),) * 3
    return (float(values[0]), float(values[1]), float(values[2]))


def _percentiles(values: np.ndarray) -> tuple[float, float]:
    if not len(values):
        return (float("nan"), float("nan"))
    median, high = np.percentile(values, [50, 95])
    return (float(median), float(high))


def _vector(values: tuple[float, float, float]) -> str:
    return "(" + ", ".join(f"{value:+.3f}" for value in values) + ")"

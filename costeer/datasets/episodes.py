"""Turn a :class:`~costeer.datasets.demonstrations.Demonstration` into one episode's steps, for a task.

Per step, in the task's frame: the observation (``task.observe``), the action (the acting
interaction's target relative to the grabbed atoms' centre, its scale, type and on/off), the
net user force, where the grabbed atoms are, the task frame itself (so that every step maps
back to lab coordinates), times, and the done/success flags from ``task.evaluate``.

    episode = build_episode(demo, get_task("nanotube"))
    episode.steps["action"]     # (T, 6) float32: target_x, target_y, target_z, scale, type, on
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from costeer.core.interaction import Interaction
from costeer.datasets.demonstrations import Demonstration, DemonstrationFrame
from costeer.tasks import ChemistryError, Task

__all__ = [
    "ACTION_NAMES",
    "INTERACTION_TYPE_CODES",
    "Episode",
    "Pseudonyms",
    "build_episode",
]

ACTION_NAMES = ("target_x", "target_y", "target_z", "scale", "type", "on")
"""The action vector: target (nm, task axes, relative to the grabbed atoms' centre), scale, type code, on."""
INTERACTION_TYPE_CODES = {"unknown": -1, "none": 0, "gaussian": 1, "spring": 2, "constant": 3}
"""``type`` in the action: 0 when nobody pulls, -1 when a frames-only recording cannot say."""
POSE_NAMES = ("x", "y", "z", "qx", "qy", "qz", "qw")
SPRING_CONSTANT_PER_SCALE = 2.0
"""NanoVer's spring: F = scale * 2 * d (kJ/(mol nm) per nm, before mass weighting)."""


class Pseudonyms:
    """Stable stand-ins for user ids: the first id seen becomes ``user-1``, the next ``user-2``, ...

    Usage: ``names = Pseudonyms(); names("929680e7-...")  # 'user-1', the same every time``
    """

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def __call__(self, owner: str) -> str:
        return self._names.setdefault(owner, f"user-{len(self._names) + 1}")


@dataclass(eq=False)
class Episode:
    """One episode's per-step columns and its metadata, ready for :func:`~costeer.datasets.lerobot.write_dataset`.

    Usage: ``len(episode); episode.steps["observation.state"]  # (T, k*3) float32``
    """

    steps: dict[str, np.ndarray]
    """Column name -> ``(T, ...)`` array (a vector per step, or a scalar)."""
    names: dict[str, list[str]]
    """Column name -> names of a vector's components (LeRobot's feature ``names``)."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """One row of the episodes table (JSON-friendly values)."""

    def __len__(self) -> int:
        return len(next(iter(self.steps.values())))


def build_episode(
    demo: Demonstration,
    task: Task,
    *,
    velocities: bool = False,
    pseudonyms: Pseudonyms | None = None,
) -> Episode:
    """Steps and metadata of ``demo`` under ``task``.

    ``velocities``: observe velocities too (the recording must have ``particle.velocities``).
    ``pseudonyms``: anonymise: owner ids become pseudonyms, avatars (headset and controller
    poses) are left out, and session labels other than ``origin`` are dropped.
    """
    source = demo.source.name
    try:
        selection = task.select(demo.chemistry)
    except ChemistryError as error:
        raise ValueError(f"{demo.source}: does not fit task {task.name!r}: {error}") from None
    positions = demo.positions.astype(np.float64)
    frames = task.frames(positions, selection)
    observed_velocities = _velocities(demo) if velocities else None
    observation = task.observe(positions, frames, selection, velocities=observed_velocities)
    centre = positions[:, selection.grabbed, :].mean(axis=1)
    grabbed = frames.to_task(centre[:, None, :])[:, 0, :]
    acting = [_acting(frame.interactions, selection.grabbed) for frame in demo.frames]
    action = _actions(demo, acting, centre)
    action[:, :3] = frames.vectors_to_task(action[:, None, :3])[:, 0, :]
    force = np.stack([frame.user_force.sum(axis=0, dtype=np.float64) for frame in demo.frames])
    force = frames.vectors_to_task(force[:, None, :])[:, 0, :]
    outcome = task.evaluate(positions, selection)
    success_index = outcome.success_index
    length = len(demo)
    wall = demo.wall_time_s
    simulation = np.array([frame.simulation_time_ps for frame in demo.frames])
    atoms = ["x", "y", "z", "vx", "vy", "vz"][: observation.shape[-1]]

    steps: dict[str, np.ndarray] = {
        "observation.state": observation.reshape(length, -1).astype(np.float32),
        "action": action.astype(np.float32),
        "user_force": force.astype(np.float32),
        "grabbed_position": grabbed.astype(np.float32),
        "task_frame": np.concatenate([frames.origin, frames.axes.reshape(length, 9)], axis=1).astype(np.float32),
        "timestamp": (wall - wall[0]).astype(np.float32),
        "wall_time": wall,
        "simulation_time": simulation,
        "source_frame_index": np.array([frame.frame_index for frame in demo.frames], dtype=np.int64),
        "next.done": np.arange(length) == length - 1,
        "next.success": np.arange(length) == (-1 if success_index is None else success_index),
    }
    names = {
        "observation.state": [f"atom{int(atom)}.{axis}" for atom in selection.observed for axis in atoms],
        "action": list(ACTION_NAMES),
        "user_force": ["x", "y", "z"],
        "grabbed_position": ["x", "y", "z"],
        "task_frame": ["origin_x", "origin_y", "origin_z", *(f"{a}_{c}" for a in "xyz" for c in "xyz")],
    }
    owners = sorted({str(i.properties.get("owner.id")) for i in acting if i and i.properties.get("owner.id")})
    if pseudonyms is None:
        steps["avatar.headset"], steps["avatar.hand"] = _avatar_poses(demo.frames, acting)
        names["avatar.headset"] = names["avatar.hand"] = list(POSE_NAMES)
    else:
        owners = [pseudonyms(owner) for owner in owners]
    metadata = {
        "source": source,
        "source_part": demo.part,
        "split": demo.split,
        "origin": demo.origin,
        "system_hash": demo.chemistry.system_hash(),
        "success": bool(outcome.success),
        "success_index": success_index,
        "outcome": json.dumps(outcome.details(), default=str),
        "frame_interval_s": _median_step(wall),
        "simulation_interval_ps": _median_step(simulation),
        "start_wall_time_s": float(wall[0]),
        **_force_constants(acting),
        "grabbed_atoms": selection.grabbed.tolist(),
        "observed_atoms": selection.observed.tolist(),
        "owners": owners,
        "labels": json.dumps(_labels(demo, anonymise=pseudonyms is not None), sort_keys=True),
        "has_interactions": demo.has_state,
        "repaired": demo.repaired,
    }
    return Episode(steps=steps, names=names, metadata=metadata)


def _velocities(demo: Demonstration) -> np.ndarray:
    if any(frame.velocities is None for frame in demo.frames):
        raise ValueError(
            f"{demo.source} has no particle.velocities in its frames: build without --velocities, "
            "or record with velocities included"
        )
    return np.stack([frame.velocities for frame in demo.frames]).astype(np.float64)


def _acting(interactions: Mapping[str, Interaction], grabbed: np.ndarray) -> Interaction | None:
    """The interaction that pulls the task's grabbed atoms (first by key); ``None`` when none does.

    Someone else pulling other atoms (another user on the tube, say) is not this task's action.
    """
    touching = [interactions[key] for key in sorted(interactions) if np.intersect1d(interactions[key].particles, grabbed).size]
    return touching[0] if touching else None


def _actions(demo: Demonstration, acting: list[Interaction | None], centre: np.ndarray) -> np.ndarray:
    """``(T, 6)``: lab target offset from ``centre`` (turned into task axes by the caller), scale, type, on."""
    action = np.zeros((len(demo), len(ACTION_NAMES)))
    for step, (frame, interaction) in enumerate(zip(demo.frames, acting)):
        if interaction is not None:
            action[step, :3] = interaction.position - centre[step]
            action[step, 3] = interaction.scale
            action[step, 4] = INTERACTION_TYPE_CODES[interaction.interaction_type]
            action[step, 5] = 1.0
        elif not demo.has_state and len(frame.user_force_index) and np.any(frame.user_force):
            action[step] = [np.nan, np.nan, np.nan, np.nan, INTERACTION_TYPE_CODES["unknown"], 1.0]
    return action


def _force_constants(acting: list[Interaction | None]) -> dict[str, Any]:
    """The pulls' type, scale, mass weighting and cap (the most common; ``None`` when never seen)."""
    live = [item for item in acting if item is not None]
    if not live:
        return {"interaction_type": None, "force_scale": None, "spring_constant": None,
                "mass_weighted": None, "max_force": None}
    kinds = [item.interaction_type for item in live]
    kind = max(set(kinds), key=kinds.count)
    scale = float(np.median([item.scale for item in live]))
    return {
        "interaction_type": kind,
        "force_scale": scale,
        "spring_constant": SPRING_CONSTANT_PER_SCALE * scale if kind == "spring" else None,
        "mass_weighted": bool(np.mean([item.mass_weighted for item in live]) >= 0.5),
        "max_force": float(np.median([item.max_force for item in live])),
    }


def _avatar_poses(
    frames: list[DemonstrationFrame], acting: list[Interaction | None]
) -> tuple[np.ndarray, np.ndarray]:
    """``(T, 7)`` headset and pulling-hand poses (room coordinates) of the acting user; NaN when unknown."""
    headset = np.full((len(frames), len(POSE_NAMES)), np.nan)
    hand = np.full_like(headset, np.nan)
    for step, (frame, interaction) in enumerate(zip(frames, acting)):
        owner = None if interaction is None else interaction.properties.get("owner.id")
        avatar = frame.avatars.get(f"avatar.{owner}") if owner else None
        if avatar is None and len(frame.avatars) == 1:
            avatar = next(iter(frame.avatars.values()))
        if not isinstance(avatar, Mapping):
            continue
        label = None if interaction is None else interaction.properties.get("label")
        for component in avatar.get("components") or ():
            if not isinstance(component, Mapping):
                continue
            if component.get("name") == "headset":
                headset[step] = _pose(component)
            elif label and component.get("name") == label:
                hand[step] = _pose(component)
    return headset.astype(np.float32), hand.astype(np.float32)


def _pose(component: Mapping[str, Any]) -> np.ndarray:
    try:
        pose = np.concatenate([np.asarray(component["position"], float), np.asarray(component["rotation"], float)])
    except (KeyError, TypeError, ValueError):
        pose = np.empty(0)
    return pose if pose.shape == (len(POSE_NAMES),) else np.full(len(POSE_NAMES), np.nan)


def _labels(demo: Demonstration, *, anonymise: bool) -> dict[str, Any]:
    labels = dict(demo.session.get("labels") or {})
    return {key: value for key, value in labels.items() if key == "origin"} if anonymise else labels


def _median_step(values: np.ndarray) -> float | None:
    steps = np.diff(values)
    steps = steps[np.isfinite(steps)]
    return float(np.median(steps)) if len(steps) else None

"""Turn a :class:`~costeer.datasets.demonstrations.Demonstration` into one episode's steps, for a task.

Per step, in the task's frame: the observation and the action (both from
:class:`~costeer.tasks.encoding.StepEncoder`, so datasets, rollouts and the co-pilot agree),
whether the action is known (``action.valid``: a frames-only recording shows that someone
pulled but not where to), the net user force, where the grabbed atoms are, the task frame
itself (so that every step maps back to lab coordinates), times, and the done/success flags
from ``task.evaluate``. The episode's metadata says which force law the recording's server
used (``strength_factor``, :mod:`costeer.datasets.strength`) and the physical spring constant.

    episode = build_episode(demo, get_task("nanotube"))
    episode.steps["action"]     # (T, 6) float32: target_x, target_y, target_z, strength, type, on
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from openmm.app import Element

from costeer.core.interaction import Interaction
from costeer.datasets.demonstrations import Demonstration, DemonstrationFrame
from costeer.datasets.strength import measure_force_ratio, snap_strength_factor
from costeer.tasks import ChemistryError, Task
from costeer.tasks.encoding import (
    ACTION_NAMES,
    INTERACTION_TYPE_CODES,
    StepEncoder,
    acting_interaction,
    element_masses,
    grabbed_centres,
)
from costeer.tasks.frame import TaskFrame
from costeer.tasks.task import AtomSelection, Outcome

__all__ = [
    "ACTION_NAMES",
    "INTERACTION_TYPE_CODES",
    "Episode",
    "Pseudonyms",
    "build_episode",
    "task_selection",
]

POSE_NAMES = ("x", "y", "z", "qx", "qy", "qz", "qw")
SPRING_CONSTANT_PER_STRENGTH = 2.0
"""costeer's spring: F = strength * 2 * d on the grabbed atoms' centre (kJ/(mol nm) per nm)."""


class Pseudonyms:
    """Stable stand-ins for user ids: the first id seen becomes ``user-1``, the next ``user-2``, ...

    Usage: ``names = Pseudonyms(); names("929680e7-...")  # 'user-1', the same every time``

    ``taken``: pseudonyms already given (episodes appended to an anonymised dataset): new
    ones continue after ``user-<taken>``, so two people never share one.
    """

    def __init__(self, *, taken: int = 0) -> None:
        self._names: dict[str, str] = {}
        self._taken = taken

    def __call__(self, owner: str) -> str:
        return self._names.setdefault(owner, f"user-{self._taken + len(self._names) + 1}")


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
    strength_factor: float | None = None,
    infer_spring: float | None = None,
) -> Episode:
    """Steps and metadata of ``demo`` under ``task``.

    ``velocities``: observe velocities too (the recording must have ``particle.velocities``).
    ``pseudonyms``: anonymise: owner ids become pseudonyms, avatars (headset and controller
    poses) are left out, and session labels other than ``origin`` are dropped.
    ``strength_factor``: the recording's force law (see :mod:`costeer.datasets.strength`),
    used when this episode's own forces cannot tell (too few pulls); 1 when not given.
    ``infer_spring``: a frames-only recording's pulls (its user force, no interaction) get the
    target a spring of this strength on the grabbed atoms' centre needs to exert that force
    (``centre + F / (2 strength)``); without it they are unknown (NaN, ``action.valid`` False).
    Only the direction is sure: the strength is an assumption about the server that recorded it.
    """
    if infer_spring is not None and not (math.isfinite(infer_spring) and infer_spring > 0):
        raise ValueError(f"the spring strength to infer targets with must be a positive number, got {infer_spring}")
    selection = task_selection(demo, task)
    masses = element_masses(demo.chemistry)
    encoder = StepEncoder(task, selection, masses=masses, velocities=velocities)
    positions = demo.positions.astype(np.float64)
    observation, frames = encoder.observe_episode(positions, _velocities(demo) if velocities else None)
    acting = [acting_interaction(frame.interactions, selection.grabbed) for frame in demo.frames]
    factor, ratio = _force_law(demo, selection, masses, fallback=strength_factor)
    outcome = task.evaluate(positions, selection)
    motion = _motion_columns(demo, selection, masses, positions, frames)
    inferred = infer_spring if not demo.has_state else None
    steps = {
        "observation.state": observation,
        **_action_columns(demo, encoder, acting, positions, frames, factor, motion["user_force"], inferred),
        **motion,
        **_time_columns(demo, outcome.success_index),
    }
    names = _names(selection, observation.shape[1] // len(selection.observed))
    if pseudonyms is None:  # anonymised datasets hold no poses
        steps["avatar.headset"], steps["avatar.hand"] = _avatar_poses(demo.frames, acting)
        names["avatar.headset"] = names["avatar.hand"] = list(POSE_NAMES)
    metadata = {
        **_source_metadata(demo, pseudonyms),
        **_outcome_metadata(outcome, steps),
        **(_force_constants(acting, factor, ratio) if inferred is None else _inferred_constants(inferred)),
        "grabbed_atoms": selection.grabbed.tolist(),
        "observed_atoms": selection.observed.tolist(),
        "owners": _owners(acting, pseudonyms),
    }
    return Episode(steps=steps, names=names, metadata=metadata)


def task_selection(demo: Demonstration, task: Task) -> AtomSelection:
    """The task's atoms in ``demo``'s system; a ``ValueError`` naming the file and what did not fit."""
    try:
        return task.select(demo.chemistry)
    except ChemistryError as error:
        raise ValueError(
            f"{demo.source}: does not fit task {task.name!r}: {error} (the recording's system: "
            f"{_composition(demo.chemistry.elements)}). Build it with a task for that system (--task NAME or FILE)"
        ) from None


def _composition(elements: np.ndarray) -> str:
    """``"65 atoms: C 61, H 4"`` (element symbols by atomic number)."""
    numbers, counts = np.unique(elements, return_counts=True)
    symbols = [Element.getByAtomicNumber(int(z)).symbol if z else "?" for z in numbers]
    parts = ", ".join(f"{symbol} {count}" for symbol, count in sorted(zip(symbols, counts), key=lambda p: -p[1]))
    return f"{len(elements)} atoms: {parts}"


def _force_law(
    demo: Demonstration, selection: AtomSelection, masses: np.ndarray, *, fallback: float | None
) -> tuple[float, float | None]:
    """The strength factor of ``demo``'s server and the force ratio measured (``None``: too few pulls)."""
    ratio = measure_force_ratio(demo, selection, masses)
    if ratio is None:
        return (1.0 if fallback is None else fallback), None
    grabbed_mass = float(masses[selection.grabbed].sum())
    return snap_strength_factor(ratio, grabbed_mass=grabbed_mass, source=demo.source.name), ratio


def _velocities(demo: Demonstration) -> np.ndarray:
    if any(frame.velocities is None for frame in demo.frames):
        raise ValueError(
            f"{demo.source} has no particle.velocities in its frames: build without --velocities, "
            "or record with velocities included"
        )
    return np.stack([frame.velocities for frame in demo.frames]).astype(np.float64)


def _action_columns(
    demo: Demonstration,
    encoder: StepEncoder,
    acting: list[Interaction | None],
    positions: np.ndarray,
    frames: TaskFrame,
    factor: float,
    user_force: np.ndarray,
    infer_spring: float | None,
) -> dict[str, np.ndarray]:
    """``action`` and ``action.valid``: pulls with no known target (a frames-only recording's, raw forces) are NaN, invalid.

    With ``infer_spring``, a frames-only recording's pulls aim where a spring of that strength
    would exert the recorded ``user_force`` (task axes), and are valid.
    """
    action = encoder.encode_actions(acting, positions, frames, strength_factor=factor)
    unknown = np.isnan(action[:, 0]) if demo.has_state else demo.pulling
    if infer_spring is not None:
        offset = user_force[unknown] / (SPRING_CONSTANT_PER_STRENGTH * infer_spring)
        action[unknown] = np.column_stack([offset, np.full((len(offset), 3), [infer_spring, INTERACTION_TYPE_CODES["spring"], 1.0])])
        return {"action": action, "action.valid": np.ones(len(action), dtype=bool)}
    action[unknown] = [np.nan, np.nan, np.nan, np.nan, INTERACTION_TYPE_CODES["unknown"], 1.0]
    return {"action": action, "action.valid": ~unknown}


def _motion_columns(
    demo: Demonstration, selection: AtomSelection, masses: np.ndarray, positions: np.ndarray, frames: TaskFrame
) -> dict[str, np.ndarray]:
    """The net user force and the grabbed atoms' centre in the task frame, and the frame itself."""
    force = np.stack([frame.user_force.sum(axis=0, dtype=np.float64) for frame in demo.frames])
    centre = grabbed_centres(positions, selection.grabbed, masses)
    return {
        "user_force": frames.vectors_to_task(force[:, None, :])[:, 0, :].astype(np.float32),
        "grabbed_position": frames.to_task(centre[:, None, :])[:, 0, :].astype(np.float32),
        "task_frame": np.concatenate([frames.origin, frames.axes.reshape(len(frames), 9)], axis=1).astype(np.float32),
    }


def _time_columns(demo: Demonstration, success_index: int | None) -> dict[str, np.ndarray]:
    """Times (episode, wall, simulation), the recording's frame numbers, and the done/success flags."""
    length = len(demo)
    wall = demo.wall_time_s
    return {
        "timestamp": (wall - wall[0]).astype(np.float32),
        "wall_time": wall,
        "simulation_time": np.array([frame.simulation_time_ps for frame in demo.frames]),
        "source_frame_index": np.array([frame.frame_index for frame in demo.frames], dtype=np.int64),
        "next.done": np.arange(length) == length - 1,
        "next.success": np.arange(length) == (-1 if success_index is None else success_index),
    }


def _names(selection: AtomSelection, width: int) -> dict[str, list[str]]:
    atoms = ["x", "y", "z", "vx", "vy", "vz"][:width]
    return {
        "observation.state": [f"atom{int(atom)}.{axis}" for atom in selection.observed for axis in atoms],
        "action": list(ACTION_NAMES),
        "user_force": ["x", "y", "z"],
        "grabbed_position": ["x", "y", "z"],
        "task_frame": ["origin_x", "origin_y", "origin_z", *(f"{a}_{c}" for a in "xyz" for c in "xyz")],
    }


def _source_metadata(demo: Demonstration, pseudonyms: Pseudonyms | None) -> dict[str, Any]:
    return {
        "source": demo.source.name,
        "source_part": demo.part,
        "split": demo.split,
        "origin": demo.origin,
        "system_hash": demo.chemistry.system_hash(),
        "labels": json.dumps(_labels(demo, anonymise=pseudonyms is not None), sort_keys=True),
        "has_interactions": demo.has_state,
        "repaired": demo.repaired,
    }


def _outcome_metadata(outcome: Outcome, steps: dict[str, np.ndarray]) -> dict[str, Any]:
    """Success, when, the task's details, and the episode's pace."""
    return {
        "success": bool(outcome.success),
        "success_index": outcome.success_index,
        "outcome": json.dumps(outcome.details(), default=str),
        "frame_interval_s": _median_step(steps["wall_time"]),
        "simulation_interval_ps": _median_step(steps["simulation_time"]),
        "start_wall_time_s": float(steps["wall_time"][0]),
    }


def _owners(acting: list[Interaction | None], pseudonyms: Pseudonyms | None) -> list[str]:
    owners = sorted({str(i.properties.get("owner.id")) for i in acting if i and i.properties.get("owner.id")})
    return owners if pseudonyms is None else [pseudonyms(owner) for owner in owners]


def _force_constants(acting: list[Interaction | None], factor: float, ratio: float | None) -> dict[str, Any]:
    """The pulls' type, scale, strength factor, physical spring constant, mass weighting and cap.

    The most common type and the median scale; ``None`` when nobody pulled with a known
    interaction. ``force_ratio``: the measured ``|F| / (scale |f(d)|)`` the factor was snapped from.
    """
    live = [item for item in acting if item is not None]
    if not live:
        return {"interaction_type": None, "force_scale": None, "strength_factor": None, "force_ratio": ratio,
                "spring_constant": None, "mass_weighted": None, "max_force": None}
    kinds = [item.interaction_type for item in live]
    kind = max(set(kinds), key=kinds.count)
    scale = float(np.median([item.scale for item in live]))
    return {
        "interaction_type": kind,
        "force_scale": scale,
        "strength_factor": factor,
        "force_ratio": ratio,
        "spring_constant": SPRING_CONSTANT_PER_STRENGTH * scale * factor if kind == "spring" else None,
        "mass_weighted": bool(np.mean([item.mass_weighted for item in live]) >= 0.5),
        "max_force": float(np.median([item.max_force for item in live])),
    }


def _inferred_constants(strength: float) -> dict[str, Any]:
    """The force law assumed for targets inferred from forces: a spring of ``strength`` on the centre."""
    return {"interaction_type": "spring", "force_scale": strength, "strength_factor": 1.0, "force_ratio": None,
            "spring_constant": SPRING_CONSTANT_PER_STRENGTH * strength, "mass_weighted": True, "max_force": None}


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

"""A scripted user: grab one atom and drag it along a path, as a hand in VR would.

    path = np.array([[...], [...]])           # waypoints, nm
    track = await drag_along(session, atom=60, waypoints=path, duration=20.0)

``track`` holds the grabbed atom's position in every frame received while dragging.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import numpy as np

from ..core import keys
from .session import NanoverSession

__all__ = ["DragTrack", "drag_along"]


@dataclass
class DragTrack:
    """What happened while dragging: frame arrival times and the grabbed atom's positions."""

    times: list[float] = field(default_factory=list)
    positions: list[np.ndarray] = field(default_factory=list)
    user_force_frames: int = 0
    """Frames whose ``forces.user.index`` contained the grabbed atom."""
    user_energy_max: float = 0.0


async def drag_along(
    session: NanoverSession,
    *,
    atom: int,
    waypoints: np.ndarray,
    duration: float,
    interaction_type: str = "spring",
    scale: float = 100.0,
    update_rate: float = 30.0,
    interaction_id: str = "interaction.costeer-script",
) -> DragTrack:
    """Move an interaction on ``atom`` through ``waypoints`` at constant speed, then release."""
    track = DragTrack()
    start = time.monotonic()

    def on_frame(delta: dict, merged: dict) -> None:
        if keys.PARTICLE_POSITIONS not in delta:
            return
        track.times.append(time.monotonic() - start)
        track.positions.append(np.array(merged[keys.PARTICLE_POSITIONS][atom], dtype=float))
        index = delta.get(keys.USER_FORCES_INDEX)
        if index is not None and atom in index:
            track.user_force_frames += 1
            track.user_energy_max = max(track.user_energy_max, float(delta.get(keys.USER_ENERGY, 0.0)))

    session.add_frame_listener(on_frame)
    waypoints = np.asarray(waypoints, dtype=float)
    lengths = np.linalg.norm(np.diff(waypoints, axis=0), axis=1)
    cumulative = np.concatenate([[0.0], np.cumsum(lengths)])
    while (elapsed := time.monotonic() - start) < duration:
        travelled = cumulative[-1] * min(elapsed / duration, 1.0)
        target = np.array([np.interp(travelled, cumulative, waypoints[:, axis]) for axis in range(3)])
        await session.update_state(
            {
                interaction_id: {
                    "position": target.tolist(),
                    "particles": [atom],
                    "interaction_type": interaction_type,
                    "scale": scale,
                    "mass_weighted": True,
                    "reset_velocities": False,
                    "max_force": float("inf"),
                    "owner.id": "costeer-script",
                    "label": "scripted pull",
                }
            }
        )
        await asyncio.sleep(1.0 / update_rate)
    await session.update_state(removals=[interaction_id])
    return track

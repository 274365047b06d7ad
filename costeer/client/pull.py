"""A scripted user: grab atoms and move a hand that pulls them, as a person in VR would.

A *hand* is a function ``hand(elapsed_s, positions) -> target`` giving where the
controller is (nm) given the time since the grab and the latest positions; the
interaction (a spring, as headsets send) pulls the grabbed atoms towards it::

    hand = along_waypoints(np.array([[...], [...]]), times=[0.0, 10.0])
    track = await drag(session, particles=[60], hand=hand, duration=10.0)

``track`` holds the positions of every frame received while dragging.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..core import keys
from .session import NanoverSession

__all__ = ["DragTrack", "Hand", "along_waypoints", "drag"]

Hand = Callable[[float, np.ndarray], np.ndarray]
"""Where the controller is (nm, (3,)) at ``elapsed`` seconds, given the latest positions (n, 3)."""


@dataclass
class DragTrack:
    """What happened while dragging: frame arrival times, positions and hand targets."""

    times: list[float] = field(default_factory=list)
    positions: list[np.ndarray] = field(default_factory=list)
    """Positions of all atoms, (n, 3) nm, one entry per frame received."""
    targets: list[np.ndarray] = field(default_factory=list)
    """Hand positions sent, one per update."""
    user_force_frames: int = 0
    """Frames whose ``forces.user.index`` contained a grabbed atom."""
    user_energy_max: float = 0.0


def along_waypoints(waypoints: np.ndarray, times: Sequence[float]) -> Hand:
    """A hand that reaches ``waypoints[i]`` at ``times[i]`` s, moving linearly between them."""
    waypoints = np.asarray(waypoints, dtype=float)
    times = np.asarray(times, dtype=float)
    if waypoints.ndim != 2 or waypoints.shape[1] != 3 or times.shape != (len(waypoints),):
        raise ValueError("give (k, 3) waypoints and one time per waypoint")
    if np.any(np.diff(times) < 0):
        raise ValueError("waypoint times must not decrease")

    def hand(elapsed: float, positions: np.ndarray) -> np.ndarray:
        return np.array([np.interp(elapsed, times, waypoints[:, axis]) for axis in range(3)])

    return hand


async def drag(
    session: NanoverSession,
    *,
    particles: Sequence[int],
    hand: Hand,
    duration: float,
    interaction_type: str = "spring",
    scale: float = 100.0,
    update_rate: float = 30.0,
    interaction_id: str = "interaction.costeer-script",
    owner: str = "costeer-script",
    until: Callable[[], bool] | None = None,
) -> DragTrack:
    """Grab ``particles``, move the interaction where ``hand`` says for ``duration`` s, release.

    ``until``: let go earlier, as soon as it returns true (e.g. ``lambda: hand.finished``).
    """
    track = DragTrack()
    grabbed = [int(i) for i in particles]
    start = time.monotonic()

    def on_frame(delta: dict, merged: dict) -> None:
        if keys.PARTICLE_POSITIONS not in delta:
            return
        track.times.append(time.monotonic() - start)
        track.positions.append(np.array(merged[keys.PARTICLE_POSITIONS], dtype=float))
        index = delta.get(keys.USER_FORCES_INDEX)
        if index is not None and np.isin(grabbed, index).any():
            track.user_force_frames += 1
            track.user_energy_max = max(track.user_energy_max, float(delta.get(keys.USER_ENERGY, 0.0)))

    session.add_frame_listener(on_frame)
    try:
        while (elapsed := time.monotonic() - start) < duration and not (until is not None and until()):
            positions = np.asarray(session.frame[keys.PARTICLE_POSITIONS], dtype=float)
            target = np.asarray(hand(elapsed, positions), dtype=float)
            track.targets.append(target)
            await session.update_state(
                {
                    interaction_id: {
                        "position": target.tolist(),
                        "particles": grabbed,
                        "interaction_type": interaction_type,
                        "scale": scale,
                        "mass_weighted": True,
                        "reset_velocities": False,
                        "max_force": float("inf"),
                        "owner.id": owner,
                        "label": "scripted pull",
                    }
                }
            )
            await asyncio.sleep(1.0 / update_rate)
    finally:
        session.remove_frame_listener(on_frame)
        await session.update_state(removals=[interaction_id])
    return track

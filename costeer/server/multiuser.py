"""Multi-user helpers NanoVer servers provide: radial origins and the scene/transform shim.

``radial_origins`` places every user (``avatar.<id>``) on a circle facing its centre, as
NanoVer's ``multiuser/radially-orient-origins`` command does. ``SceneShim`` keeps the old
``scene`` pose and the newer ``transform.simulation`` in step (x scale flipped, written in
the same change), so old and new VR clients agree on where the molecule is.

    state.update(radial_origins(state.snapshot(), radius=1.0))
    SceneShim(state).install()
"""

from __future__ import annotations

import logging
import math
from typing import Any, Mapping

from costeer.core import keys

from .commands import CommandError
from .ownership import holds_non_finite
from .state import SharedState

__all__ = ["ORIGIN_PREFIX", "SCENE_KEY", "TRANSFORM_KEY", "MAX_ORIGIN_RADIUS", "radial_origins", "SceneShim"]

ORIGIN_PREFIX = "user-origin."
MAX_ORIGIN_RADIUS = 100.0
"""Largest circle of users, in metres: beyond any room a VR session plays in."""
SCENE_KEY = "scene"
TRANSFORM_KEY = "transform.simulation"

_log = logging.getLogger(__name__)


def radial_origins(content: Mapping[str, Any], *, radius: float = 1.0) -> dict[str, Any]:
    """``user-origin.<id>`` updates spreading the users of ``content`` round a circle of ``radius`` m.

    Raises ``CommandError`` saying what to send when ``radius`` is not a number from 0 to
    ``MAX_ORIGIN_RADIUS``.
    """
    if isinstance(radius, bool) or not isinstance(radius, (int, float)) or not 0 <= radius <= MAX_ORIGIN_RADIUS:
        raise CommandError(f"radius must be a number of metres from 0 to {MAX_ORIGIN_RADIUS:g}, got {radius!r}")
    user_ids = [key[len(keys.AVATAR_PREFIX):] for key in content if key.startswith(keys.AVATAR_PREFIX)]
    updates = {}
    for number, user_id in enumerate(user_ids):
        angle = number * 2 * math.pi / len(user_ids)
        half_turn = (-angle - math.pi / 2) / 2
        updates[ORIGIN_PREFIX + user_id] = {
            "position": [radius * math.cos(angle), 0, radius * math.sin(angle)],
            "rotation": [0, math.sin(half_turn), 0, math.cos(half_turn)],
        }
    return updates


class SceneShim:
    """Mirrors ``scene`` (a list ending in the 3 scale factors) and ``transform.simulation``.

        SceneShim(state).install()

    A state filter: an update writing one key carries the other, mirrored, in the same
    change (so nothing writes back and the two cannot chase each other). A value holding
    NaN or infinity anywhere is refused (not stored); one that is finite but not a pose is
    stored as sent (the key is shared, and NanoVer stores it) but not mirrored. Either is
    warned about once per writer and problem.
    """

    def __init__(self, state: SharedState) -> None:
        self._state = state
        self._warned: set[str] = set()

    def install(self) -> None:
        """Filter the state's updates from now on."""
        self._state.add_filter(self.filter)

    def filter(self, updates: dict[str, Any], origin: str | None, content: Mapping[str, Any]) -> dict[str, Any]:
        """``updates`` with a non-finite pose dropped and the other pose key mirrored in."""
        if SCENE_KEY in updates:
            source, target_key = SCENE_KEY, TRANSFORM_KEY
        elif TRANSFORM_KEY in updates:
            source, target_key = TRANSFORM_KEY, SCENE_KEY
        else:
            return updates
        value = updates[source]
        writer = origin or "the server"
        if holds_non_finite(value):
            self._warn(f"refused {source} from {writer}, not stored: it holds NaN or infinity")
            return {key: value for key, value in updates.items() if key != source}
        pose = _flipped(value if source == SCENE_KEY else value.get("transform") if isinstance(value, Mapping) else None)
        if pose is None:
            self._warn(
                f"stored {source} from {writer} as sent, but it is not a pose (a list of numbers ending in "
                f"3 scale factors): {target_key} is not updated to match"
            )
            return updates
        target = {"transform": pose, "parent": "root"} if target_key == TRANSFORM_KEY else pose
        return {**updates, target_key: target}


    def _warn(self, message: str) -> None:
        """Log ``message`` (which names the writer) unless logged already; called under the state's lock."""
        if message in self._warned:
            return
        if len(self._warned) >= _MAX_WARNED:
            self._warned.clear()
        self._warned.add(message)
        _log.warning("%s (logged once per client)", message)


_MAX_WARNED = 1024
"""Warnings remembered, so repeats are not logged; forgotten all at once beyond this."""

def _flipped(pose: Any) -> list[Any] | None:
    """The (finite) pose with its x scale (third from last) negated, ``None`` if it is not a pose."""
    if not isinstance(pose, (list, tuple)) or len(pose) < 3:
        return None
    if not all(isinstance(item, (int, float)) and not isinstance(item, bool) for item in pose):
        return None
    flipped = list(pose)
    flipped[-3] = -flipped[-3]
    return flipped

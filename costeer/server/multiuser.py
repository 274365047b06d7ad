"""Multi-user helpers NanoVer servers provide: radial origins and the scene/transform shim.

``radial_origins`` places every user (``avatar.<id>``) on a circle facing its centre, as
NanoVer's ``multiuser/radially-orient-origins`` command does. ``SceneShim`` keeps the old
``scene`` pose and the newer ``transform.simulation`` in step (x scale flipped), so old
and new VR clients agree on where the molecule is.

    state.update(radial_origins(state.snapshot(), radius=1.0))
    SceneShim(state).install()
"""

from __future__ import annotations

import logging
import math
from typing import Any, Mapping

from costeer.core import keys

from .state import SharedState

__all__ = ["ORIGIN_PREFIX", "SCENE_KEY", "TRANSFORM_KEY", "radial_origins", "SceneShim"]

ORIGIN_PREFIX = "user-origin."
SCENE_KEY = "scene"
TRANSFORM_KEY = "transform.simulation"

_log = logging.getLogger(__name__)


def radial_origins(content: Mapping[str, Any], *, radius: float = 1.0) -> dict[str, Any]:
    """``user-origin.<id>`` updates spreading the users of ``content`` round a circle of ``radius`` m."""
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
    """

    def __init__(self, state: SharedState) -> None:
        self._state = state

    def install(self) -> None:
        """Follow the state's changes from now on."""
        self._state.add_listener(self._on_change)

    def _on_change(self, updates: Mapping[str, Any], removals: frozenset[str]) -> None:
        if SCENE_KEY in updates:
            pose = _flipped(updates[SCENE_KEY])
            target_key, target = TRANSFORM_KEY, None if pose is None else {"transform": pose, "parent": "root"}
        elif TRANSFORM_KEY in updates:
            value = updates[TRANSFORM_KEY]
            target_key, target = SCENE_KEY, _flipped(value.get("transform") if isinstance(value, Mapping) else None)
        else:
            return
        if target is None:
            _log.warning("ignored a malformed %s/%s: cannot mirror it", SCENE_KEY, TRANSFORM_KEY)
            return
        if self._state.get(target_key) != target:
            self._state.update({target_key: target})


def _flipped(pose: Any) -> list[Any] | None:
    """The pose with its x scale (third from last) negated, or ``None`` if it is not a pose."""
    if not isinstance(pose, (list, tuple)) or len(pose) < 3:
        return None
    if not all(isinstance(item, (int, float)) and not isinstance(item, bool) for item in pose):
        return None
    flipped = list(pose)
    flipped[-3] = -flipped[-3]
    return flipped

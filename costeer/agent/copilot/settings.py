"""The co-pilot's modes and settings, and the state change each of its decisions makes.

    settings = CopilotSettings(mode="assist", blend=0.5, max_force=2000.0)
    change = copilot.on_frame(positions, interactions)   # a CopilotChange: updates + removals
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["COPILOT_MODES", "CopilotChange", "CopilotSettings", "check_blend", "check_mode"]

COPILOT_MODES = ("off", "suggest", "apply", "assist")
"""``off``: nothing; ``suggest``: a ghost interaction only; ``apply``: pulls as a user would;
``assist``: pulls only while no person pulls the task's atoms (or alongside, with ``blend``)."""


def check_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`COPILOT_MODES`, else a ``ValueError`` naming them."""
    if mode not in COPILOT_MODES:
        raise ValueError(f"unknown co-pilot mode {mode!r}: choose one of {', '.join(COPILOT_MODES)}")
    return mode


def check_blend(blend: float | None) -> float | None:
    """``blend`` as a float strictly between 0 and 1 (or ``None``), else a ``ValueError`` saying so."""
    if blend is None:
        return None
    if isinstance(blend, bool) or not isinstance(blend, (int, float)) or not 0.0 < float(blend) < 1.0:
        raise ValueError(f"blend must be a number strictly between 0 and 1 (the co-pilot's largest share "
                         f"of the pull, e.g. 0.5), or none to yield to people, got {blend!r}")
    return float(blend)


@dataclass(frozen=True)
class CopilotSettings:
    """How a co-pilot acts: its mode, its share of a person's pull, its force cap and its patience.

    Usage: ``CopilotSettings(mode="assist", blend=0.5)``
    """

    mode: str = "assist"
    blend: float | None = None
    """``assist`` only: share control with a person instead of yielding; the person's weight in
    the combined pull is never below ``1 - blend``."""
    max_force: float = 2000.0
    """kJ/(mol nm): cap on the co-pilot's force (``--copilot-max-force``)."""
    stall_frames: int = 3
    """The live loop lets go after this many frame intervals with no action from the policy."""

    def __post_init__(self) -> None:
        check_mode(self.mode)
        object.__setattr__(self, "blend", check_blend(self.blend))
        if not (isinstance(self.max_force, (int, float)) and 0.0 < self.max_force and math.isfinite(self.max_force)):
            raise ValueError(f"max_force must be a finite positive force in kJ/(mol nm) (default 2000), got {self.max_force!r}")
        if not (isinstance(self.stall_frames, int) and self.stall_frames >= 1):
            raise ValueError(f"stall_frames must be a whole number of frames >= 1 (default 3), got {self.stall_frames!r}")


@dataclass
class CopilotChange:
    """Shared-state keys to set and to remove, as one state update.

    Usage: ``state.update(change.updates, change.removals)``; ``bool(change)`` is false when there is nothing to do.
    """

    updates: dict[str, Any] = field(default_factory=dict)
    removals: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.updates or self.removals)

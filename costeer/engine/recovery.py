"""Recovering from blow-ups: what a simulation must offer, and the notice listeners get.

On a blow-up the runner (with ``on_blowup="recover"``) asks a ``Recoverable`` simulation to
``roll_back`` to its last good state (older ones if that one blows up again at once, the
initial state as last resort), releases the interactions that were live, publishes the
rolled-back frame, and hands a ``Recovery`` to each of its ``recovery_listeners`` (the
server writes it to the shared state as ``costeer.recovery`` and removes the released
interactions). When nothing is left to roll back to, ``roll_back`` raises
``NothingToRollBackTo`` and the runner pauses with that message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol, runtime_checkable

from costeer.core.frame import FrameDict

__all__ = ["Recoverable", "RolledBack", "Recovery", "NothingToRollBackTo", "ON_BLOWUP_CHOICES"]

ON_BLOWUP_CHOICES = ("recover", "pause")
"""What a runner does on a blow-up: roll back and run on, or pause (NanoVer's way)."""


class NothingToRollBackTo(RuntimeError):
    """Every kept state, the initial one included, blew up again at once."""


@dataclass(frozen=True)
class RolledBack:
    """Where a rollback went: the delta frame of the state returned to, and its age."""

    frame: FrameDict
    simulation_time: float
    """Simulation time of the state returned to, ps."""
    age: float | None
    """Wall seconds between keeping that state and the rollback; ``None`` for the initial state."""


@runtime_checkable
class Recoverable(Protocol):
    """A simulation that keeps recent good states and can go back to them."""

    def remember_good_state(self) -> None:
        """The current state passed the frame guard: keep it if one is due (cheap when not)."""

    def roll_back(self) -> RolledBack:
        """Go back to the newest kept state not yet tried, dropping the user forces."""


@dataclass(frozen=True)
class Recovery:
    """One recovery from a blow-up, as told to the runner's ``recovery_listeners``."""

    count: int
    """Recoveries since the runner started, this one included."""
    simulation: str
    cause: str
    """What blew up (the error's message)."""
    simulation_time: float
    """Simulation time of the state returned to, ps."""
    lost_time: float
    """Simulated time undone, ps (from the last frame sent to the state returned to)."""
    state_age: float | None
    """Wall seconds between keeping that state and the blow-up; ``None`` for the initial state."""
    seconds: float
    """Wall seconds from the blow-up to the rolled-back frame being published."""
    rollbacks: int
    """States tried: more than one when a state blew up again at once."""
    released: Mapping[str, str | None] = field(default_factory=dict)
    """The interactions released, by state key, with their ``owner.id`` (``None`` if unnamed)."""

    @property
    def message(self) -> str:
        """One line for users and the log."""
        back = "its initial state" if self.state_age is None else f"the state of {self.state_age:.2f} s before"
        released = f"; released {len(self.released)} interaction(s): {', '.join(sorted(self.released))}" if self.released else ""
        return (
            f"simulation `{self.simulation}` blew up ({self.cause}); rolled back to {back} "
            f"(t = {self.simulation_time:.3f} ps) and running again{released}"
        )

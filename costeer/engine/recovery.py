"""Recovering from blow-ups: what a simulation must offer, and the notice listeners get.

On a blow-up the runner (with ``on_blowup="recover"``) asks a ``Recoverable`` simulation to
``roll_back`` to its last good state (older ones if that one blows up again at once, the
initial state as last resort), releases the interactions that were live, publishes the
rolled-back frame, and hands a ``Recovery`` to each of its ``recovery_listeners`` (the
server writes it to the shared state as ``costeer.recovery`` and removes the released
interactions). When nothing is left to roll back to, ``roll_back`` raises
``NothingToRollBackTo`` and the runner pauses with that message.

Rolling back helps when a pull blew the system up, not when it blows up on its own: a blow-up
with nobody pulling, after ``LOOP_RECOVERIES`` such recoveries within ``LOOP_WINDOW_SECONDS``
of wall time, goes back to the initial state instead (the kept states may all carry the energy
of a pull that filled them); if one of those recoveries had already gone back to the initial
state, it pauses with a ``RecoveryLoopError`` frame instead of recovering forever. A pull
that ended less than ``PULL_AFTERMATH_SECONDS`` ago still counts as pulling: the kept states
the rollback returns to may carry its energy.

``BlowUpRecovery`` is that path, apart from the runner's loop: the runner hands it the
blow-up, how to release the live interactions and how to publish a frame::

    recovery = BlowUpRecovery(guard)
    recovery.recover(simulation, error, name="nanotube", pulled=True,
                     release=runner_release, publish=runner_publish, last_time=1.2)
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol, runtime_checkable

from costeer.core.frame import FrameDict
from costeer.core.interaction import Interaction

from .frame_guard import FrameGuard, UnsafeFrameError
from .good_states import PROBATION_SECONDS, SAVE_INTERVAL_SECONDS, SAVED_STATES

__all__ = [
    "BlowUpRecovery",
    "Recoverable",
    "RolledBack",
    "Recovery",
    "NothingToRollBackTo",
    "RecoveryLoopError",
    "ON_BLOWUP_CHOICES",
    "LOOP_RECOVERIES",
    "LOOP_WINDOW_SECONDS",
    "PULL_AFTERMATH_SECONDS",
]

_LOG = logging.getLogger(__name__)

ON_BLOWUP_CHOICES = ("recover", "pause")
"""What a runner does on a blow-up: roll back and run on, or pause (NanoVer's way)."""


LOOP_RECOVERIES = 5
LOOP_WINDOW_SECONDS = 10.0
"""A blow-up with nobody pulling, after ``LOOP_RECOVERIES`` recoveries with nobody pulling within
this many wall seconds, goes back to the initial state, and pauses if that was already tried
within them. A pull blowing the system up is what recovery is for; at 5 within 10 s, a system
that blows up alone every 2 s or more often is stopped within seconds, while a user who lets go
and grabs again still gets every recovery."""

PULL_AFTERMATH_SECONDS = SAVED_STATES * SAVE_INTERVAL_SECONDS + PROBATION_SECONDS
"""How long after a pull ends (let go, or released by a recovery) a blow-up is still put down to
it: the kept states span this long (plus the wait before keeping any after a rollback), so a
rollback may land on a state the pull had already filled with energy, which blows up again
with nobody pulling. Without it a crowd pulling hard paused the soak's server as unstable."""


class NothingToRollBackTo(RuntimeError):
    """Every kept state, the initial one included, blew up again at once."""


class RecoveryLoopError(RuntimeError):
    """The simulation keeps blowing up with nobody pulling: rolling back does not help."""

    def __init__(self, *, recoveries: int, seconds: float) -> None:
        super().__init__(
            f"it blew up again with nobody pulling after {recoveries} recoveries in {seconds:.1f} s, one of them "
            "to its initial state, so rolling back does not help: the system is unstable on its own (check its time step, constraints and "
            "starting structure, or load another with playback/load); paused: to go on, reset it "
            "(playback/reset) and then play it (playback/play)"
        )


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

    def roll_back(self, *, to_start: bool = False) -> RolledBack:
        """Go back to the newest kept state not yet tried, dropping the user forces.

        ``to_start``: forget every kept state and go back to the initial state.
        """


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


class BlowUpRecovery:
    """Rolls a blown-up simulation back to a state the frame guard passes, and tells the listeners.

    ``recovery = BlowUpRecovery(guard); recovery.listeners.append(notify); recovery.recover(...)``
    """

    def __init__(self, guard: FrameGuard) -> None:
        self.guard = guard
        self.listeners: list[Callable[[Recovery], None]] = []
        """Called with each ``Recovery`` on the simulation thread, before it runs on."""
        self.count = 0
        """Blow-ups recovered from so far."""
        self._unpulled: deque[tuple[float, bool]] = deque()
        """Recent recoveries from blow-ups with nobody pulling: their wall time (``time.monotonic``)
        and whether they went back to the initial state."""

    def recover(
        self,
        simulation: Recoverable,
        error: Exception,
        *,
        name: str,
        pulled: bool,
        release: Callable[[], Mapping[str, Interaction]],
        publish: Callable[[FrameDict], None],
        last_time: float | None,
    ) -> Recovery:
        """Roll back (further while the state returned to is refused), release, publish, tell.

        ``pulled``: someone pulls, or did within ``PULL_AFTERMATH_SECONDS``. ``release``
        forgets the live interactions and returns them; ``publish`` sends the rolled-back
        frame. With nobody pulling and too many blow-ups lately it goes back to the initial
        state, or raises ``RecoveryLoopError`` if one of them already did; it raises what
        ``roll_back`` raises (``NothingToRollBackTo``).
        """
        now = time.monotonic()
        recent = self._unpulled
        while recent and now - recent[0][0] > LOOP_WINDOW_SECONDS:
            recent.popleft()
        to_start = not pulled and len(recent) >= LOOP_RECOVERIES
        if to_start:
            if any(from_start for _, from_start in recent):
                loop = RecoveryLoopError(recoveries=len(recent), seconds=now - recent[0][0])
                recent.clear()
                raise loop
            _LOG.warning(
                "simulation `%s` blew up %d times in %.1f s with nobody pulling: going back to its initial state",
                name, len(recent) + 1, now - recent[0][0],
            )
        started = time.perf_counter()
        rollbacks = 0
        while True:
            rollbacks += 1
            rolled = simulation.roll_back(to_start=to_start and rollbacks == 1)
            try:
                self.guard.check(rolled.frame)
            except UnsafeFrameError:
                continue
            break
        released = {key: _owner(interaction) for key, interaction in release().items()}
        lost = 0.0 if last_time is None else max(0.0, last_time - rolled.simulation_time)
        publish(rolled.frame)
        self.count += 1
        if not pulled:
            recent.append((now, rolled.age is None))
        recovery = Recovery(
            count=self.count,
            simulation=name,
            cause=getattr(error, "cause", str(error)),
            simulation_time=rolled.simulation_time,
            lost_time=lost,
            state_age=rolled.age,
            seconds=time.perf_counter() - started,
            rollbacks=rollbacks,
            released=released,
        )
        _LOG.warning("%s (recovery %d, %.3f s)", recovery.message, recovery.count, recovery.seconds)
        for listener in list(self.listeners):
            try:
                listener(recovery)
            except Exception:
                _LOG.exception("a recovery listener failed")
        return recovery


def _owner(interaction: Interaction) -> str | None:
    """The user id a client put in an interaction (``owner.id``), if any."""
    owner = interaction.properties.get("owner.id")
    return None if owner is None else str(owner)

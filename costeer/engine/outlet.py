"""The runner's way out: every frame through the frame guard, then to the publisher, counted.

    out = FrameOutlet(hub)
    out.start_sequence(full_frame)   # after a reset: sets the guard's reach, send_clear, publishes
    out.publish_checked(delta)       # raises UnsafeFrameError (a blow-up) instead of publishing
    out.publish(rolled_back_frame)   # unchecked: the caller checked it
    out.publish_exception(error, simulation_name="nanotube")   # NanoVer's exception frame
    out.let_readers_finish()         # before stepping on, when the simulation's threads take every core

Nothing the guard refuses reaches the publisher, so no client and no recording gets it.

When OpenMM's CPU workers take every core, they wait on each other at every step, so any
other thread that runs meanwhile stalls them all: a network thread using 3% of a core cost
villin 10-25% of its steps. So, with ``readers_wait`` set, the runner lets the frame's
readers (the clients' sends, the recorder) finish before stepping on, up to that long: their
work then costs the simulation its own time, not several times it.
"""

from __future__ import annotations

import logging

from costeer.core import keys
from costeer.core.frame import FrameDict
from costeer.core.simulation import FramePublisher

from .frame_guard import FrameGuard, SimulationBlowUpError

__all__ = ["FrameOutlet", "READERS_WAIT_SHARE"]

_LOG = logging.getLogger(__name__)

READERS_WAIT_SHARE = 0.2
"""The longest the simulation waits for a frame's readers, as a share of the frame interval."""


class FrameOutlet:
    """A publisher behind a ``FrameGuard``, counting what it sent and remembering the last time."""

    def __init__(self, publisher: FramePublisher) -> None:
        self.publisher = publisher
        self.guard = FrameGuard()
        self.frames_published = 0
        """Frames sent (exception frames and resets included)."""
        self.last_time: float | None = None
        """Simulation time of the last frame sent that had one, ps."""
        self.readers_wait = 0.0
        """How long ``let_readers_finish`` waits, s; 0: it returns at once."""

    def start_sequence(self, frame: FrameDict) -> None:
        """A new frame sequence from ``frame``, a full frame: it sets the guard's reach and must pass it."""
        self.guard.start(frame)
        self.guard.check(frame)
        self.publisher.send_clear()
        self.publish(frame)

    def publish_checked(self, frame: FrameDict) -> None:
        """Publish ``frame`` if the guard passes it; raises ``UnsafeFrameError`` if not."""
        self.guard.check(frame)
        self.publish(frame)

    def publish(self, frame: FrameDict) -> None:
        """Publish ``frame`` as it is."""
        self.publisher.send_frame(frame)
        self.frames_published += 1
        time_ps = frame.get(keys.SIMULATION_TIME)
        if time_ps is not None:
            self.last_time = time_ps

    def let_readers_finish(self) -> None:
        """Wait (up to ``readers_wait``) until the readers of the last frame are done with it."""
        if self.readers_wait > 0:
            self.publisher.wait_for_readers(self.readers_wait)

    def publish_exception(self, error: Exception, *, simulation_name: str) -> None:
        """NanoVer's ``system.simulation.exception`` frame for ``error`` (the caller pauses); logged."""
        message = f"{type(error).__name__} during simulation `{simulation_name}`: {error}"
        if isinstance(error, SimulationBlowUpError) and "playback/play" not in message:
            message += "; paused: to go on, reset it (playback/reset) and then play it (playback/play)"
        _LOG.error("%s (paused)", message, exc_info=error)
        try:
            self.publish({keys.SIMULATION_EXCEPTION: message})
        except Exception:
            _LOG.exception("could not publish the exception frame")

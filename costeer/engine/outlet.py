"""The runner's way out: every frame through the frame guard, then to the publisher, counted.

    out = FrameOutlet(hub)
    out.start_sequence(full_frame)   # after a reset: sets the guard's reach, send_clear, publishes
    out.publish_checked(delta)       # raises UnsafeFrameError (a blow-up) instead of publishing
    out.publish(rolled_back_frame)   # unchecked: the caller checked it
    out.publish_exception(error, simulation_name="nanotube")   # NanoVer's exception frame

Nothing the guard refuses reaches the publisher, so no client and no recording gets it.
"""

from __future__ import annotations

import logging

from costeer.core import keys
from costeer.core.frame import FrameDict
from costeer.core.simulation import FramePublisher

from .frame_guard import FrameGuard, SimulationBlowUpError

__all__ = ["FrameOutlet"]

_LOG = logging.getLogger(__name__)


class FrameOutlet:
    """A publisher behind a ``FrameGuard``, counting what it sent and remembering the last time."""

    def __init__(self, publisher: FramePublisher) -> None:
        self.publisher = publisher
        self.guard = FrameGuard()
        self.frames_published = 0
        """Frames sent (exception frames and resets included)."""
        self.last_time: float | None = None
        """Simulation time of the last frame sent that had one, ps."""

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

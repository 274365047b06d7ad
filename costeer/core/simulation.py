"""The contract between the simulation thread and what it runs (OpenMM or a recording), and
``close_simulations`` for the optional ``close`` some of them have."""

from __future__ import annotations

import logging
from typing import Iterable, Mapping, Protocol, runtime_checkable

from .frame import FrameDict
from .interaction import Interaction

__all__ = ["Simulation", "FreeRunning", "FramePublisher", "close_simulations"]

_LOG = logging.getLogger(__name__)


class Simulation(Protocol):
    """Something the runner can load, reset and advance, producing frames.

    The runner calls these from its own thread only. ``reset`` returns the full frame
    (topology and positions) that starts a new frame sequence; ``advance`` returns the
    delta frame reached after moving on (or ``None`` when nothing changed).
    """

    name: str

    def load(self) -> None:
        """Do the expensive set-up (parse files, build the OpenMM context); idempotent."""

    def reset(self) -> FrameDict:
        """Return to the initial conditions and return a full frame."""

    def advance(self, seconds: float) -> FrameDict | None:
        """Advance by one frame interval (``seconds`` of wall time since the last call)."""

    def set_interactions(self, interactions: Mapping[str, Interaction]) -> None:
        """Replace the live interactions; applied from the next advance on."""

    def close(self) -> None:
        """Release what ``load`` built (contexts, open files). Optional: the runner calls it,
        when present, as it stops; ``load`` may be called again afterwards."""


@runtime_checkable
class FreeRunning(Protocol):
    """A simulation that can run unpaced: step a chunk cheaply, build a frame on demand."""

    def run_chunk(self) -> None:
        """Run one chunk of steps (refreshing user forces); fetch nothing that is not needed."""

    def current_frame(self) -> FrameDict:
        """The delta frame for the current state."""


class FramePublisher(Protocol):
    """Where a runner sends frames (the server's frame hub implements it).

    Mirrors NanoVer's publisher: ``send_clear`` starts a new frame sequence (the next
    frame gets ``frame.index`` 0 semantics for clients), ``send_frame`` publishes a delta.
    The publisher stamps ``frame.index``, ``server.timestamp`` and
    ``system.simulation.counter``.
    """

    def send_clear(self) -> None:
        """Start a new sequence of frames (after load or reset)."""

    def send_frame(self, frame: FrameDict) -> None:
        """Publish one (delta) frame; must be cheap and never block on clients."""

    def wait_for_readers(self, timeout: float) -> bool:
        """Block until the readers of the last frame are done with it, or ``timeout`` s (the
        runner calls it, when the simulation's threads need every core, before stepping on)."""


def close_simulations(simulations: Iterable[Simulation]) -> None:
    """Release each simulation's resources (OpenMM contexts, open files) through its optional
    ``close``; one that fails is logged and the others are still closed."""
    for simulation in simulations:
        close = getattr(simulation, "close", None)
        if close is None:
            continue
        try:
            close()
        except Exception:
            _LOG.exception("closing simulation %r failed", simulation.name)

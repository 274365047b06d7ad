"""Stand-ins for the runner tests: a publisher that keeps what it is sent, and small simulations."""

from __future__ import annotations

import threading
import time
from typing import Mapping

from costeer.core import keys
from costeer.core.frame import FrameDict
from costeer.core.interaction import Interaction


class FakePublisher:
    """Records what the runner publishes: ("clear", None) or ("frame", frame)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, FrameDict | None]] = []
        self.lock = threading.Lock()
        self.readers_waits: list[float] = []
        """The timeout of each ``wait_for_readers`` call."""

    def send_clear(self) -> None:
        with self.lock:
            self.events.append(("clear", None))

    def send_frame(self, frame: FrameDict) -> None:
        with self.lock:
            self.events.append(("frame", frame))

    def wait_for_readers(self, timeout: float) -> bool:
        with self.lock:
            self.readers_waits.append(timeout)
        return True

    def frames(self) -> list[FrameDict]:
        with self.lock:
            return [frame for kind, frame in self.events if kind == "frame"]

    def clear_events(self) -> None:
        with self.lock:
            self.events.clear()


class CountingSimulation:
    """A minimal Simulation (the four Protocol methods only), like recording playback."""

    def __init__(self, name: str = "counter") -> None:
        self.name = name
        self.particle_count = 3
        self.advances = 0
        self.interactions: Mapping[str, Interaction] = {}

    def load(self) -> None:
        pass

    def reset(self) -> FrameDict:
        self.advances = 0
        return {keys.PARTICLE_COUNT: 3, keys.SIMULATION_NAME: self.name}

    def advance(self, seconds: float) -> FrameDict:
        self.advances += 1
        return {keys.SIMULATION_TIME: float(self.advances)}

    def set_interactions(self, interactions: Mapping[str, Interaction]) -> None:
        self.interactions = interactions


class ClosableSimulation(CountingSimulation):
    """Counts ``close`` calls; ``advance`` takes ``delay`` s (or blocks until ``release`` is set)."""

    def __init__(self, name: str = "closable", delay: float = 0.0) -> None:
        super().__init__(name)
        self.delay = delay
        self.release = threading.Event()
        self.release.set()
        self.held = threading.Event()
        """Set once an ``advance`` is waiting for ``release``."""
        self.closed = 0

    def advance(self, seconds: float) -> FrameDict:
        if not self.release.is_set():
            self.held.set()
        self.release.wait(10)
        time.sleep(self.delay)
        return super().advance(seconds)

    def close(self) -> None:
        self.closed += 1

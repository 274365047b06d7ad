"""FrameOutlet: every frame through the guard, then to the publisher; NanoVer's exception frames."""

from __future__ import annotations

import numpy as np
import pytest

from costeer.core import keys
from costeer.engine.frame_guard import SimulationBlowUpError, UnsafeFrameError
from costeer.engine.outlet import FrameOutlet


class Kept:
    def __init__(self) -> None:
        self.events: list = []

    def send_clear(self) -> None:
        self.events.append("clear")

    def send_frame(self, frame) -> None:
        self.events.append(frame)

    def wait_for_readers(self, timeout: float) -> bool:
        self.events.append(("wait", timeout))
        return True


def _frame(x: float, time_ps: float) -> dict:
    return {keys.PARTICLE_POSITIONS: np.full((3, 3), x, dtype=np.float32), keys.SIMULATION_TIME: time_ps}


def test_a_sequence_starts_with_a_clear_and_refused_frames_never_reach_the_publisher() -> None:
    kept = Kept()
    out = FrameOutlet(kept)
    out.start_sequence(_frame(1.0, 0.5))
    out.publish_checked(_frame(1.1, 0.6))
    with pytest.raises(UnsafeFrameError):
        out.publish_checked(_frame(np.inf, 0.7))
    with pytest.raises(UnsafeFrameError):
        out.publish_checked(_frame(1e6, 0.8))
    assert kept.events[0] == "clear" and len(kept.events) == 3
    assert out.frames_published == 2 and out.last_time == 0.6


def test_an_exception_frame_says_how_to_go_on_after_a_blow_up() -> None:
    kept = Kept()
    out = FrameOutlet(kept)
    out.publish_exception(SimulationBlowUpError("it blew up"), simulation_name="nanotube")
    out.publish_exception(ValueError("bad"), simulation_name="nanotube")
    blown, other = (event[keys.SIMULATION_EXCEPTION] for event in kept.events)
    assert blown.startswith("SimulationBlowUpError during simulation `nanotube`: it blew up")
    assert "playback/reset" in blown and "playback/play" in blown
    assert other == "ValueError during simulation `nanotube`: bad"


def test_letting_the_readers_finish_waits_only_when_a_wait_is_set() -> None:
    kept = Kept()
    out = FrameOutlet(kept)
    out.let_readers_finish()
    assert kept.events == []
    out.readers_wait = 0.005
    out.let_readers_finish()
    assert kept.events == [("wait", 0.005)]

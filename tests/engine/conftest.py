"""Fixtures for the engine tests: publishers that keep what they are sent, runners, waiting on a condition."""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable, Iterator

import pytest

from costeer.core.frame import FrameDict
from costeer.engine.runner import SimulationRunner
from tests.engine.runner_doubles import FakePublisher
from tests.waiting import wait_until


class FramesKept:
    """A runner's publisher that keeps every frame it is sent (clears are ignored)."""

    def __init__(self) -> None:
        self.frames: list[FrameDict] = []
        self.lock = threading.Lock()

    def send_clear(self) -> None:
        pass

    def send_frame(self, frame: FrameDict) -> None:
        with self.lock:
            self.frames.append(frame)

    def wait_for_readers(self, timeout: float) -> bool:
        return True

    def snapshot(self) -> list[FrameDict]:
        with self.lock:
            return list(self.frames)


@pytest.fixture
def publisher() -> FramesKept:
    return FramesKept()


@pytest.fixture
def wait_for() -> Callable[..., Any]:
    """``wait_until`` (``tests.waiting``) with 20 s to wait by default."""
    return functools.partial(wait_until, timeout=20.0)


@pytest.fixture
def run() -> Iterator[Callable[..., tuple[SimulationRunner, FakePublisher]]]:
    """``run(simulations, **options)`` starts a runner publishing to a ``FakePublisher``; closed after the test."""
    runners: list[SimulationRunner] = []

    def start(simulations: list, **options: Any) -> tuple[SimulationRunner, FakePublisher]:
        publisher = FakePublisher()
        runner = SimulationRunner(simulations, publisher, **options)
        runners.append(runner)
        runner.start()
        return runner, publisher

    yield start
    for runner in runners:
        runner.close()

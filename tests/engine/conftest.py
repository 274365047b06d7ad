"""Fixtures for the engine tests: a publisher that keeps every frame, and waiting on a condition."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import pytest

from costeer.core.frame import FrameDict


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

    def snapshot(self) -> list[FrameDict]:
        with self.lock:
            return list(self.frames)


def _wait_for(condition: Callable[[], Any], timeout: float = 20.0) -> Any:
    """``condition()``'s first truthy value, polled every 10 ms; fails after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


@pytest.fixture
def publisher() -> FramesKept:
    return FramesKept()


@pytest.fixture
def wait_for() -> Callable[..., Any]:
    return _wait_for

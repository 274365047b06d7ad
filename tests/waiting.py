"""``wait_until``: poll a condition until it holds, for tests of threads, servers and processes.

    from tests.waiting import wait_until
    frame = wait_until(lambda: client.frames[-1] if client.frames else None, what="a frame")
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

__all__ = ["wait_until", "POLL_SECONDS"]

T = TypeVar("T")

POLL_SECONDS = 0.01
"""How long to sleep between two looks at the condition."""


def wait_until(condition: Callable[[], T], timeout: float = 10.0, what: str = "the condition") -> T:
    """``condition()``'s first truthy value, looked at every ``POLL_SECONDS``; ``AssertionError``
    naming ``what`` if it has not held within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(POLL_SECONDS)
    return value

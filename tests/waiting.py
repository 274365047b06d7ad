"""Waiting in tests of threads, servers and processes: ``wait_until`` polls a condition,
``first_arrival`` waits on a list that a thread appends to under a ``threading.Condition``.

    from tests.waiting import first_arrival, wait_until
    frame = wait_until(lambda: client.frames[-1] if client.frames else None, what="a frame")
    message = first_arrival(hub.received, hub.changed, lambda m: "state" in m, timeout=5, what=...)
"""

from __future__ import annotations

import threading
import time
from typing import Callable, TypeVar

__all__ = ["wait_until", "first_arrival", "POLL_SECONDS"]

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


def first_arrival(
    items: list[T], changed: threading.Condition, found: Callable[[T], bool], *, timeout: float, after: int = 0,
    what: Callable[[], str],
) -> T:
    """The first of ``items[after:]`` that ``found`` accepts, waiting on ``changed`` (which the
    appending thread notifies, holding it while it appends); ``AssertionError`` with ``what()``
    if none has come within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    with changed:
        while True:
            for item in items[after:]:
                if found(item):
                    return item
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(what())
            changed.wait(left)

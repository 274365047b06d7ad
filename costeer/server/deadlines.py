"""Callbacks run at their deadlines, by one daemon thread for the whole process.

Used for timeouts that must fire although nothing else happens (a forwarded command request
its provider never answers)::

    DEADLINES.add(time.monotonic() + 30.0, lambda: give_up(request_id))
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Callable

__all__ = ["Deadlines", "DEADLINES"]

_log = logging.getLogger(__name__)


class Deadlines:
    """A heap of (deadline, callback); its thread starts with the first ``add``."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, deadline: float, callback: Callable[[], None]) -> None:
        """Call ``callback()`` at ``time.monotonic()`` ``deadline`` (in this object's thread)."""
        with self._condition:
            heapq.heappush(self._heap, (deadline, next(self._order), callback))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="costeer-deadlines", daemon=True)
                self._thread.start()
            self._condition.notify()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._condition.wait(None if not self._heap else self._heap[0][0] - time.monotonic())
                _, _, callback = heapq.heappop(self._heap)
            try:
                callback()
            except Exception:
                _log.exception("a callback at its deadline failed")


DEADLINES = Deadlines()

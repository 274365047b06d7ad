"""What other threads hand the simulation thread: commands in order, and the latest interactions.

    queue = ControlQueue()
    queue.put("play")                       # from any thread; returns at once
    done = queue.request_switch("load", 1)  # a Future completed once the switch is done
    while (command := queue.pop()) is not None:
        name, argument = command            # on the simulation thread

``stop`` goes before everything queued (``put(..., first=True)``); switches still queued when
the runner stops fail with ``fail_switches``. The runner maps each name to its handler in a
table (``SimulationRunner._handlers``), so a new command is one entry there, not another
branch.

``LatestInteractions`` holds the live interactions set from any thread; the simulation thread
takes them when their version changed (only the latest set matters, so nothing queues). It also
remembers when the last pull ended, so a blow-up soon after one can be put down to it
(``pulled_within``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future
from typing import Any, Callable, Mapping

from costeer.core.interaction import Interaction

__all__ = ["ControlQueue", "LatestInteractions", "SWITCHES"]

SWITCHES = ("load", "next")
"""Commands that switch simulation: their argument is ``(index, Future)``."""


class ControlQueue:
    """Commands queued for the simulation thread, and the condition it waits on between frames."""

    def __init__(self) -> None:
        self._commands: deque[tuple[str, Any]] = deque()
        self._wake = threading.Condition()

    def __bool__(self) -> bool:
        """Whether a command is waiting (read without the lock: a hint for the loop)."""
        return bool(self._commands)

    def put(self, name: str, argument: Any = None, *, first: bool = False) -> None:
        """Queue a command (before all others when ``first``) and wake the simulation thread."""
        with self._wake:
            if first:
                self._commands.appendleft((name, argument))
            else:
                self._commands.append((name, argument))
            self._wake.notify()

    def request_switch(self, name: str, index: int | None) -> "Future[None]":
        """Queue a switch (``load`` or ``next``); the Future completes once it is done."""
        if name not in SWITCHES:
            raise ValueError(f"a switch is one of {', '.join(SWITCHES)}, got {name!r}")
        done: Future[None] = Future()
        self.put(name, (index, done))
        return done

    def pop(self) -> tuple[str, Any] | None:
        """The oldest command and its argument, or ``None`` when none is waiting."""
        with self._wake:
            return self._commands.popleft() if self._commands else None

    def wait(self, timeout: float | None) -> None:
        """Sleep up to ``timeout`` s (``None``: until a command comes), unless one is waiting."""
        with self._wake:
            if not self._commands:
                self._wake.wait(timeout)

    def fail_switches(self, reason: str) -> None:
        """Drop the switches still queued, failing their Futures with ``reason``."""
        with self._wake:
            switches = [command for command in self._commands if command[0] in SWITCHES]
            for command in switches:
                self._commands.remove(command)
        for _, (_, done) in switches:
            if not done.done():
                done.set_exception(RuntimeError(reason))


class LatestInteractions:
    """The live interactions, replaced whole from any thread, versioned for the simulation thread."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._interactions: dict[str, Interaction] = {}
        self._clock = clock
        self._pull_ended = -float("inf")
        """When the live interactions last went from some to none, in the clock's seconds."""
        self.version = 0
        """Bumped by every change (read without the lock: a hint for the loop)."""

    def __bool__(self) -> bool:
        """Whether any interaction is live."""
        with self._lock:
            return bool(self._interactions)

    def set(self, interactions: Mapping[str, Interaction]) -> None:
        """Replace every live interaction at once."""
        with self._lock:
            self._replace(dict(interactions))

    def get(self) -> tuple[int, dict[str, Interaction]]:
        """The version and the interactions of that version (do not modify them)."""
        with self._lock:
            return self.version, self._interactions

    def clear(self, *, aftermath: bool = True) -> dict[str, Interaction]:
        """Forget every live interaction; return the ones forgotten.

        With ``aftermath`` (a release) ``pulled_within`` goes on counting them for a while, as
        their energy stays in the system; a load passes ``False``: a new system has none of it.
        """
        with self._lock:
            cleared = self._interactions
            self._replace({})
            if not aftermath:
                self._pull_ended = -float("inf")
        return cleared

    def pulled_within(self, seconds: float) -> bool:
        """Whether an interaction is live, or was within the last ``seconds``."""
        with self._lock:
            return bool(self._interactions) or self._clock() - self._pull_ended <= seconds

    def _replace(self, interactions: dict[str, Interaction]) -> None:
        if self._interactions and not interactions:
            self._pull_ended = self._clock()
        self._interactions = interactions
        self.version += 1

"""``LoopThread``: an asyncio event loop in a daemon thread, where a socket transport listens and serves.

The WebSocket and IMD transports each serve from one: start it, open the listening socket on
it (a taken port is an ``OSError`` that names the address and the option to change), and stop
it after a last coroutine has closed the connections (then whatever tasks are left are
cancelled and given a moment to clean up, before the loop closes)::

    loop_thread = LoopThread("costeer-imd3")
    server = loop_thread.listen(lambda: asyncio.start_server(handle, "127.0.0.1", 0),
                                where="for IMD on 127.0.0.1:0", option="--imd-port")
    loop_thread.stop(shutdown, what="the IMD connections", timeout=10)
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Awaitable, Callable, TypeVar

__all__ = ["LoopThread"]

Listening = TypeVar("Listening")

_log = logging.getLogger(__name__)

LEFTOVER_SECONDS = 2.0
"""How long ``stop`` lets the tasks still on the loop after ``shutdown`` finish once cancelled."""


class LoopThread:
    """One event loop running in its own daemon thread, started once and stopped once."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        """The running loop, from ``start`` until ``stop``."""
        self._thread: threading.Thread | None = None

    def start(self) -> asyncio.AbstractEventLoop:
        """Run a new event loop in a daemon thread; returns it."""
        loop = asyncio.new_event_loop()
        self.loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name=self.name, daemon=True)
        self._thread.start()
        return loop

    def listen(self, open_server: Callable[[], Awaitable[Listening]], *, where: str, option: str) -> Listening:
        """Open the listening socket on the loop (started first if need be); a taken port stops the loop and
        raises ``OSError`` saying ``cannot listen {where}`` and to choose another ``option``."""
        loop = self.loop or self.start()
        try:
            return asyncio.run_coroutine_threadsafe(open_server(), loop).result()  # type: ignore[arg-type]
        except OSError as error:
            self.stop(None, what="the listener", timeout=1)
            raise OSError(
                error.errno, f"cannot listen {where} ({error.strerror}); choose another {option} or stop the program using it"
            ) from None

    def stop(self, shutdown: Callable[[], Awaitable[Any]] | None, *, what: str, timeout: float) -> None:
        """Run ``shutdown()`` on the loop (waiting up to ``timeout`` s), then stop the loop and its thread;
        never raises, and does nothing the second time."""
        loop, self.loop = self.loop, None
        if loop is None:
            return
        try:
            if shutdown is not None and loop.is_running():
                asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=timeout)  # type: ignore[arg-type]
        except Exception:
            _log.exception("closing %s failed; stopping anyway", what)
        try:
            if loop.is_running():  # e.g. a connection accepted as the listener closed: its handler began after shutdown looked
                asyncio.run_coroutine_threadsafe(_cancel_the_rest(LEFTOVER_SECONDS), loop).result(timeout=LEFTOVER_SECONDS + 1)
        except Exception:
            _log.exception("cancelling what was left of %s failed; stopping anyway", what)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=10)
            if not loop.is_running():
                loop.close()


async def _cancel_the_rest(seconds: float) -> None:
    """Cancel every other task on this loop and wait up to ``seconds`` for them to end, so their
    clean-up runs on a live loop rather than when a closed loop's tasks are collected."""
    this = asyncio.current_task()
    rest = [task for task in asyncio.all_tasks() if task is not this]
    for task in rest:
        task.cancel()
    if rest:
        await asyncio.wait(rest, timeout=seconds)

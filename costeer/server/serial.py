"""One lane of work on a shared thread pool: tasks run one at a time, in the order submitted.

Each client's commands get their own ``SerialExecutor`` over the server's one bounded
pool, so a client's commands still run (and are answered) in its order, while a slow
command of one client holds up only that client: another client's ``playback/play`` runs
on another thread of the pool. A lane holds at most one pool thread at a time, and hands
it back after every task, so busy lanes take turns with the others.

    pool = ThreadPoolExecutor(max_workers=8)
    lane = SerialExecutor(pool)
    lane.submit(print, "first"); lane.submit(print, "second")
"""

from __future__ import annotations

import collections
import threading
from concurrent.futures import Executor, Future
from typing import Any, Callable

__all__ = ["SerialExecutor"]

_Task = tuple[Future, Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class SerialExecutor(Executor):
    """Runs submitted calls one after another on ``pool`` (never two at once).

        lane = SerialExecutor(pool)
        lane.submit(runner.play).result()
    """

    def __init__(self, pool: Executor) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._queue: collections.deque[_Task] = collections.deque()
        self._running = False
        """Whether a task of this lane is on the pool (queued there or running)."""
        self._shut_down = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Queue ``fn(*args, **kwargs)`` behind this lane's earlier calls; returns its Future."""
        future: Future = Future()
        with self._lock:
            if self._shut_down:
                raise RuntimeError("this command lane is shut down (its client left or the server is closing)")
            self._queue.append((future, fn, args, kwargs))
            if self._running:
                return future
            self._running = True
        self._hand_to_pool()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new calls; with ``cancel_futures``, cancel those not started. The pool is
        not this lane's to shut down, so ``wait`` waits for nothing."""
        with self._lock:
            self._shut_down = True
            cancelled = list(self._queue) if cancel_futures else []
            if cancel_futures:
                self._queue.clear()
        for future, *_ in cancelled:
            future.cancel()

    def _hand_to_pool(self) -> None:
        try:
            self._pool.submit(self._run_next)
        except RuntimeError as error:  # the pool is shut down: nothing of this lane can run
            with self._lock:
                stranded, self._queue = list(self._queue), collections.deque()
                self._running = False
            for future, *_ in stranded:
                if future.set_running_or_notify_cancel():
                    future.set_exception(RuntimeError(f"the server is shutting down ({error})"))

    def _run_next(self) -> None:
        """Run the oldest queued call, then give the thread back and queue the lane again."""
        with self._lock:
            task = self._queue.popleft() if self._queue else None
        if task is not None:
            future, fn, args, kwargs = task
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as error:
                    future.set_exception(error)
                else:
                    future.set_result(result)
        with self._lock:
            if not self._queue:
                self._running = False
                return
        self._hand_to_pool()

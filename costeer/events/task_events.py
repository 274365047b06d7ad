"""``TaskWatch``: frames of a served task as events (task progress and success).

No I/O, and time comes from the caller (only what a success check costs is timed): feed it
each (unpacked) frame taken from a frame subscription with ``frame(frame, now=...)``; it
returns ``(kind, payload)`` pairs.

- An episode starts with the first frame and with every new ``system.simulation.counter``
  (a reset or a load). The task's atoms are chosen from the frame's elements and bonds
  (``task.select``); a system the task does not fit gives no task events (logged once).
- ``task/progress``, at most every ``progress_interval`` seconds (4 a second by default): the
  grabbed atoms' centre in the task frame, whose +z points the way the task is done.
- ``task/success``, once per episode: the task's own success detector (``task.evaluate``) run
  on the episode's positions so far. Its cost grows with the episode (about 45 µs a kept frame
  for the nanotube), so positions are kept at most ``sample_rate`` times a second (10), the last
  ``window_frames`` of them (1200: two minutes), fewer for big systems (at most ``window_bytes``
  of float32), and it runs every ``check_interval`` seconds (0.5) or, when it took longer,
  every ten times what it took: at most a tenth of a core. A success whose whole path is older
  than the window is missed; its frame is known to within a kept frame (0.1 s).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any, Mapping

import numpy as np

from costeer.core import keys
from costeer.tasks import AtomSelection, Chemistry, ChemistryError, Task, TaskFrame

from .state_events import Event, plain

__all__ = ["TaskWatch"]

_log = logging.getLogger(__name__)


class TaskWatch:
    """Task progress and success from a served task's frames (see the module docstring).

        watch = TaskWatch(get_task("nanotube"))
        for kind, payload in watch.frame(unpack_frame(packed), now=time.monotonic()): ...
    """

    def __init__(
        self,
        task: Task,
        *,
        progress_interval: float = 0.25,
        check_interval: float = 0.5,
        sample_rate: float = 10.0,
        window_frames: int = 1200,
        window_bytes: int = 50_000_000,
    ) -> None:
        self.task = task
        self._progress_interval = progress_interval
        self._check_interval = check_interval
        self._sample_interval = 1.0 / sample_rate
        self._window_frames = window_frames
        self._window_bytes = window_bytes
        self._counter: Any = object()
        self._selection: AtomSelection | None = None
        self._unfit_logged = False
        self._episode = 0
        self._positions: deque[np.ndarray] = deque()
        self._indices: deque[int] = deque()
        self._times: deque[float | None] = deque()
        self._done = False
        self._task_frame: TaskFrame | None = None
        self._next_progress = float("-inf")
        self._next_check = float("-inf")
        self._next_sample = float("-inf")

    def frame(self, frame: Mapping[str, Any], *, now: float) -> list[Event]:
        """The events this frame brings (numpy arrays, as ``unpack_frame`` gives)."""
        counter = frame.get(keys.SIMULATION_COUNTER, self._counter)
        if counter != self._counter:
            self._counter = counter
            self._new_episode(frame, counter)
        positions = frame.get(keys.PARTICLE_POSITIONS)
        if self._selection is None or positions is None:
            return []
        positions = np.asarray(positions, dtype=np.float32).reshape(-1, 3)
        if self._positions and positions.shape != self._positions[-1].shape:  # another system without a reset
            self._new_episode(frame, counter)
            if self._selection is None:
                return []
        index, time_ps = int(frame.get(keys.FRAME_INDEX, 0)), frame.get(keys.SIMULATION_TIME)
        if now >= self._next_sample:
            self._next_sample = now + self._sample_interval
            self._positions.append(positions.copy())
            self._indices.append(index)
            self._times.append(None if time_ps is None else float(time_ps))
            limit = max(2, min(self._window_frames, self._window_bytes // max(1, positions.nbytes)))
            while len(self._positions) > limit:
                self._positions.popleft(), self._indices.popleft(), self._times.popleft()
        events: list[Event] = []
        if not self._done and now >= self._next_check:
            started = time.perf_counter()
            events += self._check_success()
            self._next_check = now + max(self._check_interval, 10 * (time.perf_counter() - started))
        if now >= self._next_progress:
            self._next_progress = now + self._progress_interval
            events += self._progress(positions, index, time_ps)
        return events

    def _new_episode(self, frame: Mapping[str, Any], counter: Any) -> None:
        self._episode = int(counter) if isinstance(counter, (int, np.integer)) else self._episode + 1
        self._positions.clear(), self._indices.clear(), self._times.clear()
        self._done, self._task_frame = False, None
        self._next_progress = self._next_check = self._next_sample = float("-inf")
        if keys.PARTICLE_ELEMENTS not in frame or keys.BOND_PAIRS not in frame:
            return  # the same system reset: keep the selection
        try:
            self._selection = self.task.select(Chemistry.from_frame(frame))
        except ChemistryError as error:
            self._selection = None
            if not self._unfit_logged:
                _log.warning("no task events: task %r does not fit this system (%s)", self.task.name, error)
                self._unfit_logged = True

    def _progress(self, positions: np.ndarray, index: int, time_ps: Any) -> list[Event]:
        assert self._selection is not None
        lab = positions.astype(np.float64)[None]
        task_frame = self.task.frames(lab, self._selection, previous=self._task_frame)
        self._task_frame = task_frame
        centre = task_frame.to_task(lab[:, self._selection.grabbed, :]).mean(axis=1)[0]
        return [("task/progress", {
            "task": self.task.name,
            "episode": self._episode,
            "frame_index": index,
            "simulation_time_ps": None if time_ps is None else float(time_ps),
            "position": plain(centre),
            "done": self._done,
        })]

    def _check_success(self) -> list[Event]:
        assert self._selection is not None
        if len(self._positions) < 2:
            return []
        outcome = self.task.evaluate(np.stack(self._positions).astype(np.float64), self._selection)
        if not outcome.success:
            return []
        self._done = True
        at = outcome.success_index if outcome.success_index is not None else len(self._positions) - 1
        at = min(max(int(at), 0), len(self._positions) - 1)
        start, when = self._times[0], self._times[at]
        return [("task/success", {
            "task": self.task.name,
            "episode": self._episode,
            "frame_index": self._indices[at],
            "simulation_time_ps": when,
            "episode_time_ps": None if start is None or when is None else when - start,
            "details": plain(outcome.details()),
        })]

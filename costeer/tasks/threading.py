"""Did a path thread a tube? Finds each stay inside the tube's hull and the ends it used.

Success: some stay inside (an inside-interval) was entered through one end and left through
the other. Backing out the way it came, passing alongside, stopping inside and never entering
are not successes. Which end a crossing used is read from the sample outside the hull next to
the interval: beyond ``-half_length`` is the near end, beyond ``+half_length`` the far end,
otherwise the wall (the side of the tube).

An optional ``margin`` makes leaving take a clear step out: a stay starts when a point is in
the hull but ends only when a point is outside the hull grown by ``margin`` on every side, so
thermal jitter across an end's plane neither ends a stay nor counts as leaving.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from costeer.tasks.tube import TubeHull

__all__ = ["End", "Passage", "ThreadingOutcome", "detect_threading"]

End = Literal["near", "far", "wall"]
"""Where a path crossed the hull: the near end (z < 0 in the task frame), the far end, the side."""

_THROUGH = {("near", "far"), ("far", "near")}


@dataclass(frozen=True)
class Passage:
    """One inside-interval of a path: indices and the ends it came in and went out by.

    Usage: ``passage.threads  # True when it entered at one end and left at the other``
    """

    entry_index: int
    """First sample inside the hull."""
    exit_index: int | None
    """First sample outside the hull after it; ``None`` when the path ends inside."""
    entry_end: End | None
    """Where it came in; ``None`` when the path starts inside (unknown)."""
    exit_end: End | None
    """Where it went out; ``None`` when the path ends inside."""

    @property
    def threads(self) -> bool:
        return (self.entry_end, self.exit_end) in _THROUGH


@dataclass(frozen=True)
class ThreadingOutcome:
    """The verdict on one path, with every passage for the record.

    Usage: ``outcome = detect_threading(path, hull); outcome.success, outcome.success_index``
    """

    success: bool
    passages: tuple[Passage, ...]

    @property
    def threading_passage(self) -> Passage | None:
        """The first passage that threaded the tube, if any."""
        return next((passage for passage in self.passages if passage.threads), None)

    @property
    def success_index(self) -> int | None:
        """The sample at which the task was first done (the exit of the first threading passage)."""
        passage = self.threading_passage
        return None if passage is None else passage.exit_index

    def details(self) -> dict[str, Any]:
        """Flat, JSON-friendly summary for episode metadata."""
        shown = self.threading_passage or (self.passages[-1] if self.passages else None)
        return {
            "success": self.success,
            "success_index": self.success_index,
            "passages": len(self.passages),
            "entry_end": None if shown is None else shown.entry_end,
            "exit_end": None if shown is None else shown.exit_end,
            "entry_index": None if shown is None else shown.entry_index,
            "exit_index": None if shown is None else shown.exit_index,
        }


def detect_threading(path: np.ndarray, hull: TubeHull, *, margin: float = 0.0) -> ThreadingOutcome:
    """Judge a path ``(T, 3)`` given in the tube's task frame (z along the axis, origin at its centre).

    ``margin`` (nm): how far beyond the hull a point must be to end a stay inside (see above).
    """
    path = np.asarray(path, dtype=np.float64)
    if path.ndim != 2 or path.shape[1] != 3:
        raise ValueError(f"a path is (T, 3) task-frame points, got shape {path.shape}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0 nm, got {margin}")
    outer = hull.grown(margin)
    inside = _stays(hull.contains(path), ~outer.contains(path))
    change = np.diff(inside.astype(np.int8))
    entries = np.flatnonzero(change == 1) + 1
    exits = np.flatnonzero(change == -1) + 1
    if len(inside) and inside[0]:
        entries = np.concatenate([[0], entries])
    passages = []
    for number, entry in enumerate(entries.tolist()):
        exit_ = int(exits[number]) if number < len(exits) else None
        passages.append(
            Passage(
                entry_index=entry,
                exit_index=exit_,
                entry_end=None if entry == 0 else _end(path[entry - 1], hull),
                exit_end=None if exit_ is None else _end(path[exit_], outer),
            )
        )
    return ThreadingOutcome(success=any(passage.threads for passage in passages), passages=tuple(passages))


def _stays(enters: np.ndarray, leaves: np.ndarray) -> np.ndarray:
    """Inside or not at each sample: switched on by ``enters``, off by ``leaves``, else as before."""
    events = np.where(enters, 1, np.where(leaves, -1, 0))
    last_event = np.maximum.accumulate(np.where(events != 0, np.arange(len(events)), -1))
    return (last_event >= 0) & (events[np.maximum(last_event, 0)] == 1)


def _end(point: np.ndarray, hull: TubeHull) -> End:
    if point[2] < -hull.half_length:
        return "near"
    if point[2] > hull.half_length:
        return "far"
    return "wall"

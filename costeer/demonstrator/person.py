"""The task's synthetic person for one episode, or a clear refusal for a task that has none.

    hand = synthetic_person(task, selection, chemistry, positions, np.random.default_rng(3))
    require_synthetic_person(get_task("nanotube"))   # before connecting or forking workers
"""

from __future__ import annotations

import numpy as np

from costeer.tasks import AtomSelection, Chemistry, Hand, Task

__all__ = ["require_synthetic_person", "synthetic_person"]


def synthetic_person(
    task: Task, selection: AtomSelection, chemistry: Chemistry, positions: np.ndarray, rng: np.random.Generator
) -> Hand:
    """``task.demonstrator(...)``; a task without one raises ``ValueError`` (what the CLI reports) saying so."""
    try:
        return task.demonstrator(selection, chemistry, positions, rng)
    except NotImplementedError as error:
        raise ValueError(str(error)) from None


def require_synthetic_person(task: Task) -> None:
    """Raise ``ValueError`` now, not after a server connection or worker start, if ``task`` has no synthetic person."""
    built = task.build_system()
    chemistry = Chemistry.from_topology(built.topology)
    synthetic_person(task, task.select(chemistry), chemistry, built.positions, np.random.default_rng(0))

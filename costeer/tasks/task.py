"""What a task is: its system, the atoms a person grabs and the policy observes, its frame, its success test.

A task is a subclass of :class:`Task` in one small file, registered by name with
:func:`costeer.tasks.registry.register_task`. Everything else (datasets, demonstrators,
rollouts) goes through this interface, so adding a task changes nothing elsewhere.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from costeer.tasks.chemistry import Chemistry
from costeer.tasks.frame import TaskFrame
from costeer.tasks.hand import Hand
from costeer.tasks.system import BuiltSystem

__all__ = ["AtomSelection", "Outcome", "SCRIPTED_REACH", "Task"]

SCRIPTED_REACH = 2.0
"""How far (nm) the default scripted pull goes along the task's +z axis from the start."""


@dataclass(frozen=True, eq=False)
class AtomSelection:
    """The atoms a task works with, chosen chemically from a :class:`Chemistry`.

    Usage: ``selection = task.select(Chemistry.from_frame(frame)); frame["particle.positions"][selection.grabbed]``
    """

    grabbed: np.ndarray
    """Atoms a person (or policy) grabs, sorted int64: the interaction's ``particles``."""
    observed: np.ndarray
    """Atoms whose task-frame coordinates make the observation, in observation order, int64."""
    groups: Mapping[str, np.ndarray] = field(default_factory=dict)
    """Further named groups the task needs (for the nanotube: ``"tube"``, ``"methane"``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "grabbed", np.unique(np.asarray(self.grabbed, dtype=np.int64)))
        object.__setattr__(self, "observed", np.asarray(self.observed, dtype=np.int64))
        groups = {name: np.asarray(atoms, dtype=np.int64) for name, atoms in self.groups.items()}
        object.__setattr__(self, "groups", groups)


@runtime_checkable
class Outcome(Protocol):
    """A task's verdict on an episode."""

    success: bool

    @property
    def success_index(self) -> int | None:
        """The frame at which the task was first done, or ``None``."""
        ...

    def details(self) -> dict[str, Any]:
        """JSON-friendly facts for the episode's metadata."""
        ...


class Task(ABC):
    """One thing people do in VR, with everything a dataset or a policy needs to know about it.

    Usage: ``task = get_task("nanotube"); sel = task.select(chem); frames = task.frames(positions, sel)``

    Positions are nanometres, ``(T, n, 3)`` for an episode of ``T`` frames (lab frame).
    """

    name: ClassVar[str] = ""
    """Set by :func:`~costeer.tasks.registry.register_task`."""
    description: ClassVar[str] = ""
    """One sentence for ``--help`` and dataset metadata."""

    @abstractmethod
    def build_system(self) -> BuiltSystem:
        """Build the task's molecular system afresh (topology, System, integrator, positions)."""

    @abstractmethod
    def select(self, chemistry: Chemistry) -> AtomSelection:
        """Choose the grabbed and observed atoms from elements and bonds; raise ChemistryError if absent."""

    @abstractmethod
    def frames(
        self, positions: np.ndarray, selection: AtomSelection, *, previous: TaskFrame | None = None
    ) -> TaskFrame:
        """The task frame at each frame of an episode (batched, ``len == T``).

        ``previous``: when an episode arrives in pieces (a live co-pilot), the task frame of the
        frame just before ``positions[0]``, so that the frame continues; ``None`` at the start.
        """

    @abstractmethod
    def evaluate(self, positions: np.ndarray, selection: AtomSelection) -> Outcome:
        """Judge an episode: success, when, and details."""

    def observe(
        self,
        positions: np.ndarray,
        frames: TaskFrame,
        selection: AtomSelection,
        *,
        velocities: np.ndarray | None = None,
    ) -> np.ndarray:
        """Task-frame coordinates of the observed atoms, ``(..., k, 3)``; with velocities, ``(..., k, 6)``.

        ``positions`` (and ``velocities``) are ``(..., n, 3)`` with leading dims matching ``frames``.
        Velocities are turned into the task's axes (the frame's own motion is not subtracted).
        """
        observed = frames.to_task(np.asarray(positions)[..., selection.observed, :])
        if velocities is None:
            return observed
        turned = frames.vectors_to_task(np.asarray(velocities)[..., selection.observed, :])
        return np.concatenate([observed, turned], axis=-1)

    def scripted_path(self, selection: AtomSelection, positions: np.ndarray) -> np.ndarray:
        """Waypoints ``(m, 3)`` (task frame, nm) of the ``scripted`` baseline: a straight pull, no judgement.

        By default from where the grabbed atoms start, straight along the task's +z axis for
        ``SCRIPTED_REACH`` nm (a task's frame points +z the way the task is done). A task whose
        way in is not straight from the start (the nanotube: round to the axis first) overrides it.
        """
        frame = self.frames(np.asarray(positions, dtype=np.float64)[None], selection)
        start = frame.to_task(np.asarray(positions, dtype=np.float64)[None, selection.grabbed, :]).mean(axis=1)[0]
        return np.array([start, start + [0.0, 0.0, SCRIPTED_REACH]])

    def demonstrator(
        self, selection: AtomSelection, chemistry: Chemistry, positions: np.ndarray, rng: np.random.Generator
    ) -> Hand:
        """A synthetic person's hand for one episode starting at ``positions`` (lab nm, ``(n, 3)``).

        A task that can be demonstrated without people overrides this (see
        :mod:`costeer.tasks.hand`); ``rng`` is the episode's only source of randomness, so a
        seed gives the same person. The base class has no synthetic demonstrator.
        """
        raise NotImplementedError(
            f"task {self.name or type(self).__name__!r} has no synthetic demonstrator: override "
            "Task.demonstrator in its task file to return a costeer.tasks.hand.Hand, or record people instead"
        )

"""The ``nanotube`` task: grab methane and thread it through a carbon nanotube, in at one end, out at the other.

Atoms, chosen chemically: the tube is the carbons bonded to carbons; methane is the carbon
with four hydrogens (the grabbed atom) and those hydrogens. Task frame: z along the tube's
axis from the end nearer methane at the episode's start to the far end, origin at the tube's
centre (:func:`~costeer.tasks.tube.fit_tube_frames`). Observation: methane's five atoms (and,
with ``observe_tube=True``, the tube's) in that frame. Success: the methane carbon's path
threads the tube's hull (:func:`~costeer.tasks.threading.detect_threading`), leaving it by at
least ``exit_margin`` (0.1 nm: a few times methane's thermal jitter in the tube, about a fifth
of the tube's half-length) so that jitter at an end's plane is neither an exit nor a success.
Synthetic person: :class:`~costeer.tasks.hands.nanotube.ThreadingHand` (``demonstrator``).
"""

from __future__ import annotations

import numpy as np

from costeer.tasks.chemistry import Chemistry, ChemistryError
from costeer.tasks.frame import TaskFrame
from costeer.tasks.hand import human_scale
from costeer.tasks.hands.nanotube import ThreadingHand
from costeer.tasks.systems.nanotube import build_nanotube_system
from costeer.tasks.registry import register_task
from costeer.tasks.system import BuiltSystem
from costeer.tasks.task import AtomSelection, Task
from costeer.tasks.threading import ThreadingOutcome, detect_threading
from costeer.tasks.tube import TubeHull, fit_tube_frames, tube_hull

__all__ = ["NanotubeTask"]

CARBON, HYDROGEN = 6, 1


@register_task("nanotube")
class NanotubeTask(Task):
    """Thread methane through the nanotube.

    Usage: ``task = get_task("nanotube"); outcome = task.evaluate(positions, task.select(chemistry))``
    """

    description = "Thread methane through a carbon nanotube: in at one end, out through the other."

    def __init__(self, *, observe_tube: bool = False, exit_margin: float = 0.1) -> None:
        if exit_margin < 0:
            raise ValueError(f"exit_margin must be >= 0 nm, got {exit_margin}")
        self.observe_tube = observe_tube
        """Also observe the tube's atoms (after methane's), not only methane's five."""
        self.exit_margin = exit_margin
        """How far (nm) beyond the tube's hull methane must go to have left it."""

    def build_system(self) -> BuiltSystem:
        return build_nanotube_system()

    def select(self, chemistry: Chemistry) -> AtomSelection:
        carbon = chemistry.elements == CARBON
        tube = np.flatnonzero(carbon & (chemistry.neighbour_count(CARBON) > 0))
        methane_carbon = np.flatnonzero(
            carbon & (chemistry.neighbour_count(HYDROGEN) == 4) & (chemistry.neighbour_count() == 4)
        )
        if len(methane_carbon) != 1:
            raise ChemistryError(
                f"the nanotube task needs exactly one methane (a carbon bonded to four hydrogens), found "
                f"{len(methane_carbon)}: is this the nanotube system, with its bonds?"
            )
        if len(tube) < 3:
            raise ChemistryError(
                f"the nanotube task needs a tube (carbons bonded to carbons), found {len(tube)} such carbons"
            )
        methane = np.concatenate([methane_carbon, chemistry.neighbours(methane_carbon)])
        observed = np.concatenate([methane, tube]) if self.observe_tube else methane
        return AtomSelection(grabbed=methane_carbon, observed=observed, groups={"tube": tube, "methane": methane})

    def frames(
        self, positions: np.ndarray, selection: AtomSelection, *, previous: TaskFrame | None = None
    ) -> TaskFrame:
        methane_carbon = int(selection.groups["methane"][0])
        return fit_tube_frames(positions, tube=selection.groups["tube"], toward=methane_carbon, previous=previous)

    def methane_path(self, positions: np.ndarray, selection: AtomSelection) -> tuple[np.ndarray, TubeHull]:
        """The methane carbon's task-frame path ``(T, 3)`` over an episode ``(T, n, 3)``, and the tube's hull."""
        positions = np.asarray(positions, dtype=np.float64)
        if positions.ndim != 3:
            raise ValueError(f"an episode's positions are (T, n, 3), got shape {positions.shape}")
        frames = self.frames(positions, selection)
        carbon = selection.groups["methane"][:1]
        path = frames.to_task(positions[:, carbon, :])[:, 0, :]
        return path, tube_hull(positions, frames, tube=selection.groups["tube"])

    def evaluate(self, positions: np.ndarray, selection: AtomSelection) -> ThreadingOutcome:
        path, hull = self.methane_path(positions, selection)
        return detect_threading(path, hull, margin=self.exit_margin)

    def scripted_path(self, selection: AtomSelection, positions: np.ndarray) -> np.ndarray:
        """From methane's start round to the axis 0.4 nm before the near end, then along it out past the far end."""
        path, hull = self.methane_path(np.asarray(positions, dtype=np.float64)[None], selection)
        entry, exit_ = hull.half_length + 0.4, hull.half_length + 0.8
        return np.array([path[0], [0.0, 0.0, -entry], [0.0, 0.0, exit_]])

    def demonstrator(
        self, selection: AtomSelection, chemistry: Chemistry, positions: np.ndarray, rng: np.random.Generator
    ) -> ThreadingHand:
        return ThreadingHand(self, selection, positions, rng=rng, strength=human_scale(chemistry, selection))

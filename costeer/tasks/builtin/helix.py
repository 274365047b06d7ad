"""The ``helix`` task: unfold a short alpha-helix by pulling its free end away from its tethered end.

System (:mod:`costeer.tasks.systems.helix`): Ace-(Ala)10-NMe, 112 atoms, ff14SB in vacuum, the
first alanine's CA tethered; about 2,500 steps/s on the Reference platform (1,200-1,700 with
the interactive force and frames, 5 steps a frame), so a 30 s episode at the human pace (900
frames) takes 3-4 s.

Atoms, chosen chemically (:func:`~costeer.tasks.peptide.find_backbone`): the backbone's alpha
carbons, N-terminus first. Grabbed: the last alpha carbon (the C-terminal end); anchor: the
first (the tethered one). Observation: the alpha carbons in chain order. Task frame: fixed for
the episode, as the tether fixes the anchor in the lab: origin at the anchor at the episode's
start, z from the anchor towards the grabbed end, x towards the second alpha carbon.

Success: the helix is unfolded, i.e. for ``hold_frames`` frames in a row (10: a third of a
second at 30 frames/s, so a pass through is not enough) both

- the end-to-end distance (anchor to grabbed alpha carbon) is at least ``min_extension``
  (2.8 nm: the helix is 1.42-1.49 nm at 300 K, fully stretched about 3.4 nm; with one helical
  turn left it reaches at most 3 x 0.15 + 6 x 0.38 = 2.73 nm), and
- at most ``max_intact`` (1) of its 8 i->i+4 backbone hydrogen bonds are intact (H...O under
  ``hbond_cutoff``, 0.25 nm; 4-8 are intact at 300 K without a pull).

Without a pull it stays helical (end-to-end under 1.5 nm over 30 s); a steady pull along the
task's z (the hand 0.5 nm ahead of the end's start, then moving at 0.5 nm/s, scale 1201.1)
unfolds it in about 7 s. Its synthetic person (:meth:`HelixTask.demonstrator`, a
:class:`~costeer.tasks.hands.pulling.PullingHand` that pulls the end to ``min_extension + 0.2`` nm
and holds it there) unfolded it in 20 of 20 rollouts (``costeer.rollout``, seeds 0-19), in
11.4-13.1 s (median 12.1 s), with a median work of 3,200 kJ/mol and peak force 2,100 kJ/(mol nm).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from costeer.tasks.chemistry import Chemistry, ChemistryError
from costeer.tasks.frame import TaskFrame
from costeer.tasks.hand import human_scale
from costeer.tasks.hands.pulling import PullingHand
from costeer.tasks.peptide import find_backbone, intact_hydrogen_bonds
from costeer.tasks.registry import register_task
from costeer.tasks.system import BuiltSystem
from costeer.tasks.systems.helix import build_helix_system
from costeer.tasks.task import AtomSelection, Task

__all__ = ["HelixTask", "UnfoldingOutcome"]

GOAL_MARGIN_NM = 0.2
"""How much further than ``min_extension`` the synthetic person pulls, so the test holds."""


@dataclass(frozen=True)
class UnfoldingOutcome:
    """The verdict on one episode of the helix task.

    Usage: ``outcome = task.evaluate(positions, selection); outcome.success, outcome.success_index``
    """

    success: bool
    success_index: int | None
    """The frame at which the helix had been unfolded for ``hold_frames`` frames, or ``None``."""
    max_extension: float
    """Largest end-to-end distance of the episode, nm."""
    fewest_hydrogen_bonds: int
    """Fewest intact i->i+4 hydrogen bonds at any frame."""

    def details(self) -> dict[str, Any]:
        """Flat, JSON-friendly summary for episode metadata."""
        return {
            "success": self.success,
            "success_index": self.success_index,
            "max_extension": round(self.max_extension, 4),
            "fewest_hydrogen_bonds": self.fewest_hydrogen_bonds,
        }


@register_task("helix")
class HelixTask(Task):
    """Unfold a tethered polyalanine helix by pulling its free end.

    Usage: ``task = get_task("helix"); outcome = task.evaluate(positions, task.select(chemistry))``
    """

    description = "Unfold a short alpha-helix: pull its free end away from its tethered end until it is stretched out."

    def __init__(
        self,
        *,
        min_extension: float = 2.8,
        max_intact: int = 1,
        hbond_cutoff: float = 0.25,
        hold_frames: int = 10,
    ) -> None:
        if min_extension <= 0 or hbond_cutoff <= 0 or max_intact < 0 or hold_frames < 1:
            raise ValueError(
                f"need min_extension > 0 nm, hbond_cutoff > 0 nm, max_intact >= 0 and hold_frames >= 1; got "
                f"{min_extension}, {hbond_cutoff}, {max_intact} and {hold_frames}"
            )
        self.min_extension = min_extension
        """End-to-end distance (nm) the helix must reach to count as unfolded."""
        self.max_intact = max_intact
        """Most i->i+4 hydrogen bonds that may remain for it to count as unfolded."""
        self.hbond_cutoff = hbond_cutoff
        """H...O distance (nm) under which a hydrogen bond is intact."""
        self.hold_frames = hold_frames
        """Frames in a row it must stay unfolded."""

    def build_system(self) -> BuiltSystem:
        return build_helix_system()

    def select(self, chemistry: Chemistry) -> AtomSelection:
        backbone = find_backbone(chemistry)
        pairs = backbone.helical_pairs
        if len(pairs) < 1:
            raise ChemistryError(
                f"the helix task needs a peptide of at least 5 residues (an i->i+4 hydrogen bond), found "
                f"{len(backbone.alpha_carbons)} alpha carbons: is this the helix system?"
            )
        alpha = backbone.alpha_carbons
        return AtomSelection(
            grabbed=alpha[-1:],
            observed=alpha,
            groups={"anchor": alpha[:1], "alpha_carbons": alpha, "oxygens": pairs[:, 0], "hydrogens": pairs[:, 1]},
        )

    def frames(
        self, positions: np.ndarray, selection: AtomSelection, *, previous: TaskFrame | None = None
    ) -> TaskFrame:
        positions = np.asarray(positions, dtype=np.float64)
        single = positions.ndim == 2
        if previous is not None:
            start = TaskFrame(previous.origin.reshape(-1, 3)[-1], previous.axes.reshape(-1, 3, 3)[-1])
        else:
            start = self._start_frame(positions if single else positions[0], selection)
        if single:
            return start
        count = len(positions)
        return TaskFrame(np.tile(start.origin, (count, 1)), np.tile(start.axes, (count, 1, 1)))

    def extension(self, positions: np.ndarray, selection: AtomSelection) -> np.ndarray:
        """End-to-end distance (anchor to grabbed alpha carbon) per frame of ``(..., n, 3)``, nm."""
        positions = np.asarray(positions, dtype=np.float64)
        ends = positions[..., selection.grabbed[0], :] - positions[..., selection.groups["anchor"][0], :]
        return np.linalg.norm(ends, axis=-1)

    def evaluate(self, positions: np.ndarray, selection: AtomSelection) -> UnfoldingOutcome:
        positions = np.asarray(positions, dtype=np.float64)
        if positions.ndim != 3:
            raise ValueError(f"an episode's positions are (T, n, 3), got shape {positions.shape}")
        extension = self.extension(positions, selection)
        pairs = np.stack([selection.groups["oxygens"], selection.groups["hydrogens"]], axis=1)
        intact = intact_hydrogen_bonds(positions, pairs, cutoff=self.hbond_cutoff)
        unfolded = (extension >= self.min_extension) & (intact <= self.max_intact)
        held = np.convolve(unfolded.astype(np.int64), np.ones(self.hold_frames, dtype=np.int64))[: len(unfolded)]
        done = np.flatnonzero(held >= self.hold_frames)
        return UnfoldingOutcome(
            success=bool(len(done)),
            success_index=int(done[0]) if len(done) else None,
            max_extension=float(extension.max(initial=0.0)),
            fewest_hydrogen_bonds=int(intact.min(initial=len(pairs))),
        )

    def demonstrator(
        self, selection: AtomSelection, chemistry: Chemistry, positions: np.ndarray, rng: np.random.Generator
    ) -> PullingHand:
        """A person who pulls the free end away from the tether until the helix is unfolded."""
        return PullingHand(
            grabbed=selection.grabbed,
            anchor=selection.groups["anchor"],
            positions=positions,
            goal_nm=self.min_extension + GOAL_MARGIN_NM,
            strength=human_scale(chemistry, selection),
            rng=rng,
        )

    @staticmethod
    def _start_frame(positions: np.ndarray, selection: AtomSelection) -> TaskFrame:
        alpha = selection.groups["alpha_carbons"]
        origin = positions[alpha[0]]
        z_axis = positions[alpha[-1]] - origin
        z_axis /= np.linalg.norm(z_axis)
        toward = positions[alpha[1]] - origin
        x_axis = toward - (toward @ z_axis) * z_axis
        x_axis /= np.linalg.norm(x_axis)
        return TaskFrame(origin, np.stack([x_axis, np.cross(z_axis, x_axis), z_axis]))

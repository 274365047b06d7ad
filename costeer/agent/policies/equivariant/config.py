"""The ``equivariant`` policy's settings.

    EquivariantConfig(observation_dim=15, atom_types=[6, 1, 1, 1, 1])
"""

from __future__ import annotations

from dataclasses import dataclass

from costeer.agent.policies.base import PolicyConfig, require

__all__ = ["EquivariantConfig"]


@dataclass
class EquivariantConfig(PolicyConfig):
    """Atom types (elements), width, message-passing layers and the distance basis."""

    atom_types: list[int] | None = None
    """One type per observed atom, e.g. atomic numbers; atoms of one type are interchangeable.
    ``None``: every atom its own type (no permutation symmetry). Training fills in the elements
    when it can find them (:func:`costeer.agent.elements.observed_elements`)."""
    hidden: int = 64
    layers: int = 2
    distances: int = 16
    """Gaussian basis functions of the distance between two atoms."""
    cutoff: float = 4.0
    """Largest distance (normalised units) the basis covers; farther pairs still interact."""
    frame_points: bool = True
    """Add the task frame's origin and a point on its z axis as two more atoms (of their own
    types): the policy then sees where the observed atoms are relative to the rest of the system
    (the nanotube's centre and axis) while staying equivariant to turning the whole scene.
    ``False``: the observed atoms alone (a policy blind to everything else)."""

    def validate(self) -> None:
        super().validate()
        if self.atom_types is not None:
            types = list(self.atom_types)
            require(len(types) == self.atoms and all(isinstance(t, int) and 0 <= t < 256 for t in types),
                    f"atom_types={types!r}: give {self.atoms} ints from 0 to 255 (one per observed atom, "
                    "e.g. atomic numbers), or None")
            self.atom_types = types
        require(isinstance(self.hidden, int) and 1 <= self.hidden <= 4096, f"hidden={self.hidden!r}: use an int from 1 to 4096 (e.g. 64)")
        require(isinstance(self.layers, int) and 1 <= self.layers <= 16, f"layers={self.layers!r}: use an int from 1 to 16 (e.g. 2)")
        require(isinstance(self.distances, int) and 1 <= self.distances <= 256, f"distances={self.distances!r}: use an int from 1 to 256 (e.g. 16)")
        require(isinstance(self.cutoff, (int, float)) and self.cutoff > 0, f"cutoff={self.cutoff!r}: use a positive number (e.g. 4.0)")
        require(isinstance(self.frame_points, bool), f"frame_points={self.frame_points!r}: use true or false")

    @property
    def types(self) -> list[int]:
        """The atom types in use: ``atom_types``, or ``0 .. atoms-1``; then the frame points' two own types."""
        types = list(self.atom_types) if self.atom_types is not None else list(range(self.atoms))
        return types + ([max(types) + 1, max(types) + 2] if self.frame_points else [])

"""The ``equivariant`` policy: attention-weighted messages between atoms built from invariants only.

Per atom: the current position ``x_i`` (relative to the atoms' centroid ``r_i``), and vectors
that turn with the molecule: its displacements over the history ``x_i(h) - x_i`` and, with
velocities, its velocities. Invariants (the Gram matrix of those vectors per atom, distances
between atoms) and a per-type embedding make the atom features ``h_i``; message passing mixes
them. The target is a weighted sum of the atoms' vectors, ``sum_i a_i r_i + sum_i,v b_iv u_iv``
with weights from ``h_i``, so rotating (or reflecting) and translating the observed atoms turns
the target the same way and permuting atoms of one type changes nothing; strength and on come
from the mean of ``h_i`` and do not change at all. Positions and target must be normalised
with one scale and no offset (``isotropic``). With ``frame_points`` (the default), the task
frame's origin and a point on its z axis join as two fixed atoms of their own types, so the
policy knows where the atoms are relative to what they are not (the tube) and stays
equivariant to turning the whole scene, frame included.

    policy = make_policy("equivariant", observation_dim=15, atom_types=[6, 1, 1, 1, 1])
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from costeer.agent.elements import observed_elements

from costeer.agent.policies.base import Policy, feedforward
from costeer.agent.policies.equivariant.config import EquivariantConfig
from costeer.agent.policies.registry import register_policy

__all__ = ["EquivariantPolicy"]

logger = logging.getLogger(__name__)


class _Layer(nn.Module):
    """One round of attention-weighted messages ``m_ij = f(h_i, h_j, basis(d_ij))``."""

    def __init__(self, hidden: int, distances: int) -> None:
        super().__init__()
        self.message = feedforward([2 * hidden + distances, hidden, hidden])
        self.score = nn.Linear(hidden, 1)
        self.update = feedforward([2 * hidden, hidden, hidden])
        self.norm = nn.LayerNorm(hidden)

    def forward(self, features: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
        atoms = features.shape[1]
        pairs = torch.cat([features[:, :, None].expand(-1, -1, atoms, -1),
                           features[:, None, :].expand(-1, atoms, -1, -1), basis], dim=-1)
        messages = self.message(pairs)
        weights = torch.softmax(self.score(messages), dim=2)
        gathered = (weights * messages).sum(dim=2)
        return self.norm(features + self.update(torch.cat([features, gathered], dim=-1)))


@register_policy("equivariant")
class EquivariantPolicy(Policy):
    """E(3)-equivariant target, invariant strength and on, permutation-invariant within an atom type."""

    config_class = EquivariantConfig
    isotropic = True

    def __init__(self, config: EquivariantConfig) -> None:
        super().__init__(config)
        self.vectors = (config.history - 1) + (config.history if config.atom_features == 6 else 0)
        gram = (self.vectors + 1) ** 2
        self.register_buffer("types", torch.tensor(config.types, dtype=torch.long), persistent=False)
        self.register_buffer("centres", torch.linspace(0.0, config.cutoff, config.distances), persistent=False)
        self.register_buffer("reference", torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), persistent=False)
        self.points = config.atoms + (len(self.reference) if config.frame_points else 0)
        """Atoms the messages pass between: the observed ones, then the frame points."""
        self.embedding = nn.Embedding(max(config.types) + 1, config.hidden)
        self.invariants = feedforward([gram, config.hidden, config.hidden])
        self.layers = nn.ModuleList(_Layer(config.hidden, config.distances) for _ in range(config.layers))
        self.weights = nn.Linear(config.hidden, config.chunk * (self.vectors + 1))
        self.scalars = feedforward([config.hidden, config.hidden, config.chunk * 2])

    @classmethod
    def dataset_defaults(cls, dataset: Path) -> dict[str, Any]:
        """The observed atoms' elements as ``atom_types`` when the dataset's task system gives them."""
        elements = observed_elements(dataset)
        if elements is None:
            logger.warning("%s: the observed atoms' elements are unknown (its task's system is not the recorded one): "
                           "every atom is its own type; pass atom_types to make like atoms interchangeable", dataset)
        return {"atom_types": elements}

    def _atom_vectors(self, observation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Current positions ``(B, k, 3)`` and each atom's vectors ``(B, k, 1 + vectors, 3)`` (``r_i`` first)."""
        config = self.config
        atoms = observation.view(len(observation), config.history, config.atoms, config.atom_features)
        if config.frame_points:  # fixed points: no displacement, no velocity
            fixed = torch.zeros(len(atoms), config.history, len(self.reference), config.atom_features,
                                dtype=atoms.dtype, device=atoms.device)
            fixed[..., :3] = self.reference.to(atoms.dtype)
            atoms = torch.cat([atoms, fixed], dim=2)
        positions = atoms[..., :3]
        current = positions[:, -1]
        vectors = [current - current.mean(dim=1, keepdim=True)]
        vectors += [positions[:, h] - current for h in range(config.history - 1)]
        if config.atom_features == 6:
            vectors += [atoms[:, h, :, 3:] for h in range(config.history)]
        return current, torch.stack(vectors, dim=2)

    def predict(self, observation: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        config = self.config
        batch = len(observation)
        current, vectors = self._atom_vectors(observation)
        gram = torch.einsum("bkvc,bkwc->bkvw", vectors, vectors).flatten(2)
        features = self.embedding(self.types)[None] + self.invariants(gram)
        distance = torch.cdist(current, current)
        spacing = config.cutoff / max(config.distances - 1, 1)
        basis = torch.exp(-(((distance[..., None] - self.centres) / spacing) ** 2))
        for layer in self.layers:
            features = layer(features, basis)
        weights = self.weights(features).view(batch, self.points, config.chunk, self.vectors + 1)
        target = torch.einsum("bkcv,bkvx->bcx", weights, vectors)
        scalars = self.scalars(features.mean(dim=1)).view(batch, config.chunk, 2)
        return torch.cat([target, scalars], dim=-1)

"""What every policy is: a validated config dataclass and an ``nn.Module`` with ``loss`` and ``predict``.

A policy works in normalised space (see :mod:`costeer.agent.normalise`). A batch holds

- ``observation``: ``(B, history, observation_dim)`` float, oldest first;
- ``action``: ``(B, chunk, 5)``: target x/y/z and strength (normalised), on (0 or 1);
- ``mask``: ``(B, chunk)`` bool, False for steps past the episode's end or without a valid action;
- ``weight`` (optional): ``(B,)`` float, each sample's weight in the loss (1 without it; see
  :func:`step_weights`).

``predict(observation)`` returns ``(B, chunk, 5)``: target, strength and the *logit* of on.

    config = MLPConfig(observation_dim=15); policy = MLPPolicy(config); policy.loss(batch).backward()
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

__all__ = ["ACTION_WIDTH", "Policy", "PolicyConfig", "action_loss", "feedforward", "require", "step_weights"]

ACTION_WIDTH = 5
"""A policy's action per chunk step: target x/y/z, strength, on (logit when predicted)."""


def require(condition: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``condition``: configs say what is wrong and how to fix it."""
    if not condition:
        raise ValueError(message)


@dataclasses.dataclass
class PolicyConfig:
    """Fields every policy has; a subclass adds its own (each with a default) and checks them in ``validate``."""

    observation_dim: int = 0
    """Width of one observation (the dataset's ``observation.state``); set by training."""
    atom_features: int = 3
    """Numbers per observed atom: 3 (x, y, z) or 6 (with velocities)."""
    history: int = 2
    """Observations the policy sees, the newest last."""
    chunk: int = 1
    """Actions predicted at once."""
    execute: int = 1
    """Actions of a chunk carried out before predicting again (1 to ``chunk``)."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field; raise ``ValueError`` saying how to fix a bad value."""
        require(isinstance(self.observation_dim, int) and self.observation_dim > 0,
                f"observation_dim={self.observation_dim!r}: set it to the dataset's observation.state width (a positive int)")
        require(self.atom_features in (3, 6),
                f"atom_features={self.atom_features!r}: use 3 (positions) or 6 (positions and velocities)")
        require(self.observation_dim % self.atom_features == 0,
                f"observation_dim={self.observation_dim} is not a multiple of atom_features={self.atom_features}: "
                "the observation must hold whole atoms")
        for name in ("history", "chunk", "execute"):
            value = getattr(self, name)
            require(isinstance(value, int) and 1 <= value <= 64, f"{name}={value!r}: use an int from 1 to 64")
        require(self.execute <= self.chunk, f"execute={self.execute} > chunk={self.chunk}: execute at most chunk actions")

    @property
    def atoms(self) -> int:
        """Observed atoms per observation."""
        return self.observation_dim // self.atom_features

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "PolicyConfig":
        """The config from plain values (a checkpoint's JSON); unknown fields are an error naming the known ones."""
        known = {item.name for item in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        require(not unknown, f"{cls.__name__} has no field(s) {', '.join(unknown)}: known are {', '.join(sorted(known))}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (tuples become lists)."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in dataclasses.asdict(self).items()}


class Policy(nn.Module):
    """Observation history -> a chunk of actions, trained by ``loss`` (``forward`` is ``loss``, for DDP)."""

    name: ClassVar[str] = ""
    """Set by :func:`~costeer.agent.policies.registry.register_policy`."""
    config_class: ClassVar[type[PolicyConfig]] = PolicyConfig
    isotropic: ClassVar[bool] = False
    """Normalise positions and target with one scale and no offset (rotations stay rotations)."""

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__} needs a {self.config_class.__name__}, not {type(config).__name__}")
        self.config = config

    @classmethod
    def dataset_defaults(cls, dataset: Path) -> dict[str, Any]:
        """Config values this kind of policy reads from a dataset before training (none by default)."""
        return {}

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.loss(batch)

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The training loss of ``batch`` (a scalar); regression policies compare ``predict`` with the actions."""
        return action_loss(self.predict(batch["observation"]), batch)

    def predict(self, observation: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(B, history, observation_dim)`` -> ``(B, chunk, 5)`` (target, strength, on logit).

        ``generator``: the random numbers of a sampling policy (``flow``), so a runner is reproducible.
        """
        raise NotImplementedError(f"{type(self).__name__} must define predict")


def step_weights(batch: dict[str, torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
    """``(B, chunk)``: each chunk step's weight in a loss, the mask times its sample's ``weight``.

    Losses are means weighted by these (sum of weight x term over sum of weight), so a sample of
    weight ``w`` counts as ``w`` samples of weight 1 in its batch; all weights 1 is the plain mean.
    """
    mask = batch["mask"].to(dtype)
    weight = batch.get("weight")
    return mask if weight is None else mask * weight.to(dtype)[:, None]


def action_loss(predicted: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean squared error of target and strength where on, plus binary cross-entropy of on, over valid steps.

    Both means are weighted by :func:`step_weights`.
    """
    action, mask = batch["action"], step_weights(batch, predicted.dtype)
    on = action[..., 4] * mask
    squared = ((predicted[..., :4] - action[..., :4]) ** 2).sum(-1)
    regression = (squared * on).sum() / on.sum().clamp(min=1.0) / 4
    bce = nn.functional.binary_cross_entropy_with_logits(predicted[..., 4], action[..., 4], reduction="none")
    return regression + (bce * mask).sum() / mask.sum().clamp(min=1.0)


def feedforward(widths: list[int], *, dropout: float = 0.0) -> nn.Sequential:
    """Linear layers of ``widths`` (input first) with GELU (and dropout) between them, none after the last."""
    layers: list[nn.Module] = []
    for number, (inputs, outputs) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(inputs, outputs))
        if number < len(widths) - 2:
            layers.extend([nn.GELU(), nn.Dropout(dropout)] if dropout else [nn.GELU()])
    return nn.Sequential(*layers)

"""The ``cnn`` policy: each atom's coordinates over the history are channels, atoms the sequence axis.

    policy = make_policy("cnn", observation_dim=15); policy.predict(torch.zeros(1, 2, 15)).shape   # (1, 1, 5)
"""

from __future__ import annotations

import torch
from torch import nn

from costeer.agent.policies.base import ACTION_WIDTH, Policy, feedforward
from costeer.agent.policies.cnn.config import CNNConfig
from costeer.agent.policies.registry import register_policy

__all__ = ["CNNPolicy"]


@register_policy("cnn")
class CNNPolicy(Policy):
    """Convolutions along the atoms (in observation order), then a feed-forward head over all of them."""

    config_class = CNNConfig

    def __init__(self, config: CNNConfig) -> None:
        super().__init__(config)
        layers: list[nn.Module] = []
        inputs = config.history * config.atom_features
        for _ in range(config.layers):
            layers.extend([nn.Conv1d(inputs, config.channels, config.kernel, padding=config.kernel // 2), nn.GELU()])
            inputs = config.channels
        self.convolutions = nn.Sequential(*layers)
        self.head = feedforward([config.channels * config.atoms, config.hidden, config.chunk * ACTION_WIDTH])

    def predict(self, observation: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        config = self.config
        batch = len(observation)
        atoms = observation.view(batch, config.history, config.atoms, config.atom_features)
        channels = atoms.permute(0, 1, 3, 2).reshape(batch, config.history * config.atom_features, config.atoms)
        output = self.head(self.convolutions(channels).flatten(1))
        return output.view(batch, config.chunk, ACTION_WIDTH)

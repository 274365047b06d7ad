"""The ``mlp`` policy: flattened history -> hidden layers -> a chunk of actions.

    policy = make_policy("mlp", observation_dim=15); policy.predict(torch.zeros(1, 2, 15)).shape   # (1, 1, 5)
"""

from __future__ import annotations

import torch

from costeer.agent.policies.base import ACTION_WIDTH, Policy, feedforward
from costeer.agent.policies.mlp.config import MLPConfig
from costeer.agent.policies.registry import register_policy

__all__ = ["MLPPolicy"]


@register_policy("mlp")
class MLPPolicy(Policy):
    """A feed-forward baseline; it averages ways of doing a task that differ (see ``flow``)."""

    config_class = MLPConfig

    def __init__(self, config: MLPConfig) -> None:
        super().__init__(config)
        widths = [config.history * config.observation_dim, *[config.hidden] * config.layers, config.chunk * ACTION_WIDTH]
        self.network = feedforward(widths, dropout=config.dropout)

    def predict(self, observation: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        output = self.network(observation.flatten(1))
        return output.view(len(observation), self.config.chunk, ACTION_WIDTH)

"""The ``flow`` policy: conditional flow matching of target and strength over a chunk, on/off by a classifier.

Training draws noise ``x0``, a time ``t`` and the demonstrated chunk ``x1`` (target and strength,
normalised) and fits the velocity ``x1 - x0`` at ``x_t = (1 - t) x0 + t x1``, only over steps
where the person pulled. Inference integrates from fresh noise with ``steps`` Euler steps, so a
sample lands near one of the demonstrated ways, not between them. ``on`` is a logit per step.

    policy = make_policy("flow", observation_dim=15); policy.predict(torch.zeros(1, 2, 15)).shape   # (1, 8, 5)
"""

from __future__ import annotations

import math

import torch
from torch import nn

from costeer.agent.policies.base import Policy, feedforward, step_weights
from costeer.agent.policies.flow.config import FlowConfig
from costeer.agent.policies.registry import register_policy

__all__ = ["FlowPolicy"]

SAMPLED = 4
"""Sampled numbers per chunk step: target x/y/z and strength."""


@register_policy("flow")
class FlowPolicy(Policy):
    """An observation encoder, a velocity network over (noisy chunk, time, encoding), an on/off head."""

    config_class = FlowConfig

    def __init__(self, config: FlowConfig) -> None:
        super().__init__(config)
        width = config.chunk * SAMPLED
        self.encoder = feedforward([config.history * config.observation_dim, config.hidden, config.hidden])
        self.condition = nn.Linear(config.hidden, config.hidden)
        """The velocity network's first layer is ``inputs(x_t) + time(t) + condition(encoding)``: the last
        two are computed once per prediction for every Euler step."""
        self.inputs = nn.Linear(width, config.hidden)
        self.time = nn.Linear(config.time_features, config.hidden, bias=False)
        self.velocity = nn.Sequential(nn.GELU(), feedforward([*[config.hidden] * config.layers, width]))
        self.on = nn.Linear(config.hidden, config.chunk)
        frequencies = torch.exp(torch.linspace(0.0, math.log(100.0), config.time_features // 2))
        self.register_buffer("frequencies", frequencies, persistent=False)

    def _time(self, time: torch.Tensor) -> torch.Tensor:
        angles = time[:, None] * self.frequencies
        return self.time(torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1))

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        action, mask = batch["action"], step_weights(batch, batch["action"].dtype)
        encoding = self.encoder(batch["observation"].flatten(1))
        target = action[..., :SAMPLED].flatten(1)
        noise = torch.randn_like(target)
        time = torch.rand(len(target), device=target.device, dtype=target.dtype)
        noisy = (1 - time[:, None]) * noise + time[:, None] * target
        velocity = self.velocity(self.inputs(noisy) + self._time(time) + self.condition(encoding))
        squared = (velocity - (target - noise)) ** 2
        on = (action[..., 4] * mask).repeat_interleave(SAMPLED, dim=1)
        regression = (squared * on).sum() / on.sum().clamp(min=1.0)
        bce = nn.functional.binary_cross_entropy_with_logits(self.on(encoding), action[..., 4], reduction="none")
        return regression + (bce * mask).sum() / mask.sum().clamp(min=1.0)

    def predict(self, observation: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        config = self.config
        encoding = self.encoder(observation.flatten(1))
        condition = self.condition(encoding)
        sample = torch.randn(len(observation), config.chunk * SAMPLED, generator=generator,
                             device=observation.device, dtype=observation.dtype)
        times = torch.arange(config.steps, device=observation.device, dtype=observation.dtype) / config.steps
        shifts = self._time(times)[:, None] + condition
        for shift in shifts:
            sample = sample + self.velocity(self.inputs(sample) + shift) / config.steps
        chunk = sample.view(len(observation), config.chunk, SAMPLED)
        return torch.cat([chunk, self.on(encoding)[..., None]], dim=-1)

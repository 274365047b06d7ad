"""The ``flow`` policy's settings.

    FlowConfig(observation_dim=15, chunk=8, execute=4, steps=6)
"""

from __future__ import annotations

from dataclasses import dataclass

from costeer.agent.policies.base import PolicyConfig, require

__all__ = ["FlowConfig"]


@dataclass
class FlowConfig(PolicyConfig):
    """Chunk length, integration steps at inference, and the networks' width and depth."""

    chunk: int = 8
    execute: int = 4
    steps: int = 6
    """Euler steps from noise to actions (one step would give the mean, like ``mlp``)."""
    hidden: int = 128
    layers: int = 2
    """Hidden layers of the velocity network."""
    time_features: int = 16
    """Sine/cosine features of the flow time."""

    def validate(self) -> None:
        super().validate()
        require(isinstance(self.steps, int) and 2 <= self.steps <= 100, f"steps={self.steps!r}: use an int from 2 to 100 (e.g. 6)")
        require(isinstance(self.hidden, int) and 1 <= self.hidden <= 8192, f"hidden={self.hidden!r}: use an int from 1 to 8192 (e.g. 128)")
        require(isinstance(self.layers, int) and 1 <= self.layers <= 16, f"layers={self.layers!r}: use an int from 1 to 16 (e.g. 2)")
        require(isinstance(self.time_features, int) and self.time_features >= 2 and self.time_features % 2 == 0,
                f"time_features={self.time_features!r}: use an even int >= 2 (e.g. 16)")

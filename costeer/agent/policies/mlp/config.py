"""The ``mlp`` policy's settings.

    MLPConfig(observation_dim=15, hidden=256, layers=2)
"""

from __future__ import annotations

from dataclasses import dataclass

from costeer.agent.policies.base import PolicyConfig, require

__all__ = ["MLPConfig"]


@dataclass
class MLPConfig(PolicyConfig):
    """Width and depth of the feed-forward network, and its dropout."""

    hidden: int = 256
    layers: int = 2
    """Hidden layers."""
    dropout: float = 0.0

    def validate(self) -> None:
        super().validate()
        require(isinstance(self.hidden, int) and 1 <= self.hidden <= 8192, f"hidden={self.hidden!r}: use an int from 1 to 8192 (e.g. 256)")
        require(isinstance(self.layers, int) and 1 <= self.layers <= 16, f"layers={self.layers!r}: use an int from 1 to 16 (e.g. 2)")
        require(isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1, f"dropout={self.dropout!r}: use a number in [0, 1)")

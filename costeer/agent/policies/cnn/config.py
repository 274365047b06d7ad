"""The ``cnn`` policy's settings.

    CNNConfig(observation_dim=15, channels=64, layers=3, kernel=3)
"""

from __future__ import annotations

from dataclasses import dataclass

from costeer.agent.policies.base import PolicyConfig, require

__all__ = ["CNNConfig"]


@dataclass
class CNNConfig(PolicyConfig):
    """Convolution channels, layers and kernel width (in atoms), and the head's width."""

    channels: int = 64
    layers: int = 3
    kernel: int = 3
    """Odd, so the atom axis keeps its length."""
    hidden: int = 256

    def validate(self) -> None:
        super().validate()
        require(isinstance(self.channels, int) and 1 <= self.channels <= 1024, f"channels={self.channels!r}: use an int from 1 to 1024 (e.g. 64)")
        require(isinstance(self.layers, int) and 1 <= self.layers <= 16, f"layers={self.layers!r}: use an int from 1 to 16 (e.g. 3)")
        require(isinstance(self.kernel, int) and self.kernel >= 1 and self.kernel % 2 == 1, f"kernel={self.kernel!r}: use an odd int (e.g. 3)")
        require(isinstance(self.hidden, int) and 1 <= self.hidden <= 8192, f"hidden={self.hidden!r}: use an int from 1 to 8192 (e.g. 256)")

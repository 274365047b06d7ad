"""``cnn``: the study's model, a 1-D convolution over the observed atoms (atoms as the sequence axis)."""

from costeer.agent.policies.cnn.config import CNNConfig
from costeer.agent.policies.cnn.model import CNNPolicy

__all__ = ["CNNConfig", "CNNPolicy"]

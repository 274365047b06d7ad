"""``mlp``: the simplest baseline, a feed-forward network over the flattened observation history."""

from costeer.agent.policies.mlp.config import MLPConfig
from costeer.agent.policies.mlp.model import MLPPolicy

__all__ = ["MLPConfig", "MLPPolicy"]

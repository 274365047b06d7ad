"""Policies by name, each in its own folder (a config dataclass and an ``nn.Module``).

    from costeer.agent.policies import make_policy, policy_names
    policy = make_policy("cnn", observation_dim=15, history=2)
"""

from costeer.agent.policies import cnn, equivariant, flow, mlp  # noqa: F401  (registers the built-in policies)
from costeer.agent.policies.base import ACTION_WIDTH, Policy, PolicyConfig
from costeer.agent.policies.registry import get_policy_class, make_policy, policy_names, register_policy

__all__ = ["ACTION_WIDTH", "Policy", "PolicyConfig", "get_policy_class", "make_policy", "policy_names", "register_policy"]

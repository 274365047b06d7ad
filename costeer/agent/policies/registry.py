"""Policies by name: ``@register_policy("mlp")`` on a :class:`~costeer.agent.policies.base.Policy` subclass.

    policy = make_policy("mlp", observation_dim=15, hidden=128)
    policy_names()   # ['cnn', 'equivariant', 'flow', 'mlp']
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from costeer.agent.policies.base import Policy

__all__ = ["get_policy_class", "make_policy", "policy_names", "register_policy"]

PolicyType = TypeVar("PolicyType", bound=type[Policy])
_POLICIES: dict[str, type[Policy]] = {}


def register_policy(name: str) -> Callable[[PolicyType], PolicyType]:
    """Register a policy class under ``name`` (a second class under the same name is an error)."""

    def decorate(cls: PolicyType) -> PolicyType:
        if name in _POLICIES and _POLICIES[name] is not cls:
            raise ValueError(f"policy {name!r} is already registered by {_POLICIES[name].__module__}: choose another name")
        cls.name = name
        _POLICIES[name] = cls
        return cls

    return decorate


def policy_names() -> list[str]:
    """Registered policy names, sorted."""
    return sorted(_POLICIES)


def get_policy_class(name: str) -> type[Policy]:
    """The class registered as ``name``; a clear error naming the known ones otherwise."""
    try:
        return _POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}: choose one of {', '.join(policy_names())}") from None


def make_policy(name: str, **config: Any) -> Policy:
    """A new policy ``name`` built from its config's fields (validated by the config)."""
    cls = get_policy_class(name)
    return cls(cls.config_class.from_dict(config))

"""``flow``: flow matching over a short chunk of actions, so two ways of doing a task stay apart."""

from costeer.agent.policies.flow.config import FlowConfig
from costeer.agent.policies.flow.model import FlowPolicy

__all__ = ["FlowConfig", "FlowPolicy"]

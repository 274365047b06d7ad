"""``equivariant``: message passing over the observed atoms, blind to the molecule's pose and to the order of like atoms."""

from costeer.agent.policies.equivariant.config import EquivariantConfig
from costeer.agent.policies.equivariant.model import EquivariantPolicy

__all__ = ["EquivariantConfig", "EquivariantPolicy"]

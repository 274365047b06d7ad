"""The co-pilot: a trained policy beside the people in a live session (its decisions here are pure: no I/O).

    copilot = Copilot.from_frame(load_policy(shipped_checkpoint("nanotube")), first_frame,
                                 settings=CopilotSettings(mode="assist", blend=0.5))
    change = copilot.on_frame(positions, interactions, frame_index=index)   # updates + removals
"""

from __future__ import annotations

from costeer.agent.copilot.arbiter import arbitrate, blend_cap, is_person, person_pulling
from costeer.agent.copilot.copilot import COPILOT_INTERACTION_KEY, COPILOT_LABEL, Copilot
from costeer.agent.copilot.proposer import PolicyProposer, Proposal
from costeer.agent.copilot.settings import COPILOT_MODES, CopilotChange, CopilotSettings

__all__ = [
    "COPILOT_INTERACTION_KEY",
    "COPILOT_LABEL",
    "COPILOT_MODES",
    "Copilot",
    "CopilotChange",
    "CopilotSettings",
    "PolicyProposer",
    "Proposal",
    "arbitrate",
    "blend_cap",
    "is_person",
    "person_pulling",
]

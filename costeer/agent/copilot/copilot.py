"""The co-pilot's decisions, frame by frame: what it writes to the shared state in each mode (no I/O, no threads).

Whoever runs it (in the server's process, or as a client) feeds it each frame's positions
and the live interactions, and writes the :class:`CopilotChange` it answers to the shared
state as the co-pilot (``owner.id`` :data:`~costeer.core.keys.COPILOT_OWNER`)::

    copilot = Copilot.from_frame(load_policy(shipped_checkpoint("nanotube")), first_frame,
                                 settings=CopilotSettings(mode="assist"))
    change = copilot.start()         # write change.updates, then remove change.removals
    change = copilot.on_frame(positions, interactions, frame_index=index)

Keys it writes: ``interaction.costeer-copilot`` (its pull, label ``copilot``, capped at
``settings.max_force``), ``costeer.copilot.suggestion`` (``suggest`` mode, every frame) and
``costeer.copilot`` (its status, only when something in it changes). In ``assist`` it takes
its pull away on the very frame a person's pull on the task's atoms appears (see
:func:`~costeer.agent.copilot.arbiter.arbitrate`). A frame it cannot act on (non-finite
positions, a policy error) makes it let go, with the reason in the status's ``error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from costeer.core import keys
from costeer.core.frame import FrameDict
from costeer.core.interaction import Interaction
from costeer.tasks import Chemistry, get_task
from costeer.tasks.encoding import element_masses
from costeer.tasks.task import AtomSelection, Task

from .arbiter import arbitrate, person_pulling
from .proposer import PolicyProposer, Proposal
from .settings import CopilotChange, CopilotSettings, check_blend, check_mode

__all__ = ["COPILOT_INTERACTION_KEY", "COPILOT_LABEL", "Copilot", "arbitrate"]

COPILOT_LABEL = "copilot"
"""``label`` of the co-pilot's interaction and suggestion (one of :data:`~costeer.core.keys.AGENT_LABELS`)."""
COPILOT_INTERACTION_KEY = f"{keys.INTERACTION_PREFIX}{keys.COPILOT_OWNER}"
"""The state key of the co-pilot's interaction."""


class Copilot:
    """A trained policy beside the people in a session, in one of :data:`COPILOT_MODES`.

    Usage: ``change = copilot.on_frame(positions, interactions)`` once per frame; ``set_mode``,
    ``stop`` and ``let_go`` between frames. Not thread-safe: one caller drives it.
    """

    def __init__(self, runner: Any, *, task: Task, selection: AtomSelection, masses: np.ndarray,
                 settings: CopilotSettings = CopilotSettings(), policy_name: str = "") -> None:
        self.runner = runner
        self.task = task
        self.selection = selection
        self.settings = settings
        self.policy_name = policy_name
        self.mode: str = settings.mode
        self.blend: float | None = settings.blend
        self.error: str | None = None
        """Why it last let go on its own (a policy error, a stall), until it acts again."""
        self.acting = False
        """Its interaction is in the state (as far as its own changes go)."""
        self.last_proposal: Proposal | None = None
        self._proposer = PolicyProposer(runner, task, selection, masses=masses, max_force=settings.max_force,
                                        properties={"owner.id": keys.COPILOT_OWNER, "label": COPILOT_LABEL})
        self._suggesting = False
        self._written: dict[str, Any] | None = None

    @classmethod
    def from_frame(cls, runner: Any, frame: FrameDict, *, settings: CopilotSettings = CopilotSettings(),
                   policy_name: str = "") -> "Copilot":
        """For the runner's task in the system of ``frame`` (a full frame: elements and bonds)."""
        task = get_task(runner.task_name)
        chemistry = Chemistry.from_frame(frame)
        return cls(runner, task=task, selection=task.select(chemistry), masses=element_masses(chemistry),
                   settings=settings, policy_name=policy_name)

    # --- status ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The ``costeer.copilot`` map: mode, blend, policy, task, acting, max_force, owner and error."""
        return {
            "mode": self.mode,
            "blend": self.blend,
            "policy": self.policy_name,
            "task": self.task.name,
            "acting": self.acting,
            "max_force": self.settings.max_force,
            "owner.id": keys.COPILOT_OWNER,
            "error": self.error,
        }

    def start(self) -> CopilotChange:
        """The first change: its status."""
        self._written = None
        return self._with_status(CopilotChange())

    # --- frames ------------------------------------------------------------------------------

    def on_frame(self, positions: np.ndarray, interactions: Mapping[str, Interaction], *,
                 frame_index: int | None = None) -> CopilotChange:
        """Decide on one frame: ``positions`` ``(n, 3)`` nm; ``interactions`` the live ones by state key.

        ``frame_index`` 0 starts a new episode (:meth:`reset`). Its own interaction among
        ``interactions`` is ignored; anyone else's whose label is not an agent's is a person's.
        """
        if frame_index == 0:
            self.reset()
        if self.mode == "off":
            return self._with_status(CopilotChange())
        try:
            proposal = self._proposer.propose(positions)
        except Exception as error:  # a policy that fails lets go; the session goes on
            self._proposer.encoder.reset()  # the next good frame starts the task frame afresh
            return self.let_go(f"could not act on frame {frame_index}: {type(error).__name__}: {error}")
        self.last_proposal = proposal
        self.error = None
        others = {key: value for key, value in interactions.items() if key != COPILOT_INTERACTION_KEY}
        person = person_pulling(others, self.selection.grabbed)
        change = CopilotChange()
        self._suggest(change, proposal, frame_index)
        applied = arbitrate(self.mode, proposal.interaction, person, blend=self.blend)
        if applied is not None:
            change.updates[COPILOT_INTERACTION_KEY] = applied.to_state()
            self.acting = True
        else:
            self._remove_interaction(change)
        return self._with_status(change)

    # --- commands ----------------------------------------------------------------------------

    def set_mode(self, mode: str, blend: float | None = None) -> CopilotChange:
        """Switch to ``mode`` (one of ``COPILOT_MODES``) with ``blend`` (assist only); takes away what the mode does not write."""
        self.mode, self.blend = check_mode(mode), check_blend(blend)
        change = CopilotChange()
        if mode != "suggest":
            self._remove_suggestion(change)
        if mode in ("off", "suggest"):
            self._remove_interaction(change)
        return self._with_status(change)

    def stop(self) -> CopilotChange:
        """Mode off; its interaction and suggestion are removed (whatever it believes is there)."""
        self.mode = "off"
        self.acting = self._suggesting = False
        change = CopilotChange(removals=[COPILOT_INTERACTION_KEY, keys.STATE_COPILOT_SUGGESTION])
        return self._with_status(change)

    def let_go(self, reason: str) -> CopilotChange:
        """Take its interaction (and suggestion) away for ``reason`` (stall, frames stopped, error); the mode stays."""
        self.error = reason
        change = CopilotChange()
        self._remove_interaction(change)
        self._remove_suggestion(change)
        return self._with_status(change)

    def reset(self) -> None:
        """A new episode (``frame.index`` 0): the policy's history and task frame start afresh."""
        self._proposer.reset()
        self.last_proposal = None

    # --- helpers -----------------------------------------------------------------------------

    def _suggest(self, change: CopilotChange, proposal: Proposal, frame_index: int | None) -> None:
        interaction = proposal.interaction
        if self.mode != "suggest" or interaction is None:
            self._remove_suggestion(change)
            return
        change.updates[keys.STATE_COPILOT_SUGGESTION] = {
            "position": [float(x) for x in interaction.position],
            "particles": [int(i) for i in interaction.particles],
            "interaction_type": interaction.interaction_type,
            "scale": float(interaction.scale),
            "confidence": proposal.confidence,
            "frame.index": -1 if frame_index is None else int(frame_index),
            "owner.id": keys.COPILOT_OWNER,
            "label": COPILOT_LABEL,
        }
        self._suggesting = True

    def _remove_interaction(self, change: CopilotChange) -> None:
        if self.acting:
            change.removals.append(COPILOT_INTERACTION_KEY)
            self.acting = False

    def _remove_suggestion(self, change: CopilotChange) -> None:
        if self._suggesting:
            change.removals.append(keys.STATE_COPILOT_SUGGESTION)
            self._suggesting = False

    def _with_status(self, change: CopilotChange) -> CopilotChange:
        status = self.status()
        if status != self._written:
            change.updates[keys.STATE_COPILOT] = status
            self._written = status
        return change

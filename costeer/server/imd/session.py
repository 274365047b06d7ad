"""What one IMD client's messages do to the shared session: its forces, pause and play, its rate.

An MDCOMM becomes this client's ``forces`` interaction, ``interaction.<client id>``,
written with the client as origin (so the interaction gate checks and caps it and the
client's leaving removes it); an MDCOMM for no atoms removes it. PAUSE and RESUME run
``playback/pause`` and ``playback/play`` (in v2 PAUSE toggles, as in GROMACS and VMD);
TRATE sets how many frames pass between two this client is sent; KILL is refused, since
the simulation serves other clients too; WAIT is accepted and changes nothing (costeer
never stops for want of a client).

    session = ImdClientSession("imd-1", version=3, state=state, run_command=commands.run)
    for message in reader.feed(data):
        if not session.handle(message):
            break                            # DISCONNECT: close the connection
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np

from costeer.core import keys
from costeer.core.interaction import FORCE_VECTORS

from ..mistakes import MistakeLog
from ..state import SharedState
from .codec import ANGSTROM_PER_NM, ClientMessage, MessageType

__all__ = ["ImdClientSession", "MDCOMM_TO_KJ_PER_MOL_NM", "IMD_LABEL"]

MDCOMM_TO_KJ_PER_MOL_NM = {3: ANGSTROM_PER_NM, 2: 4.184 * ANGSTROM_PER_NM}
"""MDCOMM force units to kJ/(mol nm): v3 sends kJ/(mol Å), v2 (VMD) kcal/(mol Å)."""
IMD_LABEL = "imd"
"""The ``label`` of an IMD client's interaction."""

_log = logging.getLogger(__name__)


class ImdClientSession:
    """The transport-independent half of one IMD connection."""

    def __init__(
        self,
        client_id: str,
        *,
        version: int,
        state: SharedState,
        run_command: Callable[[str], Any],
    ) -> None:
        self.client_id = client_id
        self.version = version
        self.interaction_key = f"{keys.INTERACTION_PREFIX}{client_id}"
        self.rate = 1
        """Send a frame when at least this many frames passed since the last one sent (TRATE)."""
        self.started = False
        """The client sent GO: frames may flow."""
        self.paused_by_client = False
        """This client's last PAUSE/RESUME paused the simulation (undone when it leaves)."""
        self._state = state
        self._run_command = run_command
        self._mistakes = MistakeLog(client_id)
        self._forces_factor = MDCOMM_TO_KJ_PER_MOL_NM[version]

    def handle(self, message: ClientMessage) -> bool:
        """Apply one message; ``False`` when the client asked to disconnect."""
        kind = message.kind
        if kind == MessageType.GO:
            self.started = True
        elif kind == MessageType.DISCONNECT:
            return False
        elif kind == MessageType.MDCOMM:
            self._apply_forces(message.indices, message.forces)
        elif kind == MessageType.PAUSE:
            self._set_paused(not self.paused_by_client if self.version == 2 else True)
        elif kind == MessageType.RESUME:
            self._set_paused(False)
        elif kind == MessageType.TRATE:
            self.rate = message.slot if message.slot >= 1 else 1
            _log.info("%s: transmission rate %d (a frame every %d served)", self.client_id, self.rate, self.rate)
        elif kind == MessageType.KILL:
            self._mistakes.note(
                "asked to kill the simulation (IMD_KILL); refused: other clients share it (stop the server instead)"
            )
        elif kind == MessageType.WAIT:
            _log.debug("%s: wait mode %d noted; the simulation runs on without clients anyway", self.client_id, message.slot)
        return True

    def close(self) -> None:
        """The client left: play again if it had paused the simulation (its interaction goes with it)."""
        if self.paused_by_client:
            self._set_paused(False)

    def _set_paused(self, paused: bool) -> None:
        self.paused_by_client = paused
        self._run_command(keys.PAUSE_COMMAND if paused else keys.PLAY_COMMAND)

    def _apply_forces(self, indices: np.ndarray, forces: np.ndarray) -> None:
        if indices.size == 0:
            self._state.update({}, [self.interaction_key], origin=self.client_id)
            return
        interaction = {
            "interaction_type": FORCE_VECTORS,
            "particles": indices.tolist(),
            "forces": (forces * self._forces_factor).tolist(),
            "label": IMD_LABEL,
            "owner.id": self.client_id,
        }
        self._state.update({self.interaction_key: interaction}, origin=self.client_id)

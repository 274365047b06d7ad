"""One IMD client's messages, without sockets: forces as its interaction, pause and play, its rate."""

from __future__ import annotations

import numpy as np
import pytest

from costeer.core import keys
from costeer.server.imd.codec import ClientMessage, MessageType
from costeer.server.imd.session import ImdClientSession
from costeer.server.state import SharedState


@pytest.fixture
def state() -> SharedState:
    return SharedState()


def session(state: SharedState, version: int = 3) -> tuple[ImdClientSession, list[str]]:
    commands: list[str] = []
    return ImdClientSession("imd-7", version=version, state=state, run_command=commands.append), commands


def mdcomm(indices, forces) -> ClientMessage:
    return ClientMessage(MessageType.MDCOMM, len(indices), indices=np.array(indices, dtype=np.int64),
                         forces=np.array(forces, dtype=np.float64).reshape(-1, 3))


def test_go_starts_and_disconnect_ends():
    imd, _ = session(SharedState())
    assert not imd.started
    assert imd.handle(ClientMessage(MessageType.GO))
    assert imd.started
    assert imd.handle(ClientMessage(MessageType.DISCONNECT)) is False


def test_forces_are_written_as_the_clients_interaction(state):
    imd, _ = session(state)
    imd.handle(mdcomm([3], [[1.0, 2.0, 3.0]]))
    value = state.get("interaction.imd-7")
    assert value == {"interaction_type": "forces", "particles": [3], "forces": [[10.0, 20.0, 30.0]],
                     "label": "imd", "owner.id": "imd-7"}
    assert state.last_writers()["interaction.imd-7"] == "imd-7"
    imd.handle(mdcomm([], []))
    assert "interaction.imd-7" not in state.snapshot()


def test_v2_forces_are_kcal_per_mol_angstrom(state):
    imd, _ = session(state, version=2)
    imd.handle(mdcomm([0], [[1.0, 0.0, 0.0]]))
    assert state.get("interaction.imd-7")["forces"] == [[pytest.approx(41.84), 0.0, 0.0]]


def test_v3_pause_is_idempotent_and_resume_plays(state):
    imd, commands = session(state)
    for kind in (MessageType.PAUSE, MessageType.PAUSE, MessageType.RESUME):
        imd.handle(ClientMessage(kind))
    assert commands == [keys.PAUSE_COMMAND, keys.PAUSE_COMMAND, keys.PLAY_COMMAND]
    imd.close()
    assert commands[-1] == keys.PLAY_COMMAND and len(commands) == 3


def test_v2_pause_toggles_and_leaving_paused_plays(state):
    imd, commands = session(state, version=2)
    for _ in range(3):
        imd.handle(ClientMessage(MessageType.PAUSE))
    assert commands == [keys.PAUSE_COMMAND, keys.PLAY_COMMAND, keys.PAUSE_COMMAND]
    imd.close()
    assert commands[-1] == keys.PLAY_COMMAND


@pytest.mark.parametrize(("slot", "rate"), [(5, 5), (1, 1), (0, 1), (-3, 1)])
def test_transmission_rate_below_one_is_the_default(state, slot, rate):
    imd, _ = session(state)
    imd.handle(ClientMessage(MessageType.TRATE, slot))
    assert imd.rate == rate


def test_kill_is_refused_with_a_log_line(state, caplog):
    imd, commands = session(state)
    assert imd.handle(ClientMessage(MessageType.KILL))
    assert commands == [] and "IMD_KILL" in caplog.text

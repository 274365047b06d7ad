"""Recovery seen by NanoVer clients: released pulls, refused re-sends, ``costeer.recovery``, clean recordings."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import pytest

from costeer.core import keys
from costeer.engine.loading import from_built, load_pdb_system
from costeer.engine.openmm_simulation import OpenMMSimulation
from costeer.engine.recovery import Recovery
from costeer.recording.reader import RecordingReader
from costeer.server.app import CosteerServer
from costeer.server.commands import CommandRegistry
from costeer.server.interactions import InteractionGate
from costeer.server.session import ClientSession
from costeer.server.state import SharedState
from costeer.tasks import build_task_system


def spring(position=(1.0, 0.0, 0.0), particles=(60,), **extra):
    return {"position": list(position), "particles": list(particles), "interaction_type": "spring",
            "scale": 100.0, "max_force": math.inf, **extra}


def test_a_released_interaction_is_refused_to_its_writer_with_one_logged_refusal(caplog):
    state = SharedState()
    pushed = []
    gate = InteractionGate(particle_count=lambda: 65, on_change=pushed.append)
    gate.install(state)
    state.update({"interaction.grab": spring(), "interaction.other": spring()}, origin="headset-1")
    state.update({"interaction.theirs": spring()}, origin="headset-2")
    writers = gate.release(["interaction.grab", "interaction.theirs"])
    assert writers == {"interaction.grab": "headset-1", "interaction.theirs": "headset-2"}
    assert set(pushed[-1]) == {"interaction.other"}
    state.update({}, ["interaction.grab", "interaction.theirs"])
    with caplog.at_level(logging.WARNING, logger="costeer.server.interactions"):
        for _ in range(30):  # the headset re-sends the held grab every frame
            assert state.update({"interaction.grab": spring(position=(2.0, 0, 0))}, origin="headset-1") == {}
    assert "interaction.grab" not in state.snapshot()
    assert set(pushed[-1]) == {"interaction.other"}
    refusals = [r for r in caplog.records if "interaction.grab" in r.getMessage()]
    assert len(refusals) == 1 and "headset-1" in refusals[0].getMessage() and "grab again" in refusals[0].getMessage()
    # a new grab (a new id) is accepted, and so are other interactions of the same client
    assert set(state.update({"interaction.grab2": spring(), "interaction.other": spring()}, origin="headset-1")) == {
        "interaction.grab2", "interaction.other"}
    # once the writer has left, its connection id never writes again; another connection may use the key
    assert set(state.update({"interaction.grab": spring()}, origin="headset-1-reconnected")) == {"interaction.grab"}


def _released_grab() -> tuple[SharedState, InteractionGate]:
    state = SharedState()
    gate = InteractionGate(particle_count=lambda: 65)
    gate.install(state)
    state.update({"interaction.grab": spring()}, origin="headset-1")
    gate.release(["interaction.grab"])
    state.update({}, ["interaction.grab"])  # as the server does after a recovery
    assert state.update({"interaction.grab": spring()}, origin="headset-1") == {}
    return state, gate


def test_a_released_interaction_is_accepted_again_once_its_writer_removes_it():
    state, gate = _released_grab()
    state.update({}, ["interaction.grab"], origin="headset-2")  # another client's removal changes nothing
    assert state.update({"interaction.grab": spring()}, origin="headset-1") == {}
    state.update({}, ["interaction.grab"], origin="headset-1")  # the headset lets go: the key is absent already
    assert set(state.update({"interaction.grab": spring()}, origin="headset-1")) == {"interaction.grab"}
    assert set(gate.interactions) == {"interaction.grab"} and gate.released == {}


def test_a_writer_leaving_ends_its_released_refusals():
    state, gate = _released_grab()
    session = ClientSession("headset-2", state=state, commands=CommandRegistry(), send_command=lambda message: None)
    state.update({"interaction.other": spring()}, origin="headset-2")
    gate.release(["interaction.other"])
    assert set(gate.released) == {"interaction.grab", "interaction.other"}
    session.close()
    assert gate.released == {"interaction.grab": "headset-1"}
    state.forget_writer("headset-1")
    assert gate.released == {}


def test_refused_interactions_are_logged_once_per_client_and_kind(caplog):
    state, gate = _released_grab()
    with caplog.at_level(logging.WARNING):
        for number in range(20):
            state.update({f"interaction.far{number}": spring(particles=(99,))}, origin="headset-1")
            state.update({"interaction.grab": spring(position=(number, 0, 0))}, origin="headset-1")
        state.update({"interaction.far": spring(particles=(99,))}, origin="headset-2")
    messages = [record.getMessage() for record in caplog.records]
    assert len([m for m in messages if "headset-1" in m and "out of range" in m]) == 1
    assert len([m for m in messages if "headset-1" in m and "interaction.grab" in m and "grab again" in m]) == 1
    assert len([m for m in messages if "headset-2" in m]) == 1
    assert len(messages) == 3


def test_the_server_writes_the_notice_and_removes_the_released_keys(fake_simulation):
    server = CosteerServer([fake_simulation("alpha", 65)], port=0)
    server.state.update({"interaction.grab": spring(**{"owner.id": "user-1"}), "avatar.user-1": {}}, origin="c1")
    recovery = Recovery(count=1, simulation="alpha", cause="non-finite positions", simulation_time=1.5, lost_time=0.1,
                        state_age=0.2, seconds=0.03, rollbacks=1, released={"interaction.grab": "user-1"})
    server._on_recovery(recovery)
    content = server.state.snapshot()
    assert "interaction.grab" not in content and "avatar.user-1" in content
    notice = content[keys.STATE_RECOVERY]
    assert notice["count"] == 1 and notice["simulation_time"] == 1.5 and notice["state_age"] == 0.2
    assert notice["released"] == [{"key": "interaction.grab", "owner.id": "user-1", "client": "c1"}]
    assert "rolled back" in notice["message"]
    assert server.state.update({"interaction.grab": spring()}, origin="c1") == {}
    assert server.runner.on_blowup == "recover"


def _positions(frame) -> np.ndarray | None:
    raw = frame.get(keys.PARTICLE_POSITIONS)
    return None if raw is None else np.frombuffer(raw, dtype=np.float32)


def _pull_until_recovered(server, connect_client, *, atom: int, timeout: float = 60.0):
    """A headset that grabs ``atom`` hard and keeps re-sending the grab, and a watcher."""
    url = f"ws://127.0.0.1:{server.port}"
    headset, watcher = connect_client(url), connect_client(url)
    headset.wait_for(lambda: _positions(headset.frame) is not None, timeout=30)
    start = _positions(headset.frame).reshape(-1, 3)[atom]
    grab = spring(position=(start + [20.0, 0.0, 0.0]).tolist(), particles=(atom,), scale=1e6,
                  **{"owner.id": "user-1"})
    deadline = time.monotonic() + timeout
    while keys.STATE_RECOVERY not in headset.state:
        assert time.monotonic() < deadline, "no recovery within the time allowed"
        headset.update_state({"interaction.grab": grab})
        headset.receive(timeout=1 / 30)
    notice = headset.state[keys.STATE_RECOVERY]
    recovered_at = headset.frame_count
    # the headset goes on sending the held grab for a second: it stays released
    until = time.monotonic() + 1.0
    while time.monotonic() < until:
        headset.update_state({"interaction.grab": grab})
        headset.receive(timeout=1 / 30)
    headset.wait_for(lambda: headset.frame_count > recovered_at + 20, timeout=30)
    watcher.wait_for(lambda: keys.STATE_RECOVERY in watcher.state and watcher.frame_count > 20, timeout=30)
    return headset, watcher, notice


def _check_recovery(server, headset, watcher, notice, path: Path) -> None:
    assert notice["count"] >= 1
    assert notice["released"][0] == {"key": "interaction.grab", "owner.id": "user-1", "client": notice["released"][0]["client"]}
    assert notice["seconds"] < 1.0, notice
    assert notice["state_age"] is None or notice["state_age"] <= 1.0 + 0.5 * (notice["count"] - 1), notice
    assert "interaction.grab" not in headset.state and "interaction.grab" not in server.state.snapshot()
    assert not server.runner.is_paused
    times = [f[keys.SIMULATION_TIME] for f in list(headset.frames)[-10:] if keys.SIMULATION_TIME in f]
    assert times == sorted(times) and len(times) >= 5  # running on
    for client in (headset, watcher):
        assert not [f for f in client.frames if keys.SIMULATION_EXCEPTION in f]
        for frame in client.frames:
            positions = _positions(frame)
            if positions is not None:
                assert np.isfinite(positions).all() and np.abs(positions).max() < 1e3
    server.close()
    with RecordingReader(path) as reader:
        frames = list(reader.frame_updates())
        states = list(reader.states())
    noticed_at = min(t for t, state in states if keys.STATE_RECOVERY in state)
    assert len([t for t, _ in frames if t > noticed_at]) >= 5  # recorded running on
    for _, frame in frames:
        for key in (keys.PARTICLE_POSITIONS, keys.USER_FORCES_SPARSE):
            if key in frame:
                assert np.isfinite(np.asarray(frame[key], dtype=np.float64)).all()
        if keys.PARTICLE_POSITIONS in frame:
            assert np.abs(frame[keys.PARTICLE_POSITIONS]).max() < 1e3
    print(f"\nrecovery: {notice['message']}; {notice['seconds'] * 1e3:.0f} ms to run again, "
          f"state {notice['state_age']} s old, {notice['lost_time']:.4f} ps undone, recoveries {notice['count']}")


def _nanotube_task(villin_pdb) -> OpenMMSimulation:
    return OpenMMSimulation(from_built(build_task_system("nanotube")), max_force=None)  # the server cap raised


def _pdb_protein(villin_pdb) -> OpenMMSimulation:
    loaded = load_pdb_system(villin_pdb, strip_water=True)
    return OpenMMSimulation(loaded, max_force=1e9, source=str(villin_pdb))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("system", "atom"), [(_nanotube_task, 60), (_pdb_protein, 4)], ids=["nanotube-task", "pdb-protein"]
)
def test_a_pull_that_blows_the_system_up_is_recovered_from(system, atom, connect_client, villin_pdb, tmp_path) -> None:
    path = tmp_path / "session.nanover.zip"
    server = CosteerServer([system(villin_pdb)], port=0, record=path)
    server.start()
    try:
        headset, watcher, notice = _pull_until_recovered(server, connect_client, atom=atom)
        _check_recovery(server, headset, watcher, notice, path)
    finally:
        server.close()

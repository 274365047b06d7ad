"""ClientSession: state writes tagged by connection, commands, and the clean-up rule."""

from __future__ import annotations

import logging
import math

import msgpack

from costeer.server.commands import CommandRegistry
from costeer.server.multiuser import radial_origins
from costeer.server.session import (
    ClientLedger,
    ClientMessage,
    ClientSession,
    StatePart,
    keys_to_clean_up,
    user_ids_from_keys,
)
from costeer.server.state import SharedState
from costeer.server.websocket.codec import ProtocolError, decode_message

USER = "929680e7-b96d-4ead-9878-1f56462ab669"


def test_user_ids_come_from_avatar_playarea_and_update_index():
    assert user_ids_from_keys([f"avatar.{USER}", "playarea.p2", "update.index.p3", "scene", "avatar."]) == {USER, "p2", "p3"}


def test_clean_up_rule_matches_a_real_headset_session():
    content = {
        "scene": [1.0],
        "simulation.name": "nanotube",
        f"avatar.{USER}": {},
        f"playarea.{USER}": {},
        f"update.index.{USER}": 3,
        f"cursor.{USER}.left": {},
        "interaction.41f2": {"particles": [60], "owner.id": USER},
        "interaction.other": {"particles": [1], "owner.id": "someone-else"},
        "avatar.someone-else": {},
        f"user-origin.{USER}": {},
        f"{USER}": "a key that merely equals the id",
        f"selection.x{USER}": {},
    }
    written = {"scene", f"avatar.{USER}", f"playarea.{USER}", f"update.index.{USER}", f"cursor.{USER}.left"}
    doomed = keys_to_clean_up(content, written, {USER})
    assert doomed == {
        f"avatar.{USER}", f"playarea.{USER}", f"update.index.{USER}", f"cursor.{USER}.left",
        "interaction.41f2", f"user-origin.{USER}",
    }


def test_clean_up_without_a_known_id_removes_its_interactions_and_per_user_keys_only():
    content = {"scene": 1, "interaction.mine": {}, "cursor.abc.left": {}, "selection.s": {}}
    assert keys_to_clean_up(content, set(content), set()) == {"interaction.mine", "cursor.abc.left"}


def test_session_tracks_writes_and_cleans_up_on_close():
    state = SharedState()
    state.update({"simulation.name": "x"})
    session = ClientSession("client-1", state=state, commands=CommandRegistry(), send_command=lambda m: None)
    session.receive(ClientMessage(state=StatePart(
        updates={f"avatar.{USER}": {}, "scene": [1], "interaction.i": {"owner.id": USER}}, removals=[])))
    other = ClientSession("client-2", state=state, commands=CommandRegistry(), send_command=lambda m: None)
    other.receive(ClientMessage(state=StatePart(updates={"avatar.u2": {}}, removals=[])))
    assert session.user_ids == {USER}
    removed = session.close()
    assert removed == {f"avatar.{USER}", "interaction.i"}
    assert state.snapshot() == {"simulation.name": "x", "scene": [1], "avatar.u2": {}}
    assert session.close() == set()


def test_session_runs_commands_and_ignores_frames():
    sent = []
    registry = CommandRegistry()
    registry.register("ping", lambda: "pong")
    session = ClientSession("c", state=SharedState(), commands=registry, send_command=sent.append)
    session.receive(ClientMessage(frame={"frame.index": 0}, commands=({"request": {"name": "ping", "id": 1}},)))
    assert sent == [{"request": {"name": "ping", "id": 1}, "response": "pong"}]


def _session(state: SharedState, connection_id: str) -> ClientSession:
    return ClientSession(connection_id, state=state, commands=CommandRegistry(), send_command=lambda m: None)


def _write(session: ClientSession, updates: dict) -> None:
    session.receive(ClientMessage(state=StatePart(updates=updates, removals=[])))


def test_ids_that_are_words_only_remove_the_clients_own_per_user_keys():
    state = SharedState()
    server_keys = {"simulation.name": "x", "simulation.index": 0, "costeer.session": {}, "user-origin.name": {}}
    state.update(server_keys)
    prankster, other = _session(state, "client-1"), _session(state, "client-2")
    _write(other, {"transform.simulation": {"transform": [0] * 10}, "scene.index": 1})
    _write(prankster, {f"avatar.{word}": {} for word in ("name", "index", "session", "simulation")})
    assert prankster.user_ids == {"name", "index", "session", "simulation"}
    removed = prankster.close()
    assert removed == {"avatar.name", "avatar.index", "avatar.session", "avatar.simulation", "user-origin.name"}
    assert set(state.snapshot()) == {"simulation.name", "simulation.index", "costeer.session",
                                     "transform.simulation", "scene.index"}


def test_keys_another_client_or_the_server_wrote_stay_even_when_they_name_the_leaving_user():
    state = SharedState()
    leaving, other = _session(state, "client-1"), _session(state, "client-2")
    _write(other, {f"cursor.{USER}.right": {}, "interaction.a": {"owner.id": USER}})
    _write(leaving, {f"avatar.{USER}": {}, f"cursor.{USER}.left": {}, "interaction.c": {},
                     f"cursor.{USER}.right": {"taken": True}})  # another's key: refused
    state.update({"interaction.b": {"owner.id": USER}})  # the server wrote it last
    assert leaving.close() == {f"avatar.{USER}", f"cursor.{USER}.left", "interaction.c"}
    assert state.snapshot() == {f"cursor.{USER}.right": {}, "interaction.a": {"owner.id": USER},
                                "interaction.b": {"owner.id": USER}}


def test_refused_avatar_of_another_user_does_not_make_that_user_ours():
    state = SharedState()
    victim, prankster = _session(state, "client-1"), _session(state, "client-2")
    _write(victim, {"avatar.victim": {}})
    state.update({"user-origin.victim": {}})  # the server placed the victim
    _write(prankster, {"avatar.victim": {"stolen": True}})
    assert prankster.user_ids == set()
    assert prankster.close() == set()
    assert state.snapshot() == {"avatar.victim": {}, "user-origin.victim": {}}


def _refusing_session(sent: list) -> ClientSession:
    registry = CommandRegistry()
    state = SharedState()
    registry.register("multiuser/radially-orient-origins",
                      lambda radius=1.0: state.update(radial_origins(state.snapshot(), radius=radius)))
    session = ClientSession("client-1", state=state, commands=registry, send_command=sent.append)
    session.receive(ClientMessage(state=StatePart(updates={"avatar.a": {}}, removals=[])))
    return session


def _deliver(session: ClientSession, message: dict) -> None:
    try:
        session.receive(decode_message(msgpack.packb(message)))
    except ProtocolError as error:
        session.refuse(error, requests=error.requests)


def test_a_command_with_non_map_arguments_gets_an_exception_reply():
    sent = []
    session = _refusing_session(sent)
    request = {"name": "multiuser/radially-orient-origins", "arguments": "nan", "id": 1}
    _deliver(session, {"command": {"request": request}})
    assert sent == [{"request": request, "exception": sent[0]["exception"]}]
    assert "must be a map of string keys, got str" in sent[0]["exception"]


def test_a_nan_radius_is_refused_with_an_exception_reply_and_leaves_the_state_alone():
    sent = []
    session = _refusing_session(sent)
    for number, radius in enumerate(["nan", math.nan, math.inf, -1.0, 1e9, True]):
        _deliver(session, {"command": {"request": {"name": "multiuser/radially-orient-origins",
                                                   "arguments": {"radius": radius}, "id": number}}})
    assert [reply["request"]["id"] for reply in sent] == list(range(6))
    assert all("radius must be a number of metres from 0 to 100" in reply["exception"] for reply in sent)
    assert session._state.snapshot() == {"avatar.a": {}}


def test_repeated_client_mistakes_are_logged_once_without_a_traceback(caplog):
    session = _refusing_session([])
    for _ in range(5):
        _deliver(session, {"state": [1, 2, 3]})
        _deliver(session, {"frame": {"frame.index": 0}})
        _deliver(session, {"command": {"request": {"name": "no/such", "id": 1}}})
        _deliver(session, {"command": {"request": {"name": "multiuser/radially-orient-origins",
                                                   "arguments": {"radius": "nan"}, "id": 2}}})
    warnings = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(warnings) == 4, [record.getMessage() for record in warnings]
    assert all("client-1" in record.getMessage() and record.exc_info is None for record in warnings)


def test_a_transport_writing_directly_gets_the_same_clean_up_from_the_ledger():
    state = SharedState()
    ledger = ClientLedger(state)
    state.update({"simulation.name": "x"})
    state.update({f"avatar.{USER}": {}, "scene": [1], "interaction.i": {"owner.id": USER}}, origin="grpc-1")
    state.update({"avatar.victim": {"stolen": True}}, origin="grpc-2")
    state.update({"avatar.u2": {}}, origin="grpc-2")
    state.update({"avatar.victim": {"stolen": True}}, origin="grpc-1")  # refused: grpc-2 owns it
    state.update({f"user-origin.{USER}": {}})  # the server places the user
    assert ledger.user_ids("grpc-1") == {USER}
    assert ledger.client_left("grpc-1") == {f"avatar.{USER}", "interaction.i", f"user-origin.{USER}"}
    assert state.snapshot() == {"simulation.name": "x", "scene": [1], "avatar.victim": {"stolen": True}, "avatar.u2": {}}
    assert ledger.user_ids("grpc-1") == set() and ledger.user_ids("grpc-2") == {"victim", "u2"}

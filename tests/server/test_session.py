"""ClientSession: state writes tagged by connection, commands, and the clean-up rule."""

from __future__ import annotations

from costeer.server.commands import CommandRegistry
from costeer.server.session import ClientSession, keys_to_clean_up, user_ids_from_keys
from costeer.server.state import SharedState
from costeer.server.websocket.codec import ClientMessage, StatePart

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

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

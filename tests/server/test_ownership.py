"""KeyOwnership through SharedState: who may write which key, locks, and the state's limits."""

from __future__ import annotations

import logging
import math
import time
import tracemalloc

import msgpack
import pytest

from costeer.server.commands import CommandRegistry
from costeer.server.ownership import LockRefusedError, KeyOwnership, StateLimits
from costeer.server.session import ClientSession
from costeer.server.state import SharedState, StateRefusedError
from costeer.server.session import ClientMessage, StatePart

SERVER_STATE = {"simulation.name": "nanotube", "simulation.index": 0, "imd.velocity_reset_available": False,
                "costeer.session": {"server": "costeer"}}


def _state(**limits) -> SharedState:
    state = SharedState(ownership=KeyOwnership(limits=StateLimits(**limits)) if limits else None)
    state.update(SERVER_STATE)
    return state


def test_another_client_cannot_overwrite_or_remove_your_interaction_or_avatar(caplog):
    state = _state()
    mine = {"interaction.i1": {"particles": [1]}, "avatar.me": {"name": "A"}, "cursor.me.left": {}, "playarea.me": {}}
    state.update(mine, origin="client-1")
    stored = state.update({"interaction.i1": {"particles": [2]}, "avatar.me": {"name": "B"}}, ["cursor.me.left"],
                          origin="client-2")
    state.update({}, ["playarea.me"], origin="client-2")
    assert stored == {}
    assert {key: state.get(key) for key in mine} == mine
    refusals = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(refusals) == 1  # once per client and kind of refusal
    assert "client-2" in refusals[0] and "owned by client-1" in refusals[0]
    state.update({"avatar.me": {"name": "A2"}}, ["interaction.i1"], origin="client-1")  # the owner may
    assert state.get("avatar.me") == {"name": "A2"} and state.get("interaction.i1") is None


def test_clients_cannot_write_or_remove_the_servers_keys(caplog):
    state = _state()
    state.update({"simulation.name": "hacked", "costeer.session": {}, "costeer.recovery": {"x": 1}},
                 ["simulation.index", "imd.velocity_reset_available"], origin="client-1")
    assert {key: state.get(key) for key in SERVER_STATE} == SERVER_STATE
    assert state.get("costeer.recovery") is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "client-1" in warnings[0] and "is the server's and read-only" in warnings[0]
    state.update({"costeer.demonstrator": {"label": "synthetic"}}, origin="client-1")  # a client's own key
    assert state.get("costeer.demonstrator") == {"label": "synthetic"}


@pytest.mark.parametrize(
    "value",
    [
        {"components": [{"name": "head", "position": [0.0, math.nan, 0.0], "rotation": [0, 0, 0, 1]}]},
        [math.inf],
        [0.5] * 40 + [-math.inf],
        {math.nan: "a nan key"},
        [[[[{"deep": [1, "x", math.nan]}]]]],
    ],
)
def test_a_value_holding_nan_or_infinity_anywhere_is_refused(value, caplog):
    state = _state()
    state.update({"avatar.me": value, "avatar.ok": {"position": [1e308, 0.0, -1e308]}}, origin="client-1")
    assert "avatar.me" not in state.snapshot()
    assert state.get("avatar.ok") == {"position": [1e308, 0.0, -1e308]}
    assert "refused client-1's change to avatar.me: avatar.me holds NaN or infinity" in caplog.text


def test_an_interaction_without_a_cap_of_its_own_is_kept_as_nanovers_vr_client_sends_it():
    state = _state()
    pull = {"position": [1.0, 2.0, 1.5], "particles": [60], "interaction_type": "spring", "scale": 100.0,
            "max_force": math.inf, "owner.id": "929680e7", "label": "hand.right"}
    state.update({"interaction.a": pull, "interaction.b": {**pull, "scale": math.inf}}, origin="client-1")
    assert state.get("interaction.a") == pull
    assert "interaction.b" not in state.snapshot()


def test_scene_stays_shared():
    state = _state()
    state.update({"scene": [1], "transform.simulation": {"transform": [1]}, "selection.s": {}}, origin="client-1")
    state.update({"scene": [2], "transform.simulation": {"transform": [2]}}, ["selection.s"], origin="client-2")
    assert state.get("scene") == [2] and state.get("transform.simulation") == {"transform": [2]}
    assert state.get("selection.s") is None
    assert state.ownership.owner_of("scene") is None


def test_ownership_ends_when_the_key_is_removed_or_its_owner_leaves():
    state = _state()
    state.update({"avatar.a": 1, "interaction.x": 1}, origin="client-1")
    state.update({}, ["interaction.x"], origin=None)  # the server released it
    state.update({"interaction.x": 2}, origin="client-2")
    assert state.get("interaction.x") == 2 and state.ownership.owner_of("interaction.x") == "client-2"
    state.forget_writer("client-1")  # client-1 left (its clean-up kept avatar.a here)
    state.update({"avatar.a": 3}, origin="client-2")
    assert state.get("avatar.a") == 3


def test_the_server_and_recording_playback_are_never_refused():
    state = _state(max_value_bytes=100, max_keys_per_client=1, max_keys=8, max_state_bytes=300)
    state.update({"avatar.a": 1}, origin="client-1")
    replayed = {"avatar.a": {"replayed": True}, "simulation.name": "other", "big": "x" * 500}
    assert state.update(replayed) == replayed  # origin None: the server, or playback through it


def test_value_key_and_total_limits_refuse_with_reasons(caplog):
    state = _state(max_value_bytes=200, max_keys_per_client=3, max_keys=9, max_state_bytes=600)
    assert state.update({"big": "x" * 300, "k" * 300: 1}, origin="client-1") == {}
    assert "over the 200-byte limit per value" in caplog.text
    assert "at most 256 characters" in caplog.text
    assert state.update({f"a{i}": i for i in range(5)}, origin="client-1") == {"a0": 0, "a1": 1, "a2": 2}
    assert "already holds 3 keys" in caplog.text
    assert state.update({"a0": "changed"}, origin="client-1") == {"a0": "changed"}  # not a new key
    assert state.update({f"b{i}": i for i in range(5)}, origin="client-2") == {"b0": 0, "b1": 1}
    assert "the shared state already holds 9 keys" in caplog.text
    state.update({}, ["b0", "b1", "a1", "a2"], origin="client-3")  # shared keys: anyone may remove
    assert state.update({"a1": "y" * 180, "a2": "y" * 180, "b0": "y" * 180}, origin="client-2") == {
        "a1": "y" * 180, "a2": "y" * 180}
    assert "would exceed its 600-byte limit" in caplog.text
    assert state.ownership.total_bytes == sum(len(msgpack.packb({k: v})) for k, v in state.snapshot().items())


def test_a_key_the_client_removes_makes_room_in_the_same_change():
    state = _state(max_keys_per_client=1)
    state.update({"a": 1}, origin="client-1")
    assert state.update({"b": 2}, ["a"], origin="client-1") == {"b": 2}
    assert set(state.snapshot()) - set(SERVER_STATE) == {"b"}


def test_the_whole_state_fits_in_one_default_websocket_message_after_a_flood():
    state = _state()
    for client in range(20):  # clients each filling their allowance with the largest values
        state.update({f"c{client}.{i}": "x" * 120_000 for i in range(8)}, origin=f"client-{client}")
        state.update({f"d{client}.{i}": i for i in range(400)}, origin=f"client-{client}")
    first_message = msgpack.packb({"state": {"updates": state.snapshot(), "removals": []}})
    assert len(first_message) <= 2**20 // 2, len(first_message)


def _session(state: SharedState, name: str) -> ClientSession:
    return ClientSession(name, state=state, commands=CommandRegistry(), send_command=lambda message: None)


def test_memory_stays_bounded_after_a_60k_key_attempt():
    state = _state()
    baseline = dict(state.snapshot())
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        flooder = _session(state, "client-1")
        for batch in range(60):
            flooder.receive(ClientMessage(state=StatePart(
                updates={f"flood.{batch}.{i}": {"payload": i} for i in range(1000)}, removals=[])))
        assert len(state.snapshot()) == len(baseline) + state.ownership.limits.max_keys_per_client
        flooder.close()
        grown = sum(stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(before, "filename"))
    finally:
        tracemalloc.stop()
    assert grown < 2_000_000, f"{grown / 1e6:.1f} MB kept after the flood"
    assert state.keys_written_by("client-1") == set() and state.ownership.owner_of("flood.0.0") is None


def test_a_lock_is_checked_like_ownership_and_expires():
    now = [0.0]
    ownership = KeyOwnership(clock=lambda: now[0])
    state = SharedState(ownership=ownership)
    state.update({"scene": [0]})
    ownership.acquire("client-1", {"scene": 5.0})
    with pytest.raises(LockRefusedError, match="scene is locked by client-1"):
        ownership.acquire("client-2", {"selection.s": None, "scene": None})
    assert ownership.owner_of("selection.s") is None  # all or none
    assert state.update({"scene": [2]}, origin="client-2") == {}
    with pytest.raises(StateRefusedError, match="scene is locked by client-1"):
        state.update({"scene": [2], "selection.s": {}}, origin="client-2", atomic=True)
    assert state.snapshot() == {"scene": [0]}  # all or nothing
    assert state.update({"scene": [1]}, origin="client-1") == {"scene": [1]}
    now[0] = 6.0
    assert state.update({"scene": [2]}, origin="client-2") == {"scene": [2]}
    with pytest.raises(LockRefusedError, match="read-only"):
        ownership.acquire("client-2", {"simulation.name": 1.0})
    with pytest.raises(LockRefusedError, match="finite number of seconds"):
        ownership.acquire("client-2", {"scene": float("nan")})
    with pytest.raises(LockRefusedError, match="at most 256 locks"):
        ownership.acquire("client-2", {f"k{i}": 1.0 for i in range(257)})


def test_a_lock_outlives_the_removal_of_its_key_until_released():
    ownership = KeyOwnership()
    state = SharedState(ownership=ownership)
    ownership.acquire("client-1", {"selection.s": None})
    state.update({"selection.s": {}}, origin="client-1")
    state.update({}, ["selection.s"])
    assert state.update({"selection.s": {"mine": True}}, origin="client-2") == {}
    ownership.release("client-2", ["selection.s"])  # not client-2's to release
    assert ownership.owner_of("selection.s") == "client-1"
    ownership.release("client-1", ["selection.s"])
    assert state.update({"selection.s": {"mine": True}}, origin="client-2") == {"selection.s": {"mine": True}}


def test_shared_keys_a_departed_client_left_stay_until_a_present_client_needs_their_room():
    state = _state(max_keys=len(SERVER_STATE) + 6)
    watcher = state.subscribe()
    watcher.take()
    leaver = _session(state, "client-1")
    leaver.receive(ClientMessage(state=StatePart(
        updates={"avatar.u1": {}, "selection.a": {"n": 1}, "selection.b": {"n": 2}, "scene": [1]}, removals=[])))
    leaver.close()
    assert {"selection.a", "selection.b", "scene"} <= set(state.snapshot())  # as in NanoVer: they stay
    assert "avatar.u1" not in state.snapshot()
    assert set(state.ownership.left_behind()) == {"scene", "selection.a", "selection.b"}
    state.update({"c1": 1, "c2": 2, "c3": 3}, origin="client-2")  # the state is now full
    watcher.take()
    stored = state.update({"avatar.u3": {"name": "newcomer"}, "selection.c": {}}, origin="client-3")
    assert stored == {"avatar.u3": {"name": "newcomer"}, "selection.c": {}}
    assert len(state.snapshot()) == state.ownership.limits.max_keys
    evicted = {"scene", "selection.a", "selection.b"} - set(state.snapshot())
    assert len(evicted) == 2 and set(watcher.take()["removals"]) == evicted  # clients see them go
    assert state.update({"c4": 4}, origin="client-2") == {"c4": 4}  # the last key left behind goes
    assert state.ownership.left_behind() == {}
    assert state.update({"c5": 5}, origin="client-2") == {}  # present clients' keys are never evicted
    assert set(state.snapshot()) >= {"c1", "c2", "c3", "c4", "avatar.u3", "selection.c"}


def test_clients_joining_and_leaving_again_and_again_cannot_fill_the_state_against_a_newcomer():
    state = _state(max_keys_per_client=50, max_keys=400, max_state_bytes=64 * 1024)
    for visit in range(40):
        visitor = _session(state, f"client-{visit}")
        visitor.receive(ClientMessage(state=StatePart(
            updates={f"junk.{visit}.{i}": "x" * 100 for i in range(50)}, removals=[])))
        visitor.close()
    newcomer = _session(state, "client-new")
    avatar = {"playerid": "u", "components": [{"position": [0.0, 1.0, 0.0], "rotation": [0, 0, 0, 1]}]}
    newcomer.receive(ClientMessage(state=StatePart(updates={"avatar.new": avatar, "selection.new": {}}, removals=[])))
    assert state.get("avatar.new") == avatar and state.get("selection.new") == {}
    assert len(state.snapshot()) <= 400 and state.ownership.total_bytes <= 64 * 1024
    assert "junk.39.49" in state.snapshot()  # the latest visitors' keys stay; the oldest made room


def test_a_key_left_behind_that_someone_locked_is_not_evicted():
    ownership = KeyOwnership(limits=StateLimits(max_keys=len(SERVER_STATE) + 2))
    state = SharedState(ownership=ownership)
    state.update(SERVER_STATE)
    state.update({"scene": [1], "selection.a": {}}, origin="client-1")
    state.forget_writer("client-1")
    ownership.acquire("client-2", {"scene": None})
    assert state.update({"selection.b": {}}, origin="client-3") == {"selection.b": {}}
    assert "scene" in state.snapshot() and "selection.a" not in state.snapshot()
    assert state.update({"selection.c": {}}, origin="client-3") == {}
    assert "already holds" in next(iter(_refusal_reasons(state, {"selection.d": {}}, "client-4")))


def _refusal_reasons(state: SharedState, updates: dict, origin: str) -> list[str]:
    review = state.ownership.review(updates, (), origin, state.snapshot())
    return [reason for _, reason in review.refusals.values()]


def test_keys_left_behind_make_room_after_a_real_websocket_disconnect(connect_client):
    from costeer.server.transport import SessionParts
    from costeer.server.websocket.server import WebSocketServer

    state = _state(max_keys=len(SERVER_STATE) + 6)
    with WebSocketServer(SessionParts.standalone(state=state), port=0) as server:
        url = f"ws://127.0.0.1:{server.port}"
        leaver = connect_client(url)
        leaver.update_state({"avatar.gone": {}, **{f"selection.{i}": {"i": i} for i in range(5)}})
        leaver.wait_for(lambda: "selection.4" in leaver.state)
        leaver.close()
        deadline = time.monotonic() + 10
        while len(state.ownership.left_behind()) < 5:
            assert time.monotonic() < deadline, "the server did not notice the disconnect"
            time.sleep(0.02)
        newcomer = connect_client(url)
        newcomer.wait_for(lambda: "selection.4" in newcomer.state and "avatar.gone" not in newcomer.state)
        newcomer.update_state({"avatar.new": {"name": "n"}, "scene": [2], "selection.new": {}})
        newcomer.wait_for(lambda: {"avatar.new", "scene", "selection.new"} <= set(newcomer.state))
        assert "selection.0" not in newcomer.state and "selection.1" not in newcomer.state
        assert {f"selection.{i}" for i in range(2, 5)} <= set(newcomer.state)

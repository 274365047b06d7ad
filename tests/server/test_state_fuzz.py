"""Fuzzed shared state: several clients write, remove and leave at random through their sessions.

The state is wired as ``CosteerServer`` wires it (interaction gate, scene shim, server keys);
messages go through the codec and ``ClientSession.receive`` exactly as the transport sends
them. Whatever the clients do: no exception escapes, no NaN or infinity ever lands in the state
(but an interaction's ``max_force`` of +infinity, NanoVer's "no cap of its own"), the
interactions the simulation pulls with are those in the state, every subscriber's merged
view is the state, and nothing a client owned outlives the clients.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from costeer.core import keys
from costeer.core.message import encode_message
from costeer.server.app import CosteerServer
from costeer.server.session import ClientSession
from costeer.server.websocket.codec import ProtocolError, decode_message

PARTICLES = 5
USERS = ("u1", "u2", "u3")
CLIENTS = 3
SERVER_KEYS = (keys.STATE_SIMULATION_NAME, keys.STATE_SIMULATION_INDEX, keys.STATE_SESSION,
               keys.STATE_VELOCITY_RESET_AVAILABLE)
OWNED_PREFIXES = (keys.INTERACTION_PREFIX, keys.AVATAR_PREFIX, "user-origin.")
PER_CLIENT_PREFIXES = (keys.INTERACTION_PREFIX, keys.AVATAR_PREFIX, "user-origin.", "cursor.", "playarea.",
                       "update.index.")

FUZZ = settings(
    max_examples=max(10, settings().max_examples // 2),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_state_keys = st.sampled_from(
    [f"{prefix}{user}" for user in USERS for prefix in ("avatar.", "user-origin.", "playarea.", "update.index.")]
    + [f"cursor.{user}.left" for user in USERS]
    + [f"interaction.{user}-{hand}" for user in USERS for hand in ("left", "right")]
    + ["scene", "transform.simulation", "selection.s", "interaction.", "avatar.", *SERVER_KEYS]
) | st.text(max_size=10)
_floats = st.floats() | st.sampled_from([math.nan, math.inf, -math.inf, 1e308])
_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | _floats | st.text(max_size=6)
_values = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
_pulls = st.fixed_dictionaries(
    {"position": st.lists(_floats, min_size=3, max_size=3), "particles": st.lists(st.integers(-1, PARTICLES), max_size=3)},
    optional={"interaction_type": st.sampled_from(["spring", "gaussian", "constant", "bad"]), "scale": _floats,
              "max_force": _floats, "owner.id": st.sampled_from(USERS)},
)
_poses = st.lists(_floats, min_size=0, max_size=10) | st.fixed_dictionaries({"transform": st.lists(_floats, max_size=10)})
_updates = st.dictionaries(_state_keys, _values | _pulls | _poses, max_size=4)
_messages = st.fixed_dictionaries(
    {}, optional={"updates": _updates, "removals": st.lists(_state_keys, max_size=3)}
).map(lambda state: {"state": state})
_actions = st.tuples(st.integers(0, CLIENTS - 1), _messages | st.just("leave"))
_scripts = st.lists(_actions, max_size=16)
"""What clients do, in order: (client number, a state message or ``"leave"``)."""


def _packed(value: Any) -> bytes:
    """A value's wire form: equal for equal values, NaN included (NaN != NaN in Python)."""
    return encode_message({"value": _sorted(value)})


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value, key=repr)}
    if isinstance(value, (list, tuple)):
        return [_sorted(item) for item in value]
    return value


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(item) for item in (*value, *value.values()))
    if isinstance(value, (list, tuple)):
        return any(_has_non_finite(item) for item in value)
    return False


class Clients:
    """Client sessions of one server, numbered; a client that left is replaced by a new connection."""

    def __init__(self, server: CosteerServer) -> None:
        self.server = server
        self.replies: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self.sessions = [self._join() for _ in range(CLIENTS)]

    def _join(self) -> ClientSession:
        return ClientSession(f"client-{next(self._ids)}", state=self.server.state, commands=self.server.commands,
                             send_command=self.replies.append)

    def act(self, number: int, action: Any) -> None:
        if action == "leave":
            self.sessions[number].close()
            self.sessions[number] = self._join()
            return
        data = msgpack.packb(action, use_bin_type=True)
        try:
            message = decode_message(data)
        except ProtocolError:
            return
        self.sessions[number].receive(message)

    def leave_all(self) -> None:
        for session in self.sessions:
            session.close()


def _fresh(fake_simulation) -> CosteerServer:
    """A server wired as ``costeer serve`` wires it, never started: no thread, no socket."""
    server = CosteerServer([fake_simulation("fuzz", PARTICLES)], port=0, session_info={"server": "fuzz"})
    server.state.update({keys.STATE_SIMULATION_NAME: "fuzz", keys.STATE_SIMULATION_INDEX: 0})
    return server


@FUZZ
@given(_scripts)
@example([(0, {"state": {"updates": {"scene": [math.nan, 1.0, 2.0, 3.0]}}})])
@example([(0, {"state": {"updates": {"transform.simulation": {"transform": [1.0, 2.0, 3.0]}}}})])
@example([(0, {"state": {"updates": {"scene": [math.nan, 1.0]}}})])
@example([(1, {"state": {"updates": {"avatar.u1": {"components": [{"position": [0.0, math.inf, 0.0]}]}}}})])
@example([(2, {"state": {"updates": {"selection.s": {math.nan: [1]}}}})])
def test_random_clients_never_break_the_state(fake_simulation, script) -> None:
    server = _fresh(fake_simulation)
    try:
        clients = Clients(server)
        state = server.state
        every_change = state.subscribe()
        every_change_view: dict[str, Any] = {}
        late_view: dict[str, Any] = {}
        late = None
        for step, (number, action) in enumerate(script):
            clients.act(number, action)
            _apply(every_change_view, every_change.take())
            if step == len(script) // 2:
                late = state.subscribe()
            content = state.snapshot()
            for key, value in content.items():
                if key.startswith(keys.INTERACTION_PREFIX) and value.get("max_force") == math.inf:
                    value = {name: item for name, item in value.items() if name != "max_force"}  # NanoVer's "no cap"
                assert not _has_non_finite(value), f"NaN or infinity landed in {key!r}"
            interaction_keys = {key for key in content if key.startswith(keys.INTERACTION_PREFIX)}
            assert set(server.interactions.interactions) == interaction_keys, "the runner pulls with other interactions than the state shows"
        if late is not None:
            _apply(late_view, _decoded(late.encoded_take(lambda change: encode_message({"state": change}))))
        _apply(every_change_view, every_change.take())
        final = state.snapshot()
        assert _packed(every_change_view) == _packed(final)
        if late is not None:
            assert _packed(late_view) == _packed(final)

        clients.leave_all()
        left = state.snapshot()
        assert not [key for key in left if key.startswith(PER_CLIENT_PREFIXES)], "a client's keys outlived it"
        assert server.interactions.interactions == {}
    finally:
        server.close()


def _decoded(data: bytes | None) -> dict[str, Any] | None:
    return None if data is None else msgpack.unpackb(data, raw=False, strict_map_key=False)["state"]


def _apply(view: dict[str, Any], change: dict[str, Any] | None) -> None:
    if change is None:
        return
    for key in change["removals"]:
        view.pop(key, None)
    view.update(change["updates"])


@FUZZ
@given(_scripts)
@example([(0, {"state": {"updates": {keys.STATE_SIMULATION_NAME: "mine"}}})])
@example([(1, {"state": {"removals": [keys.STATE_SESSION]}})])
def test_clients_cannot_change_the_servers_keys(fake_simulation, script) -> None:
    server = _fresh(fake_simulation)
    try:
        before = {key: _packed(server.state.get(key)) for key in SERVER_KEYS}
        clients = Clients(server)
        for number, action in script:
            clients.act(number, action)
            content = server.state.snapshot()
            for key in SERVER_KEYS:
                assert key in content and _packed(content[key]) == before[key], f"a client changed {key!r}"
    finally:
        server.close()


@FUZZ
@given(_scripts)
@example([(0, {"state": {"updates": {"avatar.u1": {"a": 1}}}}), (1, {"state": {"updates": {"avatar.u1": {"b": 2}}}})])
@example([(0, {"state": {"updates": {"avatar.u1": {"a": 1}}}}), (1, {"state": {"removals": ["avatar.u1"]}})])
def test_a_client_cannot_change_what_another_connected_client_owns(fake_simulation, script) -> None:
    server = _fresh(fake_simulation)
    try:
        clients = Clients(server)
        owners: dict[str, str] = {}
        """Owned keys (``interaction.*``, ``avatar.*``, ``user-origin.*``) and the connection that wrote them."""
        for number, action in script:
            actor = clients.sessions[number].connection_id
            before = server.state.snapshot()
            others = {key: before[key] for key, owner in owners.items() if owner != actor and key in before}
            clients.act(number, action)
            after = server.state.snapshot()
            for key, value in others.items():
                assert key in after and _packed(after[key]) == _packed(value), f"{actor} changed {key!r}, owned by {owners[key]}"
            connected = {session.connection_id for session in clients.sessions}
            owners = {key: owner for key, owner in owners.items() if owner in connected and key in after}
            if action != "leave":
                for key, value in action["state"].get("updates", {}).items():
                    if key.startswith(OWNED_PREFIXES) and key not in owners and key in after and _packed(after[key]) == _packed(value):
                        owners[key] = actor
    finally:
        server.close()

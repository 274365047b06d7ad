"""Fuzzed commands: every request with an id gets exactly one reply, a response or an exception.

Requests go through the codec and a ``ClientSession`` to a running ``CosteerServer`` (fake
simulations, no OpenMM) with the server's real commands, on a one-thread executor as the
WebSocket transport runs them; the requests the codec refuses are sent over the real
transport, where the client can only wait for its reply.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import msgpack
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from costeer.core import keys
from costeer.server.app import CosteerServer
from costeer.server.session import ClientSession
from costeer.server.websocket.codec import ProtocolError, decode_message

REPLY_TIMEOUT = 20.0
"""Generous: a reply that comes at all comes within milliseconds on an idle machine."""

FUZZ = settings(
    max_examples=max(10, settings().max_examples // 3),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_floats = st.floats() | st.sampled_from([math.nan, math.inf, -math.inf])
_scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | _floats | st.text(max_size=6)
            | st.sampled_from(["nan", "inf", "-1e400", "1", ""]))
_values = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
_argument_names = st.sampled_from(["index", "radius", "clear_state", "name", "id"]) | st.text(max_size=8)
_arguments = st.dictionaries(_argument_names, _values, max_size=3)
_ids = st.integers(-(2**63), 2**63 - 1) | st.text(min_size=1, max_size=8)
SERVER_COMMANDS = (keys.PLAY_COMMAND, keys.PAUSE_COMMAND, keys.STEP_COMMAND, keys.RESET_COMMAND, keys.LIST_COMMAND,
                   keys.LOAD_COMMAND, keys.NEXT_COMMAND, keys.RADIALLY_ORIENT_COMMAND, keys.LIST_COMMANDS)
_names = st.sampled_from(SERVER_COMMANDS) | st.text(min_size=1, max_size=12)
_prompt_names = st.sampled_from([name for name in SERVER_COMMANDS if name not in (keys.LOAD_COMMAND, keys.NEXT_COMMAND)])
"""Commands answered before the next request is taken (a switch answers once it is done)."""


class Outbox:
    """The command messages a session sent its client, from whatever thread sent them."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self._changed = threading.Condition()

    def send(self, message: dict[str, Any]) -> None:
        msgpack.packb(message, use_bin_type=True)  # the transport encodes it here: it must be encodable
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()

    def replies(self, request_id: Any) -> list[dict[str, Any]]:
        with self._changed:
            return [m for m in self.messages if ("response" in m or "exception" in m) and m["request"].get("id") == request_id]

    def requests(self) -> list[dict[str, Any]]:
        with self._changed:
            return [m["request"] for m in self.messages if "response" not in m and "exception" not in m]

    def wait(self, condition, what: str) -> None:
        deadline = time.monotonic() + REPLY_TIMEOUT
        with self._changed:
            while not condition():
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no {what} within {REPLY_TIMEOUT} s; sent so far: {self.messages}"
                self._changed.wait(remaining)


def _deliver(session: ClientSession, command: Any) -> bool:
    """Send ``command`` as the client would; False when the codec refuses the message."""
    try:
        message = decode_message(msgpack.packb({"command": command}, use_bin_type=True))
    except ProtocolError:
        return False
    session.receive(message)
    return True


@pytest.fixture
def server(fake_simulation) -> Iterator[CosteerServer]:
    with CosteerServer([fake_simulation("alpha", 5), fake_simulation("beta", 7)], port=0, frame_rate=60.0) as server:
        yield server


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fuzz-commands") as pool:
        yield pool


_session_ids = itertools.count(1)


def _session(server: CosteerServer, executor: ThreadPoolExecutor, outbox: Outbox) -> ClientSession:
    return ClientSession(f"fuzz-{next(_session_ids)}", state=server.state, commands=server.commands,
                         send_command=outbox.send, executor=executor)


@FUZZ
@given(st.lists(st.tuples(_names, _arguments), min_size=1, max_size=6), st.lists(_ids, min_size=6, max_size=6, unique=True))
@example([(keys.LOAD_COMMAND, {"index": math.inf}), (keys.LOAD_COMMAND, {"index": "1"}),
          (keys.RADIALLY_ORIENT_COMMAND, {"radius": [1]}), ("no/such", {})], [1, 2, 3, 4, 5, 6])
def test_every_request_to_the_servers_commands_gets_exactly_one_reply(server, executor, calls, ids) -> None:
    outbox = Outbox()
    session = _session(server, executor, outbox)
    try:
        sent = []
        for (name, arguments), request_id in zip(calls, ids):
            assert _deliver(session, {"request": {"name": name, "arguments": arguments, "id": request_id}})
            sent.append(request_id)
        outbox.wait(lambda: all(outbox.replies(request_id) for request_id in sent), "reply to every request")
        for request_id in sent:
            assert len(outbox.replies(request_id)) == 1, f"request {request_id!r} got several replies"
    finally:
        session.close()


_answers = st.sampled_from(["response", "exception", "silence", "wrong id"])


@FUZZ
@given(
    st.lists(st.sampled_from(["tool/a", "tool/b", keys.PLAY_COMMAND]) | st.text(min_size=1, max_size=6), min_size=1, max_size=3),
    st.lists(st.tuples(st.sampled_from(["tool/a", "tool/b"]) | st.text(min_size=1, max_size=6), _arguments, _answers),
             min_size=1, max_size=5),
    _values,
)
def test_requests_forwarded_to_a_client_get_exactly_one_reply_even_when_it_leaves(
    server, executor, registered, calls, response
) -> None:
    provider_box, requester_box = Outbox(), Outbox()
    provider = _session(server, executor, provider_box)
    requester = _session(server, executor, requester_box)
    try:
        for name in registered:
            assert _deliver(provider, {"register": {"name": name, "arguments": {}}})
        forwarded = sum(1 for name, _, _ in calls if _owner(server, name) == provider.connection_id)
        for request_id, (name, arguments, _) in enumerate(calls, start=1):
            assert _deliver(requester, {"request": {"name": name, "arguments": arguments, "id": request_id}})
        provider_box.wait(lambda: len(provider_box.requests()) >= forwarded, "forwarded request")
        answers = [answer for name, _, answer in calls if _owner(server, name) == provider.connection_id]
        for request, answer in zip(provider_box.requests(), answers):
            if answer == "response":
                _deliver(provider, {"request": request, "response": response})
            elif answer == "exception":
                _deliver(provider, {"request": request, "exception": "refused"})
            elif answer == "wrong id":
                _deliver(provider, {"request": {**request, "id": "not-pending"}, "response": response})
        provider.close()  # silent requests fail now
        requester_box.wait(lambda: all(requester_box.replies(i) for i in range(1, len(calls) + 1)), "reply to every request")
        for request_id in range(1, len(calls) + 1):
            assert len(requester_box.replies(request_id)) == 1
    finally:
        provider.close()
        requester.close()


def _owner(server: CosteerServer, name: str) -> str | None:
    registration = server.commands.get(name)
    return None if registration is None else registration.owner


def _numbers(value: Any) -> Iterator[float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        yield float(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from _numbers(item)


@FUZZ
@given(_scalars, st.integers(1, 3))
@example("nan", 2)
@example(math.inf, 1)
def test_radially_orienting_origins_never_writes_a_non_finite_number(server, executor, radius, users) -> None:
    outbox = Outbox()
    session = _session(server, executor, outbox)
    try:
        server.state.update({f"avatar.fuzz-{user}": {} for user in range(users)})
        assert _deliver(session, {"request": {"name": keys.RADIALLY_ORIENT_COMMAND, "arguments": {"radius": radius}, "id": 1}})
        outbox.wait(lambda: outbox.replies(1), "reply")
        origins = {key: value for key, value in server.state.snapshot().items() if key.startswith("user-origin.")}
        assert all(math.isfinite(number) for number in _numbers(origins)), f"radius {radius!r} wrote {origins}"
    finally:
        session.close()
        server.state.update({}, [key for key in server.state.snapshot() if key.startswith(("user-origin.", "avatar."))])


class WireClient:
    """A raw WebSocket client: sends any request and counts the replies to each id."""

    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection
        self._sentinels = itertools.count(1)

    def reply_count(self, request: dict[str, Any]) -> int:
        """How many replies ``request`` got by the time a later, valid request was answered.

        Commands run in order on one thread, so the later request's reply marks the moment
        by which the first one must have had its reply (``request`` must not be a switch,
        which is answered once the switch is done).
        """
        sentinel = f"sentinel-{next(self._sentinels)}"
        self._connection.send(msgpack.packb({"command": {"request": request}}, use_bin_type=True))
        self._connection.send(msgpack.packb(
            {"command": {"request": {"name": keys.LIST_COMMANDS, "arguments": {}, "id": sentinel}}}, use_bin_type=True))
        count = 0
        deadline = time.monotonic() + REPLY_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"the server did not answer {keys.LIST_COMMANDS} within {REPLY_TIMEOUT} s"
            message = msgpack.unpackb(self._connection.recv(timeout=remaining), raw=False, strict_map_key=False)
            command = message.get("command")
            if not isinstance(command, dict) or not ("response" in command or "exception" in command):
                continue
            reply_id = command["request"].get("id")
            if reply_id == sentinel:
                return count
            if reply_id == request.get("id"):
                count += 1


@pytest.fixture
def wire_client(server) -> Iterator[WireClient]:
    with connect(f"ws://127.0.0.1:{server.port}", max_size=None, compression=None, close_timeout=1) as connection:
        yield WireClient(connection)


_not_maps = _scalars | st.lists(_values, max_size=3) | st.dictionaries(st.integers(-(2**63), 2**64 - 1), _values, min_size=1, max_size=2)


@FUZZ
@given(_prompt_names | st.text(min_size=1, max_size=12), _arguments, st.integers(0, 2**31))
def test_a_request_over_the_wire_gets_exactly_one_reply(wire_client, name, arguments, request_id) -> None:
    assert wire_client.reply_count({"name": name, "arguments": arguments, "id": request_id}) == 1


@FUZZ
@given(_prompt_names | st.text(min_size=1, max_size=12), _not_maps, st.integers(0, 2**31))
@example(keys.PLAY_COMMAND, [1], 7)
def test_a_request_with_arguments_that_are_not_a_map_gets_exactly_one_reply(wire_client, name, arguments, request_id) -> None:
    assert wire_client.reply_count({"name": name, "arguments": arguments, "id": request_id}) == 1


@FUZZ
@given(st.none() | st.just("") | _values, _arguments, st.integers(0, 2**31))
@example(None, {}, 7)
@example("", {}, 8)
def test_a_request_with_an_id_but_no_usable_name_gets_exactly_one_reply(wire_client, name, arguments, request_id) -> None:
    request = {"arguments": arguments, "id": request_id}
    if name is not None:
        request["name"] = name
    assert wire_client.reply_count(request) == 1

"""Fuzzed message codec: any bytes, any msgpack value, decode to a checked message or a ProtocolError."""

from __future__ import annotations

from typing import Any

import msgpack
from hypothesis import example, given
from hypothesis import strategies as st

from costeer.server.websocket.codec import ClientMessage, ProtocolError, decode_message

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.text(max_size=12)
    | st.binary(max_size=12)
)
_keys = st.sampled_from(["frame", "state", "command", "updates", "removals", "request", "register", "name",
                         "id", "arguments", "response", "exception"]) | _scalars
msgpack_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=16,
)
"""Anything msgpack can carry, with the protocol's own words likely as map keys."""

_requests = st.fixed_dictionaries(
    {},
    optional={"name": msgpack_values | st.text(min_size=1, max_size=20), "id": msgpack_values,
              "arguments": msgpack_values | st.dictionaries(st.text(max_size=8), msgpack_values, max_size=3)},
)
_commands = st.fixed_dictionaries(
    {},
    optional={"request": _requests | msgpack_values, "register": _requests | msgpack_values,
              "response": msgpack_values, "exception": msgpack_values},
)
_states = st.fixed_dictionaries(
    {},
    optional={"updates": st.dictionaries(st.text(max_size=8), msgpack_values, max_size=3) | msgpack_values,
              "removals": st.lists(st.text(max_size=8), max_size=3) | msgpack_values},
)
message_shaped = st.fixed_dictionaries(
    {},
    optional={"frame": msgpack_values, "state": _states | msgpack_values,
              "command": _commands | st.lists(_commands, max_size=3) | msgpack_values},
)
"""Maps shaped like client messages, every part possibly wrong."""


def _decode(data: bytes) -> ClientMessage | None:
    """The decoded message, or None for a ProtocolError (any other exception fails the test)."""
    try:
        message = decode_message(data)
    except ProtocolError as error:
        assert str(error), "a refusal must say why"
        return None
    assert isinstance(message, ClientMessage)
    return message


def _assert_checked(message: ClientMessage) -> None:
    """What the codec promises the session about an accepted message."""
    if message.frame is not None:
        assert isinstance(message.frame, dict) and all(isinstance(key, str) for key in message.frame)
    if message.state is not None:
        assert isinstance(message.state.updates, dict)
        assert all(isinstance(key, str) for key in message.state.updates)
        assert isinstance(message.state.removals, list)
        assert all(isinstance(key, str) for key in message.state.removals)
    for command in message.commands:
        assert isinstance(command, dict)
        if "register" in command:
            assert isinstance(command["register"]["name"], str) and command["register"]["name"]
            continue
        request = command["request"]
        assert isinstance(request, dict)
        assert isinstance(request["id"], (int, str)) and not isinstance(request["id"], bool)
        if "response" not in command and "exception" not in command:
            assert isinstance(request["name"], str) and request["name"]
            assert request.get("arguments") is None or (
                isinstance(request["arguments"], dict) and all(isinstance(key, str) for key in request["arguments"])
            )


@given(st.binary(max_size=256))
@example(b"")
@example(b"\xc1")  # never used by msgpack
@example(b"\xdd\xff\xff\xff\xff")  # an array claiming 4 billion items
@example(b"\x81\x91\x01\x01")  # a map whose key is an array
def test_any_bytes_decode_to_a_message_or_a_protocol_error(data: bytes) -> None:
    message = _decode(data)
    if message is not None:
        _assert_checked(message)


@given(st.text(max_size=64))
def test_text_messages_are_refused_with_a_reason(text: str) -> None:
    try:
        decode_message(text)
    except ProtocolError as error:
        assert "binary" in str(error)
    else:
        raise AssertionError("a text message was accepted")


@given(msgpack_values | message_shaped)
@example({"command": {"request": {"name": "x", "id": True}}})
@example({"state": {"updates": {1: 2}}})
@example({"command": [{"register": {"name": ""}}]})
def test_any_msgpack_value_decodes_to_a_checked_message_or_a_protocol_error(value: Any) -> None:
    message = _decode(msgpack.packb(value, use_bin_type=True))
    if message is not None:
        _assert_checked(message)


@given(message_shaped, st.binary(min_size=1, max_size=8))
def test_a_message_with_trailing_bytes_is_refused(value: dict, extra: bytes) -> None:
    data = msgpack.packb(value, use_bin_type=True) + extra
    try:
        decode_message(data)
    except ProtocolError:
        return
    raise AssertionError("a message followed by extra bytes was accepted")


@given(st.integers(min_value=0, max_value=64))
def test_messages_over_the_limit_are_refused_before_parsing(excess: int) -> None:
    limit = 64
    try:
        decode_message(b"\x00" * (limit + 1 + excess), max_bytes=limit)
    except ProtocolError as error:
        assert str(limit) in str(error)
    else:
        raise AssertionError("an oversized message was accepted")


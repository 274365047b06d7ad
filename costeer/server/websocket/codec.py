"""NanoVer's WebSocket messages, decoded and checked without any I/O.

A message is one msgpack map with any of ``frame``, ``state`` and ``command``. Decoding
returns a ``ClientMessage`` whose parts have the right shapes, or raises ``ProtocolError``
with a message saying what was wrong, so the transport only has to log and carry on. The
error carries the message's requests that can still be answered (a map with an ``id``), so
that each gets an exception reply instead of leaving its client waiting.

    message = decode_message(data)
    if message.state is not None: state.update(message.state.updates, message.state.removals)
    wire = encode_message({"command": {"request": request, "response": result}})
    wire = shared_frame.encoding(FRAME_MESSAGE_ENCODING, encode_frame_message)   # once per frame

The frame message is the recording's too (``costeer.core.message``), so a recording server
stores the very bytes its WebSocket clients get.
"""

from __future__ import annotations

import logging
from typing import Any

import msgpack

from costeer.core.message import FRAME_MESSAGE_ENCODING, encode_frame_message, encode_message

from ..session import ClientMessage, StatePart

__all__ = [
    "ProtocolError",
    "StatePart",
    "ClientMessage",
    "MAX_MESSAGE_BYTES",
    "decode_message",
    "encode_message",
    "encode_frame_message",
    "FRAME_MESSAGE_ENCODING",
    "encode_state_message",
]

_log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 2 * 1024 * 1024
"""Largest message a client may send; larger ones are refused before parsing (the transport
closes the connection). The shared state never holds more than ~0.5 MiB (``ownership``), so
no useful message comes near; the bound keeps what held connections can make the server
buffer small."""

_PARTS = ("frame", "state", "command")


class ProtocolError(ValueError):
    """A client message that does not follow NanoVer's protocol; the message says why."""

    def __init__(self, message: str, *, requests: tuple[dict[str, Any], ...] = ()) -> None:
        super().__init__(message)
        self.requests = requests
        """Requests in the refused message that carry an ``id``: each is owed an exception reply."""


def decode_message(data: bytes | bytearray | memoryview | str, *, max_bytes: int = MAX_MESSAGE_BYTES) -> ClientMessage:
    """Parse and check one client message; raises ``ProtocolError``."""
    if isinstance(data, str):
        raise ProtocolError("text messages are not understood: send binary msgpack maps")
    if len(data) > max_bytes:
        raise ProtocolError(f"message of {len(data)} bytes is larger than the {max_bytes}-byte limit")
    try:
        message = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as error:
        raise ProtocolError(f"message is not valid msgpack ({type(error).__name__}: {error})") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"a message must be a msgpack map, got {type(message).__name__}")
    try:
        return _decode_parts(message)
    except ProtocolError as error:
        error.requests = _answerable_requests(message.get("command"))
        raise


def _decode_parts(message: dict[Any, Any]) -> ClientMessage:
    if not any(part in message for part in _PARTS):
        found = ", ".join(sorted(map(str, message))) or "nothing"
        raise ProtocolError(f"a message must hold 'frame', 'state' or 'command'; got {found}")
    frame = message.get("frame")
    if frame is not None and not _is_string_map(frame):
        raise ProtocolError("'frame' must be a map of string keys")
    state = _decode_state(message["state"]) if "state" in message else None
    commands = _decode_commands(message["command"]) if "command" in message else ()
    return ClientMessage(frame=frame, state=state, commands=commands)


def _answerable_requests(command: Any) -> tuple[dict[str, Any], ...]:
    """The requests (not replies) in ``command`` whose ``id`` a reply can carry back."""
    items = command if isinstance(command, list) else [command]
    requests = []
    for item in items:
        if not isinstance(item, dict) or "response" in item or "exception" in item:
            continue
        request = item.get("request")
        if isinstance(request, dict) and _is_request_id(request.get("id")):
            requests.append(request)
    return tuple(requests)


def _is_request_id(value: Any) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def _is_string_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(key, str) for key in value)


def _decode_state(state: Any) -> StatePart:
    if not isinstance(state, dict):
        raise ProtocolError(f"'state' must be a map with 'updates' and 'removals', got {type(state).__name__}")
    updates = state.get("updates") or {}
    removals = state.get("removals") or []
    if not _is_string_map(updates):
        raise ProtocolError("'state.updates' must be a map of string keys to values")
    if not isinstance(removals, list) or not all(isinstance(key, str) for key in removals):
        raise ProtocolError("'state.removals' must be a list of string keys")
    return StatePart(updates=updates, removals=removals)


def _decode_commands(command: Any) -> tuple[dict[str, Any], ...]:
    items = command if isinstance(command, list) else [command]
    return tuple(_decode_command(item) for item in items)


def _decode_command(command: Any) -> dict[str, Any]:
    if not isinstance(command, dict):
        raise ProtocolError(f"'command' must be a map, got {type(command).__name__}")
    if "register" in command:
        register = command["register"]
        if not isinstance(register, dict) or not isinstance(register.get("name"), str) or not register["name"]:
            raise ProtocolError("'command.register' must be a map with a non-empty string 'name'")
        arguments = register.get("arguments")
        if arguments is not None and not _is_string_map(arguments):
            raise ProtocolError("'command.register.arguments' must be a map of string keys")
        return command
    request = command.get("request")
    if not isinstance(request, dict):
        raise ProtocolError("'command' must hold a 'request' map (or 'register')")
    is_reply = "response" in command or "exception" in command
    if not _is_request_id(request.get("id")):
        raise ProtocolError("'command.request' must carry an 'id' (a number or string) so the reply can be matched")
    if not is_reply:
        if not isinstance(request.get("name"), str) or not request["name"]:
            raise ProtocolError("'command.request.name' must be a non-empty string")
        arguments = request.get("arguments")
        if arguments is not None and not _is_string_map(arguments):
            raise ProtocolError(
                f"arguments of command {request['name']!r} must be a map of string keys, got {type(arguments).__name__}"
            )
    return command


def encode_state_message(change: dict[str, Any]) -> bytes:
    """The message ``{"state": change}``; values msgpack cannot carry are left out (each logged).

    One function for every client, so a change published to all is encoded once
    (``StateSubscription.encoded_take``).
    """
    try:
        return encode_message({"state": change})
    except TypeError:
        pass
    updates = {}
    for key, value in change["updates"].items():
        try:
            encode_message({key: value})
        except TypeError as error:
            _log.error("state key %r cannot be sent to clients (%s); left out", key, error)
        else:
            updates[key] = value
    return encode_message({"state": {"updates": updates, "removals": change["removals"]}})

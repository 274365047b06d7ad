"""The sans-I/O codec: valid messages decode to checked parts, bad ones say what is wrong."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest

from costeer.server.websocket.codec import ProtocolError, decode_message, encode_message


def pack(value) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def test_state_and_command_parts():
    message = decode_message(pack({
        "state": {"updates": {"avatar.a": {"x": 1}}, "removals": ["cursor.a"]},
        "command": {"request": {"name": "playback/play", "arguments": {}, "id": 1}},
    }))
    assert message.state.updates == {"avatar.a": {"x": 1}} and message.state.removals == ["cursor.a"]
    assert message.commands == ({"request": {"name": "playback/play", "arguments": {}, "id": 1}},)
    assert message.frame is None


def test_old_list_command_format_and_missing_state_parts():
    message = decode_message(pack({"command": [{"register": {"name": "a"}}, {"register": {"name": "b"}}],
                                   "state": {"updates": {"k": 1}}}))
    assert len(message.commands) == 2 and message.state.removals == []


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\xc1\x00garbage", "not valid msgpack"),
        (pack({"a": 1}) + b"extra", "not valid msgpack"),
        (b"\x92\x01", "not valid msgpack"),  # truncated array
        (pack([1, 2, 3]), "must be a msgpack map"),
        (pack({"hello": 1}), "must hold 'frame', 'state' or 'command'"),
        (pack({"state": [1]}), "'state' must be a map"),
        (pack({"state": {"updates": [1, 2]}}), "'state.updates' must be a map"),
        (pack({"state": {"updates": {1: 2}}}), "'state.updates' must be a map of string keys"),
        (pack({"state": {"removals": "abc"}}), "'state.removals' must be a list"),
        (pack({"command": "play"}), "'command' must be a map"),
        (pack({"command": {"request": {"name": "x"}}}), "must carry an 'id'"),
        (pack({"command": {"request": {"name": "x", "id": [1]}}}), "must carry an 'id'"),
        (pack({"command": {"request": {"name": 5, "id": 1}}}), "name' must be a non-empty string"),
        (pack({"command": {"request": {"name": "x", "arguments": [1], "id": 1}}}), "arguments of command 'x'"),
        (pack({"command": {"register": {"label": "no name"}}}), "non-empty string 'name'"),
        (pack({"frame": [1]}), "'frame' must be a map"),
        ("text", "text messages are not understood"),
    ],
)
def test_bad_messages_raise_clear_errors(data, error):
    with pytest.raises(ProtocolError, match=error):
        decode_message(data)


def test_oversized_message_is_refused_before_parsing():
    with pytest.raises(ProtocolError, match="larger than the 100-byte limit"):
        decode_message(b"\x00" * 101, max_bytes=100)


def test_deeply_nested_message_is_refused():
    data = b"\x91" * 100_000 + b"\x00"
    with pytest.raises(ProtocolError, match="not valid msgpack"):
        decode_message(data)


def test_encode_handles_numpy_and_refuses_the_unknown():
    data = encode_message({"state": {"updates": {"a": np.arange(3), "b": np.float32(1.5)}, "removals": []}})
    assert msgpack.unpackb(data) == {"state": {"updates": {"a": [0, 1, 2], "b": 1.5}, "removals": []}}
    with pytest.raises(TypeError, match="cannot send a object"):
        encode_message({"command": {"response": object()}})


def test_encode_turns_paths_into_strings():
    from pathlib import Path

    data = encode_message({"state": {"updates": {"costeer.session": {"system": Path("a/b.xml")}}, "removals": []}})
    assert msgpack.unpackb(data)["state"]["updates"]["costeer.session"] == {"system": "a/b.xml"}


def test_a_refused_message_names_the_requests_owed_an_answer():
    request = {"name": "multiuser/radially-orient-origins", "arguments": [2.0], "id": 7}
    with pytest.raises(ProtocolError, match="must be a map of string keys, got list") as refused:
        decode_message(pack({"command": [{"request": request}, {"request": {"name": "x"}},
                                         {"request": {"id": 8}, "response": 1}]}))
    assert refused.value.requests == (request,)  # no id, or a reply: nothing to answer
    with pytest.raises(ProtocolError) as refused:
        decode_message(pack({"state": "junk", "command": {"request": {"name": "playback/play", "id": "p"}}}))
    assert refused.value.requests == ({"name": "playback/play", "id": "p"},)

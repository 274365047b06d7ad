"""Frames and state changes to the legacy gRPC messages and back, without sockets."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("grpc_tools", reason="the gRPC transport needs the grpc extra: pip install -e '.[grpc]'")

from costeer.core import keys  # noqa: E402
from costeer.core.frame import pack_frame  # noqa: E402
from costeer.server.grpc import codec  # noqa: E402
from costeer.server.grpc.generate import NAMESPACES, protocol  # noqa: E402


def _frame() -> dict:
    return pack_frame({
        keys.FRAME_INDEX: 0,
        keys.PARTICLE_COUNT: 3,
        keys.PARTICLE_POSITIONS: np.arange(9, dtype=np.float32).reshape(3, 3) / 7,
        keys.PARTICLE_ELEMENTS: np.array([6, 7, 8], dtype=np.uint8),
        keys.BOND_PAIRS: np.array([[0, 1], [1, 2]], dtype=np.uint32),
        keys.PARTICLE_NAMES: ["C1", "N2", "O3"],
        keys.POTENTIAL_ENERGY: -12.5,
        keys.SIMULATION_NAME: "nanotube",
    })


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_a_frame_reads_back_the_same_in_either_namespace(namespace: str) -> None:
    data = codec.encode_frame_response(_frame())
    response = protocol(namespace).trajectory.GetFrameResponse.FromString(data)
    arrays = response.frame.arrays
    assert response.frame_index == 0
    assert arrays[keys.PARTICLE_POSITIONS].WhichOneof("values") == "float_values"
    assert arrays[keys.PARTICLE_ELEMENTS].WhichOneof("values") == "index_values"
    assert arrays[keys.PARTICLE_NAMES].WhichOneof("values") == "string_values"
    assert keys.FRAME_INDEX not in response.frame.values
    frame = codec.decode_frame(response)
    np.testing.assert_array_equal(frame[keys.PARTICLE_POSITIONS], np.arange(9, dtype=np.float32).reshape(3, 3) / 7)
    assert frame[keys.PARTICLE_ELEMENTS].tolist() == [6, 7, 8]
    assert frame[keys.BOND_PAIRS].tolist() == [[0, 1], [1, 2]]
    assert frame[keys.PARTICLE_NAMES] == ["C1", "N2", "O3"]
    assert frame[keys.POTENTIAL_ENERGY] == -12.5
    assert frame[keys.PARTICLE_COUNT] == 3
    assert frame[keys.SIMULATION_NAME] == "nanotube"


def test_a_frame_value_no_struct_holds_is_left_out_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    frame = {**_frame(), "custom.blob": b"\x00\x01"}
    with caplog.at_level(logging.ERROR):
        data = codec.encode_frame_response(frame)
    decoded = codec.decode_frame(protocol("nanover").trajectory.GetFrameResponse.FromString(data))
    assert "custom.blob" not in decoded
    assert decoded[keys.SIMULATION_NAME] == "nanotube"
    assert "custom.blob" in caplog.text


def test_a_state_change_holds_updates_and_nulls_for_removals() -> None:
    interaction = {"position": [0.5, 0.0, 1.0], "particles": [3, 4], "interaction_type": "spring", "scale": 1}
    data = codec.encode_state_update({"updates": {"interaction.a": interaction, "scene": {"x": 1}}, "removals": ["avatar.b"]})
    update = protocol("narupa").state.StateUpdate.FromString(data)
    updates, removals = codec.state_from_struct(update.changed_keys)
    assert removals == ["avatar.b"]
    assert updates["interaction.a"]["particles"] == [3, 4]
    assert all(isinstance(index, int) for index in updates["interaction.a"]["particles"])
    assert updates["interaction.a"]["position"] == [0.5, 0.0, 1.0]
    assert updates["scene"] == {"x": 1.0}


def test_particles_that_are_not_whole_numbers_are_left_for_the_gate_to_refuse() -> None:
    struct = codec.to_struct({"interaction.a": {"particles": [1.5, 2.0]}, "interaction.b": {"particles": "all"}})
    updates, _ = codec.state_from_struct(struct)
    assert updates["interaction.a"]["particles"] == [1.5, 2.0]
    assert updates["interaction.b"]["particles"] == "all"


def test_to_struct_names_the_key_it_cannot_hold() -> None:
    with pytest.raises(TypeError, match="'blob'"):
        codec.to_struct({"fine": 1, "blob": object()})


@pytest.mark.parametrize("particles", [1, 11, 50_000])
def test_positions_of_any_size_arrive_bit_for_bit(particles: int) -> None:
    """Float arrays are copied into the message as bytes; their length prefix spans 1 to 3 bytes here."""
    positions = np.random.default_rng(particles).normal(size=(particles, 3)).astype(np.float32)
    data = codec.encode_frame_response(pack_frame({keys.FRAME_INDEX: 4, keys.PARTICLE_POSITIONS: positions}))
    response = protocol("narupa").trajectory.GetFrameResponse.FromString(data)
    assert response.frame_index == 4
    assert len(response.frame.arrays[keys.PARTICLE_POSITIONS].float_values.values) == particles * 3
    np.testing.assert_array_equal(codec.decode_frame(response)[keys.PARTICLE_POSITIONS], positions)


_NUMBERS = st.floats(allow_nan=True, allow_infinity=True)
_JSON_LIKE = st.recursive(
    st.none() | st.booleans() | _NUMBERS | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def _same(read: object, sent: object) -> bool:
    """``read`` is ``sent`` as a Struct carries it: numbers as floats, NaN where NaN was sent."""
    if isinstance(sent, float) and math.isnan(sent):
        return isinstance(read, float) and math.isnan(read)
    if isinstance(sent, dict):
        return isinstance(read, dict) and read.keys() == sent.keys() and all(_same(read[key], sent[key]) for key in sent)
    if isinstance(sent, list):
        return isinstance(read, list) and len(read) == len(sent) and all(map(_same, read, sent))
    return read == sent and type(read) is type(sent)


@given(st.dictionaries(st.text(max_size=8), _JSON_LIKE, max_size=4))
def test_any_json_like_value_reads_back_as_sent_infinities_and_nan_included(values: dict) -> None:
    # what a legacy client sends is read without raising, for the rules to judge (the ownership
    # rules refuse NaN by the key's name; +infinity is an interaction's "no cap of its own")
    message = protocol("nanover").state.StateUpdate(changed_keys=codec.to_struct(values)).SerializeToString()
    read = codec.from_struct(protocol("narupa").state.StateUpdate.FromString(message).changed_keys)
    assert _same(read, values)

"""Frame merge rule and wire packing, as NanoVer does them."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest

from costeer.core import keys
from costeer.core.frame import merge_frames, pack_frame, unpack_frame


def test_later_frame_wins_and_earlier_keys_stay():
    merged = merge_frames({keys.FRAME_INDEX: 3, "a": 1, "b": 2}, {keys.FRAME_INDEX: 4, "b": 5})
    assert merged == {keys.FRAME_INDEX: 4, "a": 1, "b": 5}


def test_reset_in_later_frame_discards_earlier():
    merged = merge_frames({keys.FRAME_INDEX: 7, "a": 1}, {keys.FRAME_INDEX: 0, "b": 2})
    assert merged == {keys.FRAME_INDEX: 0, "b": 2}


def test_reset_in_earlier_frame_survives_a_merge():
    merged = merge_frames({keys.FRAME_INDEX: 0, "a": 1}, {keys.FRAME_INDEX: 1, "b": 2})
    assert merged[keys.FRAME_INDEX] == 0 and merged["a"] == 1 and merged["b"] == 2


def test_pack_round_trip_keeps_dtypes_and_shapes():
    frame = {
        keys.FRAME_INDEX: np.int64(2),
        keys.PARTICLE_POSITIONS: np.arange(12, dtype=np.float64).reshape(4, 3),
        keys.PARTICLE_ELEMENTS: np.array([6, 1, 1, 1]),
        keys.BOND_PAIRS: np.array([[0, 1], [0, 2]]),
        keys.POTENTIAL_ENERGY: np.float64(-3.5),
    }
    packed = pack_frame(frame)
    assert isinstance(packed[keys.PARTICLE_POSITIONS], bytes)
    assert len(packed[keys.PARTICLE_POSITIONS]) == 12 * 4
    assert type(packed[keys.FRAME_INDEX]) is int
    wire = msgpack.unpackb(msgpack.packb(packed))
    back = unpack_frame(wire)
    assert back[keys.PARTICLE_POSITIONS].dtype == np.float32
    assert back[keys.PARTICLE_POSITIONS].shape == (4, 3)
    assert back[keys.BOND_PAIRS].shape == (2, 2)
    assert back[keys.PARTICLE_ELEMENTS].tolist() == [6, 1, 1, 1]
    assert back[keys.POTENTIAL_ENERGY] == -3.5


def test_old_recordings_send_arrays_as_lists():
    back = unpack_frame({keys.PARTICLE_POSITIONS: [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], keys.BOND_PAIRS: [0, 1]})
    assert back[keys.PARTICLE_POSITIONS].shape == (2, 3)
    assert back[keys.BOND_PAIRS].tolist() == [[0, 1]]


def test_unreadable_array_names_its_key():
    with pytest.raises(ValueError, match="particle.positions"):
        unpack_frame({keys.PARTICLE_POSITIONS: b"\x00" * 5})

"""One msgpack encoder for the wire and for recordings."""

from __future__ import annotations

from pathlib import Path

import msgpack
import numpy as np
import pytest

from costeer.core.message import encode_message


def test_numpy_paths_and_sets_become_msgpack_values():
    data = encode_message({"state": {"updates": {"a": np.arange(2), "b": np.float32(0.5), "c": Path("x.xml"), "d": (1,)}}})
    assert msgpack.unpackb(data) == {"state": {"updates": {"a": [0, 1], "b": 0.5, "c": "x.xml", "d": [1]}}}


def test_bytes_stay_bytes_and_unknown_values_say_what_msgpack_carries():
    assert msgpack.unpackb(encode_message({"frame": {"particle.positions": b"\x00" * 4}}))["frame"]["particle.positions"] == b"\x00" * 4
    with pytest.raises(TypeError, match="msgpack carries numbers"):
        encode_message({"x": object()})

"""Fuzzed IMD client input: any bytes, split anywhere, give checked messages or an ImdProtocolError."""

from __future__ import annotations

import struct

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from costeer.server.imd.codec import ClientReader, ImdProtocolError, MessageType

ATOMS = 8
_headers = st.builds(
    lambda kind, slot: struct.pack("!ii", kind, slot),
    st.integers(-2, 20) | st.integers(-(2**31), 2**31 - 1),
    st.integers(-2, ATOMS + 2) | st.integers(-(2**31), 2**31 - 1),
)
_streams = st.lists(_headers | st.binary(max_size=40), max_size=8).map(b"".join)


@given(_streams, st.lists(st.integers(1, 64), max_size=8), st.sampled_from([2, 3]))
def test_any_bytes_give_valid_messages_or_a_protocol_error(stream: bytes, cuts: list[int], version: int) -> None:
    reader = ClientReader(version=version, particle_count=ATOMS)
    messages = []
    try:
        position = 0
        for size in [*cuts, len(stream)]:
            messages += reader.feed(stream[position:position + size])
            position += size
        reader.end()
    except ImdProtocolError:
        pass
    for message in messages:
        assert isinstance(message.kind, MessageType)
        if message.kind == MessageType.MDCOMM:
            assert message.indices.shape == (message.slot,) and message.forces.shape == (message.slot, 3)
            assert np.all((0 <= message.indices) & (message.indices < ATOMS))
            assert np.all(np.isfinite(message.forces))

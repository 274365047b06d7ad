"""A frame framed once for every client: the bytes on the wire, and where they may not be written as they are."""

from __future__ import annotations

import asyncio

import msgpack
import numpy as np
from websockets.frames import Frame
from websockets.protocol import Side, State
from websockets.streams import StreamReader

from costeer.core.frame import pack_frame
from costeer.server.hub import SharedFrame
from costeer.server.websocket.backlog import send_fresh
from costeer.server.websocket.framed import FramedMessage, framed_frame, write_framed
from tests.server.websocket.doubles import FakeConnection


def _shared() -> SharedFrame:
    return SharedFrame(pack_frame({"particle.positions": np.arange(9, dtype=np.float32).reshape(3, 3)}))


def _parsed(wire: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(wire)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        while True:
            next(parser)
    except StopIteration as done:
        return done.value


def test_the_wire_bytes_are_one_unmasked_binary_frame_of_the_frame_message() -> None:
    shared = _shared()
    message = framed_frame(shared)
    assert framed_frame(shared) is message, "framed once per frame, then reused"
    frame = _parsed(message.wire)
    assert frame.fin and frame.opcode.name == "BINARY" and frame.data == message.payload
    positions = msgpack.unpackb(message.payload)["frame"]["particle.positions"]
    assert np.frombuffer(positions, dtype=np.float32).tolist() == list(range(9))


def test_only_an_open_server_side_connection_without_extensions_is_written_to_directly() -> None:
    message = framed_frame(_shared())
    open_server = FakeConnection()
    assert write_framed(open_server, message) and open_server.transport.written == [message.wire]
    closing_transport = FakeConnection()
    closing_transport.transport.closing = True
    for refused in (FakeConnection(side=Side.CLIENT), FakeConnection(state=State.CLOSING),
                    FakeConnection(extensions=["permessage-deflate"]), closing_transport):
        assert not write_framed(refused, message)
        assert refused.transport.written == [], "a client must mask its frames; a closing one takes no more"


def test_the_send_loop_sends_the_payload_where_the_frame_cannot_be_written_as_it_is() -> None:
    message = framed_frame(_shared())

    def sending(connection: FakeConnection) -> int:
        messages: list[FramedMessage | bytes] = [message, b"state"]
        return asyncio.run(send_fresh(connection, lambda: messages.pop(0) if messages else None, 0))

    dialled_out = FakeConnection(side=Side.CLIENT)
    assert sending(dialled_out) == len(b"state")
    assert dialled_out.sent == [message.payload, b"state"] and dialled_out.transport.written == []
    served = FakeConnection()
    sending(served)
    assert served.transport.written == [message.wire] and served.sent == [b"state"]

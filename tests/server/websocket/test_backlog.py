"""The send loop's backlog cap: the limit, and reading a connection's unsent bytes."""

from __future__ import annotations

import asyncio
import socket
from typing import Callable

from costeer.server.websocket.backlog import (
    MESSAGES_IN_FLIGHT,
    MIN_BACKLOG_BYTES,
    backlog_limit,
    send_fresh,
    unsent_bytes,
    wait_for_room,
)
from tests.server.websocket.doubles import FakeConnection, FakeTransport


def test_small_messages_get_the_floor_large_ones_some_in_flight():
    assert backlog_limit(0) == MIN_BACKLOG_BYTES
    assert backlog_limit(1_000_000) == MESSAGES_IN_FLIGHT * 1_000_000


def test_unsent_bytes_count_the_kernels_queue_of_a_peer_that_does_not_read():
    listener = socket.create_server(("127.0.0.1", 0))
    sender = socket.create_connection(listener.getsockname())
    receiver, _ = listener.accept()
    try:
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sender.setblocking(False)
        sent = 0
        try:
            while sent < 4_000_000:
                sent += sender.send(b"x" * 65536)
        except BlockingIOError:
            pass
        assert unsent_bytes(FakeTransport(100, sender)) > 100  # the kernel holds what the peer has not taken
        assert unsent_bytes(FakeTransport(100, None)) == 100  # no socket: asyncio's buffer only
    finally:
        for sock in (sender, receiver, listener):
            sock.close()


def test_waiting_ends_when_the_backlog_drains_or_the_connection_closes():
    async def scenario() -> None:
        transport = FakeTransport(10 * MIN_BACKLOG_BYTES)
        waiting = asyncio.create_task(wait_for_room(transport, MIN_BACKLOG_BYTES))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        transport.buffered = 0
        await asyncio.wait_for(waiting, 1.0)
        transport.buffered, transport.closing = 10 * MIN_BACKLOG_BYTES, True
        await asyncio.wait_for(wait_for_room(transport, MIN_BACKLOG_BYTES), 1.0)

    asyncio.run(scenario())


def _sender(messages: list[bytes]) -> Callable[[], bytes | None]:
    return lambda: messages.pop(0) if messages else None


def test_each_message_sent_is_said_sent_before_waiting_for_room_for_the_next():
    transport = FakeTransport(3 * MIN_BACKLOG_BYTES // 4)  # most of a backlog not yet taken by the peer
    events: list[str] = []
    big = b"a" * (MIN_BACKLOG_BYTES // 2 + 1)

    def on_send(data: bytes) -> None:
        events.append(f"send {data[:1].decode()}")
        transport.buffered += len(data)  # and the peer stops reading for a while

    async def scenario() -> None:
        connection = FakeConnection(transport, on_send)
        sending = asyncio.create_task(send_fresh(connection, _sender([big, b"b"]), 0, sent=lambda: events.append("sent")))
        await asyncio.sleep(0.05)
        assert events == ["send a", "sent"]  # said sent while it waits for room for "b"
        transport.buffered = 0
        assert await asyncio.wait_for(sending, 1.0) == 1
        assert events == ["send a", "sent", "send b", "sent"]

    asyncio.run(scenario())


def test_the_backlog_is_asked_again_only_when_what_was_sent_since_could_fill_it():
    transport = FakeTransport(0)
    small = b"x" * 1000  # a nanotube frame: 32 of them fit the least backlog
    assert asyncio.run(send_fresh(FakeConnection(transport), _sender([small] * 40), 0)) == 1000
    assert transport.looks == 2, "asked once at the start and once after 32 kB had been sent, not 41 times"

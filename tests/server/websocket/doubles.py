"""Stand-ins for the parts of a websockets connection that the send loop and framing look at."""

from __future__ import annotations

import socket
from types import SimpleNamespace
from typing import Callable

from websockets.protocol import Side, State


class FakeTransport:
    """An asyncio transport with a preset write buffer (and socket): counts looks at the buffer, keeps writes."""

    def __init__(self, buffered: int = 0, sock: socket.socket | None = None) -> None:
        self.buffered, self.sock, self.closing = buffered, sock, False
        self.looks = 0
        self.written: list[bytes] = []

    def get_write_buffer_size(self) -> int:
        self.looks += 1
        return self.buffered

    def get_extra_info(self, name: str):
        return self.sock if name == "socket" else None

    def is_closing(self) -> bool:
        return self.closing

    def write(self, data: bytes) -> None:
        self.written.append(data)


class FakeConnection:
    """A websockets connection: its protocol's side, state and extensions, its transport, and what it was sent."""

    def __init__(self, transport: FakeTransport | None = None, on_send: Callable[[bytes], None] = lambda data: None,
                 *, side: Side = Side.SERVER, state: State = State.OPEN, extensions: list | None = None) -> None:
        self.transport = transport if transport is not None else FakeTransport()
        self.protocol = SimpleNamespace(side=side, state=state, extensions=extensions or [])
        self.on_send = on_send
        self.sent: list[bytes] = []

    async def send(self, data: bytes) -> None:
        self.sent.append(data)
        self.on_send(data)

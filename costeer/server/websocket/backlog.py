"""How much a client's connection still holds unsent, and waiting until that is little.

The send loop keeps one merged frame for a client that reads slower than frames come; that
only starts once sending blocks, and the kernel lets a socket's send queue grow to megabytes
(Linux tunes it up to ``tcp_wmem``'s 4 MB): with the nanotube's 1.2 kB frames, 30 s of stale
frames queued before the server began to merge. So before each message the loop waits until
the connection's backlog (asyncio's buffer, and the kernel's unacknowledged send queue,
``SIOCOUTQ``, where the platform tells it) is under ``limit_bytes``; meanwhile new frames merge.

    last_bytes = await send_fresh(connection, next_message, last_bytes)   # a send loop's inner loop
"""

from __future__ import annotations

import asyncio
import fcntl
import struct
import termios
from typing import Any, Callable

from .framed import FramedMessage, write_framed

__all__ = ["send_fresh", "unsent_bytes", "wait_for_room", "backlog_limit", "MIN_BACKLOG_BYTES", "MESSAGES_IN_FLIGHT"]

MIN_BACKLOG_BYTES = 32 * 1024
"""The least backlog allowed: 27 nanotube frames, under a second at 30 frames/s."""
MESSAGES_IN_FLIGHT = 2
"""Large frames may have this many in flight, so a long link (100 ms round trip) still carries
a 25k-atom system at ~20 frames/s."""
POLL_SECONDS = (0.005, 0.2)
"""First and longest wait between looks at a backlog that is too big (the wait doubles)."""
_SIOCOUTQ = getattr(termios, "TIOCOUTQ", None)
"""Linux's ioctl for a TCP socket's unsent + unacknowledged bytes (``SIOCOUTQ`` is ``TIOCOUTQ``)."""


def backlog_limit(last_message_bytes: int) -> int:
    """The backlog allowed before the next message, given the size of the last one sent."""
    return max(MIN_BACKLOG_BYTES, MESSAGES_IN_FLIGHT * last_message_bytes)


def unsent_bytes(transport: Any) -> int:
    """Bytes written to ``transport`` that the peer has not yet acknowledged, as far as we can tell
    (asyncio's buffer always; the kernel's send queue on Linux)."""
    queued = transport.get_write_buffer_size()
    sock = transport.get_extra_info("socket")
    if _SIOCOUTQ is None or sock is None:
        return queued
    try:
        return queued + struct.unpack("i", fcntl.ioctl(sock.fileno(), _SIOCOUTQ, b"\0\0\0\0"))[0]
    except (OSError, ValueError):  # not a TCP socket, or already closed
        return queued


async def wait_for_room(transport: Any, limit_bytes: int) -> int:
    """Return once ``transport``'s backlog is at most ``limit_bytes`` (or it is closing): the backlog last seen."""
    delay, longest = POLL_SECONDS
    while (unsent := unsent_bytes(transport)) > limit_bytes and not transport.is_closing():
        await asyncio.sleep(delay)
        delay = min(2 * delay, longest)
    return unsent


async def send_fresh(
    connection: Any, next_message: Callable[[], "bytes | FramedMessage | None"], last_bytes: int, *,
    sent: Callable[[], None] | None = None,
) -> int:
    """Send ``next_message()`` on the websockets ``connection`` until it gives ``None``, taking each
    message only once the backlog has room (so frames merge meanwhile); returns the last size sent.
    A ``FramedMessage`` (a frame, framed once for every client) is written as it is where it can be.
    ``sent()`` is called after each message is written.

    The backlog is asked of the kernel once per call, not before every message: at most what
    was seen then plus what was sent since, it needs asking again only when that could be over
    the limit (a system call and the socket's lock per message spared on a 32-client server).
    """
    most_unsent: int | None = None
    while True:
        limit = backlog_limit(last_bytes)
        if most_unsent is None or most_unsent > limit:
            most_unsent = await wait_for_room(connection.transport, limit)
        data = next_message()
        if data is None:
            return last_bytes
        payload = data.payload if isinstance(data, FramedMessage) else data
        if payload is data or not write_framed(connection, data):
            await connection.send(payload)
        last_bytes = len(payload)
        most_unsent += last_bytes
        if sent is not None:
            sent()

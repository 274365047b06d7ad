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


async def wait_for_room(transport: Any, limit_bytes: int) -> None:
    """Return once ``transport``'s backlog is at most ``limit_bytes`` (or it is closing)."""
    delay, longest = POLL_SECONDS
    while not transport.is_closing() and unsent_bytes(transport) > limit_bytes:
        await asyncio.sleep(delay)
        delay = min(2 * delay, longest)


async def send_fresh(
    connection: Any, next_message: Callable[[], "bytes | None"], last_bytes: int, *, sent: Callable[[], None] | None = None,
) -> int:
    """Send ``next_message()`` on the websockets ``connection`` until it gives ``None``, taking each
    message only once the backlog has room (so frames merge meanwhile); returns the last size sent.
    ``sent()`` is called after each message is written."""
    while True:
        await wait_for_room(connection.transport, backlog_limit(last_bytes))
        data = next_message()
        if data is None:
            return last_bytes
        await connection.send(data)
        last_bytes = len(data)
        if sent is not None:
            sent()

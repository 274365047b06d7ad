"""``CommandReplies``: command messages for one connection, queued from any thread onto its event loop.

A client's commands run on the command pool; their replies (and requests forwarded to it)
come back from those threads. Each is encoded at once (an encoding error raises for the
caller), handed to the connection's loop, and waits there for its send loop, at most
``MAX_PENDING_REPLIES`` of them: a peer that reads none of its replies is not allowed to
grow the server's memory; ``on_overflow`` decides what happens to it (the transports close it).

    replies = CommandReplies(wake, on_overflow=lambda waiting: close_connection())
    session = ClientSession(..., send_command=replies.put)   # any thread
    data = replies.take()                                     # the send loop
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, Callable

from costeer.core.message import encode_message

__all__ = ["CommandReplies", "MAX_PENDING_REPLIES"]

MAX_PENDING_REPLIES = 1024
"""Command messages waiting for a peer that does not read; beyond this ``on_overflow`` is called."""


class CommandReplies:
    """One connection's queue of encoded command messages; create it on the connection's loop."""

    def __init__(self, wake: asyncio.Event, *, on_overflow: Callable[[int], None], limit: int = MAX_PENDING_REPLIES) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = wake
        self._on_overflow = on_overflow
        self._limit = limit
        self._queue: collections.deque[bytes] = collections.deque()

    def put(self, message: dict[str, Any]) -> None:
        """Queue ``{"command": message}`` (from any thread); a closed loop drops it (the connection is going)."""
        data = encode_message({"command": message})
        try:
            self._loop.call_soon_threadsafe(self._append, data)
        except RuntimeError:
            pass

    def take(self) -> bytes | None:
        """The oldest queued message, or ``None``."""
        return self._queue.popleft() if self._queue else None

    def _append(self, data: bytes) -> None:
        if len(self._queue) >= self._limit:
            self._on_overflow(len(self._queue))
            return
        self._queue.append(data)
        self._wake.set()

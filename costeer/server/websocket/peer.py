"""``PeerConnection``: the session served to one NanoVer peer over an open WebSocket connection.

Whichever side dialled, the other end gets the session the same way: a client of the
WebSocket server (``websocket.server``) and the link to a remote hub (``server.remote``) are
both one ``PeerConnection``, on the event loop that owns the connection:

- set-up: a subscription to the frame hub and one to the shared state, a lane on the command
  pool, a ``CommandReplies`` queue and a ``ClientSession`` (the peer's writes, its role);
- a receive loop: each message to the session (``_receive``); a protocol error is answered
  by the session's refusal, any other failure is logged and the message dropped;
- a send loop that wakes when the hub, the state or a command reply has something: the
  opening messages (``_opening_messages``) once, then command replies first, then the latest
  merged frame (encoded once for every peer), then the merged state (``_next_state``), taken
  only while the connection's backlog is small (``backlog``); a peer that reads no replies,
  or a failed send, closes the connection;
- tear-down: the subscriptions closed, the peer's queued commands cancelled, its keys removed.

A subclass changes what it must by overriding ``_receive``, ``_next_state`` or
``_opening_messages`` (the remote link mirrors the hub's state and registers its commands).

    peer = PeerConnection(parts, connection, "ws-1", role=Role.STEER, max_bytes=MAX_MESSAGE_BYTES)
    await peer.run()          # until the connection closes; the session's keys are gone after
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable, Iterable

from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed, PayloadTooBig


from ..access import Role
from ..replies import CommandReplies
from ..session import ClientSession
from ..transport import SessionParts
from .backlog import send_fresh
from .codec import ProtocolError, decode_message, encode_state_message
from .framed import FramedMessage, framed_frame

__all__ = ["PeerConnection"]

_log = logging.getLogger(__name__)


class PeerConnection:
    """One peer's session on an open WebSocket ``connection``: a receive loop and a send loop
    sharing one wake-up (see the module's docstring). Create it on the connection's event loop.

    ``wake(event)`` sets ``event`` on this loop from any thread (default: one
    ``call_soon_threadsafe`` each time); a server with many peers passes one that batches.
    """

    def __init__(
        self,
        parts: SessionParts,
        connection: Connection,
        connection_id: str,
        *,
        max_bytes: int,
        role: Role = Role.STEER,
        wake: Callable[[asyncio.Event], None] | None = None,
    ) -> None:
        self.parts = parts
        self.connection = connection
        self.max_bytes = max_bytes
        """The largest message taken from the peer."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._wake_from_thread = wake or self._set_soon
        self._sender: asyncio.Task | None = None
        self._replies = CommandReplies(self._wake, on_overflow=self._too_many_replies)
        self._lane = parts.command_lane()
        """This peer's commands, in its order, on the server's shared pool."""
        self._frames = parts.hub.subscribe(on_ready=self._wake_threadsafe)
        self._state = parts.state.subscribe(on_ready=self._wake_threadsafe)
        self.session = ClientSession(
            connection_id,
            state=parts.state,
            commands=parts.commands,
            send_command=self._replies.put,
            executor=self._lane,
            role=role,
        )

    async def run(self) -> None:
        """Serve the peer until the connection closes, then remove what it left in the session."""
        self._sender = sender = asyncio.create_task(self._send_loop())
        try:
            await self._receive_loop()
        finally:
            sender.cancel()
            self._frames.close()
            self._state.close()
            self._lane.shutdown(cancel_futures=True)
            removed = self.session.close()
            _log.info("%s left; removed %d of its state keys", self.session.connection_id, len(removed))

    def _receive(self, data: bytes | str) -> None:
        """Hand one message from the peer to the session; ``ProtocolError`` if it is malformed."""
        self.session.receive(decode_message(data, max_bytes=self.max_bytes))

    def _opening_messages(self) -> Iterable[bytes]:
        """Sent once, before anything else (none by default)."""
        return ()

    def _next_state(self) -> bytes | None:
        """The state change the peer has not seen yet, encoded; ``None`` when there is none."""
        return self._state.encoded_take(encode_state_message)

    async def _receive_loop(self) -> None:
        name = self.session.connection_id
        try:
            async for data in self.connection:
                try:
                    self._receive(data)
                except ProtocolError as error:
                    self.session.refuse(error, requests=error.requests)
                except Exception:
                    _log.exception("%s: handling a message failed; the message was dropped", name)
        except ConnectionClosed as closed:
            if isinstance(closed.__cause__, PayloadTooBig):
                _log.warning("%s sent a message over the size limit and was disconnected (%s)", name, closed.__cause__)

    async def _send_loop(self) -> None:
        try:
            for message in self._opening_messages():
                await self.connection.send(message)
            last_bytes = 0
            while True:  # a slow reader's frames merge here rather than queue in the kernel
                last_bytes = await send_fresh(self.connection, self._next_message, last_bytes, sent=self._sent)
                await self._wake.wait()
                self._wake.clear()
        except ConnectionClosed:
            pass
        except Exception:
            _log.exception("sending to %s failed; closing the connection", self.session.connection_id)
            await self.connection.close(code=1011, reason="error while sending")

    def _next_message(self) -> bytes | FramedMessage | None:
        if (reply := self._replies.take()) is not None:
            return reply
        frame = self._frames.take_packed()
        if frame is not None:
            return framed_frame(frame)
        return self._next_state()

    def _sent(self) -> None:
        # done with the frame once this loop turn is over: the other clients' sends and this
        # one's return to waiting run before a simulation waiting for its readers steps on
        self._loop.call_soon(self._frames.handled)

    def _wake_threadsafe(self) -> None:
        self._wake_from_thread(self._wake)

    def _set_soon(self, event: asyncio.Event) -> None:
        try:
            self._loop.call_soon_threadsafe(event.set)
        except RuntimeError:  # the loop is closed: the connection is going
            pass

    def _too_many_replies(self, waiting: int) -> None:
        _log.warning(
            "%s is not reading its command replies (%d waiting); closing the connection", self.session.connection_id, waiting
        )
        asyncio.ensure_future(self.connection.close(code=1008, reason="too many unread command replies"))

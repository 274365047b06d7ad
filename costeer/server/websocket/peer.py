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
  or a failed send, closes the connection. A new frame for a peer whose send loop is waiting,
  with nothing else to send and room in the backlog, is written where the wake-up lands
  (``_ready``) without waking the loop's task: the frame's message is the same bytes for
  every peer, and the task's round trip cost more than the write itself;
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
from .backlog import backlog_limit, send_fresh, unsent_bytes
from .codec import ProtocolError, decode_message, encode_state_message
from .framed import FramedMessage, framed_frame, takes_framed

__all__ = ["PeerConnection"]

_log = logging.getLogger(__name__)


class PeerConnection:
    """One peer's session on an open WebSocket ``connection``: a receive loop and a send loop
    sharing one wake-up (see the module's docstring). Create it on the connection's event loop.

    ``wake(callback)`` runs ``callback`` on this loop soon, from any thread (default: one
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
        wake: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        self.parts = parts
        self.connection = connection
        self.max_bytes = max_bytes
        """The largest message taken from the peer."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._wake_from_thread = wake or self._call_soon
        self._parked = False
        """The send loop is waiting for ``_wake``, having sent all it had."""
        self._last_bytes = 0
        """The size of the last message sent (the backlog allowed depends on it)."""
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
            while True:  # a slow reader's frames merge here rather than queue in the kernel
                self._last_bytes = await send_fresh(self.connection, self._next_message, self._last_bytes, sent=self._sent)
                self._parked = True
                try:
                    await self._wake.wait()
                finally:
                    self._parked = False
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
        self._wake_from_thread(self._ready)

    def _call_soon(self, callback: Callable[[], None]) -> None:
        try:
            self._loop.call_soon_threadsafe(callback)
        except RuntimeError:  # the loop is closed: the connection is going
            pass

    def _ready(self) -> None:
        """On the loop: the hub or the state has something for this peer. Frames alone, for a
        waiting send loop, are written here; anything else wakes the loop's task."""
        try:
            if self._parked and not self._wake.is_set() and self._write_frames():
                return
        except Exception:  # the task tries again, and closes the connection if it fails too
            _log.exception("writing a frame to %s failed; its send loop takes over", self.session.connection_id)
        self._wake.set()

    def _write_frames(self) -> bool:
        """Write the pending frame(s) straight to the transport; ``False`` when the send loop's
        task must go on instead (state pending, a transport that takes no framed message, or
        a backlog too big, which the task waits out)."""
        if self._state.pending or not takes_framed(self.connection):
            return False
        transport = self.connection.transport
        most_unsent = unsent_bytes(transport)
        while most_unsent <= backlog_limit(self._last_bytes):
            shared = self._frames.take_packed()
            if shared is None:
                return True
            message = framed_frame(shared)
            transport.write(message.wire)
            self._last_bytes = len(message.payload)
            most_unsent += self._last_bytes
            self._frames.handled()
        return False

    def _too_many_replies(self, waiting: int) -> None:
        _log.warning(
            "%s is not reading its command replies (%d waiting); closing the connection", self.session.connection_id, waiting
        )
        asyncio.ensure_future(self.connection.close(code=1008, reason="too many unread command replies"))

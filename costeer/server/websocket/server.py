"""NanoVer's WebSocket transport: a thin asyncio adapter between sockets and the sessions.

Each client is one ``PeerConnection`` (``peer``): a receive loop and a send loop on the
server's own event-loop thread, woken in batches (``_Waker``). The send loop wakes when the
frame hub, the shared state or a command reply has something for this client and sends the
latest merged frame/state, so a client that stops reading only ever holds one pending frame
and one pending change: the simulation and the other clients never wait for it. It sends
only while the connection's backlog is small (``backlog``), so a slow reader gets fresh
frames, not seconds of queued ones.

Every HTTP request (the upgrade, and any page a request hook serves) is first checked
against the session's access policy (``parts.access``, ``websocket.access``): a refused one
gets 401 before any hook sees it, and an admitted client's role (steer or view) goes to its
``ClientSession``. With ``parts.tls`` the port speaks TLS only (wss, https), announced as
``wss``.

    server = WebSocketServer(parts, port=0)      # parts: the session's ``SessionParts``
    server.start(); print(server.port)
    ...
    server.close()
"""

from __future__ import annotations

import asyncio
import http
import itertools
import logging
import threading
import weakref
from typing import Any, Callable, Sequence

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from ..access import Role
from ..mistakes import MistakeLog
from ..subscription import once_after_notify
from ..loop_thread import LoopThread
from ..transport import SessionParts
from .access import AccessGate, refusal_response
from .codec import MAX_MESSAGE_BYTES
from .peer import PeerConnection

__all__ = ["WebSocketServer", "RequestHook", "DEFAULT_PORT", "CLOSE_GRACE_SECONDS", "MAX_CLIENTS"]

DEFAULT_PORT = 38801
"""NanoVer's default WebSocket port."""
MAX_CLIENTS = 256
"""WebSocket clients connected at once (a classroom is 30; every one holds a socket and its buffers)."""
CLOSE_GRACE_SECONDS = 1.0
"""How long ``close`` waits for clients to finish the closing handshake."""

RequestHook = Callable[[ServerConnection, Request], "Response | None"]
"""Looks at an HTTP request before the WebSocket handshake: a ``Response`` answers it (a page,
a refusal) and no handshake follows; ``None`` passes it to the next hook, then to the handshake."""

_log = logging.getLogger(__name__)


class WebSocketServer:
    """Serves frames, shared state and commands to NanoVer clients over WebSocket + msgpack
    (the server's first ``Transport``; its clients are ``ws-1``, ``ws-2``, ...).

        with WebSocketServer(SessionParts.standalone(), port=0) as server:
            url = f"ws://127.0.0.1:{server.port}"
    """

    name = "ws"

    def __init__(
        self,
        parts: SessionParts,
        *,
        port: int = DEFAULT_PORT,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        write_limit: int = 64 * 1024,
        request_hooks: Sequence[RequestHook] = (),
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.parts = parts
        self.max_clients = max_clients
        """Clients connected at once; a newcomer past it is refused with 503 (each holds a socket and buffers)."""
        self._full_said = False
        self.request_hooks: list[RequestHook] = list(request_hooks)
        """Run in order on every HTTP request before its handshake; the first response wins."""
        self.address = parts.address
        self._requested_port = port
        self._max_message_bytes = max_message_bytes
        self._write_limit = write_limit
        self._loop_thread = LoopThread("costeer-websocket")
        self._server: Server | None = None
        self._waker: _Waker | None = None
        self._ids = itertools.count(1)
        self._clients: dict[str, PeerConnection] = {}
        self._connections: weakref.WeakSet[ServerConnection] = weakref.WeakSet()
        """Every TCP connection, including those still in (or stuck before) the handshake."""
        self._roles: weakref.WeakKeyDictionary[ServerConnection, Role] = weakref.WeakKeyDictionary()
        """The role each admitted connection's token gave it, until its handler starts."""
        self._gate = AccessGate(parts.access, secure=parts.tls is not None, refusals=MistakeLog("WebSocket access control:"))
        self.port: int | None = None
        """The port actually listened on, once started."""

    @property
    def client_count(self) -> int:
        """How many clients are connected."""
        return len(self._clients)

    @property
    def scheme(self) -> str:
        """``wss`` when serving over TLS (``parts.tls``), else ``ws``."""
        return "ws" if self.parts.tls is None else "wss"

    @property
    def discovery_services(self) -> dict[str, int]:
        """``{"ws": port}`` (``{"wss": port}`` over TLS) once listening: NanoVer's clients look
        for ``wss`` first, then ``ws``."""
        return {} if self.port is None else {self.scheme: self.port}

    def start(self) -> None:
        """Listen (in a background thread); raises ``OSError`` saying so if the port is taken."""
        self._waker = _Waker(self._loop_thread.start())
        self._server = self._loop_thread.listen(
            self._listen, where=f"on {self.address}:{self._requested_port}", option="--port"
        )
        self.port = self._server.sockets[0].getsockname()[1] if self._server.sockets else None

    def close(self) -> None:
        """Disconnect every client (cleaning up their keys) and stop listening; never raises."""
        self._loop_thread.stop(
            None if self._server is None else self._shutdown,
            what="the WebSocket connections", timeout=4 * CLOSE_GRACE_SECONDS + 1,
        )

    async def _listen(self) -> Server:
        return await serve(
            self._handle,
            self.address,
            self._requested_port,
            max_size=self._max_message_bytes,
            write_limit=self._write_limit,
            compression=None,
            close_timeout=2,
            create_connection=self._new_connection,
            process_request=self._process_request,
            ssl=None if self.parts.tls is None else self.parts.tls.server_context(),
        )

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """The access policy first (a refusal ends it), then the hooks in order; a handshake
        past ``max_clients`` connected clients is refused (503)."""
        role, response = self._gate.answer(connection, request, self.request_hooks)
        if response is None and role is not None and len(self._clients) >= self.max_clients:
            if not self._full_said:
                _log.warning("%d clients are connected, the most this server takes: newcomers are refused (HTTP 503) "
                             "until one leaves", self.max_clients)
                self._full_said = True
            return refusal_response(http.HTTPStatus.SERVICE_UNAVAILABLE,
                                    f"the server has {self.max_clients} clients already, the most it takes: try again later\n")
        self._full_said = len(self._clients) >= self.max_clients
        if role is not None:
            self._roles[connection] = role
        return response

    def _new_connection(self, *args: Any, **kwargs: Any) -> ServerConnection:
        connection = ServerConnection(*args, **kwargs)
        self._connections.add(connection)
        return connection

    async def _shutdown(self) -> None:
        """Close politely; a connection not closed within the grace period is cut off.

        That includes a TCP connection that never finished its handshake, which websockets
        would otherwise wait for until its open timeout.
        """
        server = self._server
        assert server is not None
        server.close()
        try:
            if await _closed_within(server, CLOSE_GRACE_SECONDS):
                return
            stuck = self._abort_connections()
            if not await _closed_within(server, CLOSE_GRACE_SECONDS):
                _log.warning("%d connections did not close after being cut off; stopping anyway", stuck)
        finally:
            await self._cut_off_latecomers(server)

    async def _cut_off_latecomers(self, server: Server) -> None:
        """Abort connections accepted while closing, which websockets' own close can miss; then
        cancel what is left on this server's loop (over TLS, asyncio's tasks for handshakes still
        under way, which would otherwise be destroyed pending when the loop closes)."""
        self._abort_connections()
        if server.handler_tasks:
            await asyncio.wait(set(server.handler_tasks), timeout=CLOSE_GRACE_SECONDS)
        leftovers = asyncio.all_tasks() - {asyncio.current_task()}
        for task in leftovers:
            task.cancel()
        if leftovers:
            await asyncio.wait(leftovers, timeout=CLOSE_GRACE_SECONDS)

    def _abort_connections(self) -> int:
        """Drop every TCP connection still open at once; returns how many there were.

        Over TLS a connection gets its transport only once the TLS handshake is done; one that
        failed or is still shaking hands has none, and asyncio's TLS layer ends it itself.
        """
        transports = [getattr(c, "transport", None) for c in list(self._connections)]
        open_transports = [t for t in transports if t is not None and not t.is_closing()]
        for transport in open_transports:
            transport.abort()
        return len(open_transports)

    async def _handle(self, connection: ServerConnection) -> None:
        role = self._roles.pop(connection)  # set by _process_request, which runs first: fails closed
        assert self._waker is not None
        client = PeerConnection(
            self.parts, connection, f"{self.name}-{next(self._ids)}",
            max_bytes=self._max_message_bytes, role=role, wake=self._waker.wake,
        )
        self._clients[client.session.connection_id] = client
        address = _address(connection)
        self.parts.tell_connection(client.session.connection_id, address, True)
        viewer = " as a viewer" if role is Role.VIEW else ""
        _log.info("%s connected from %s%s", client.session.connection_id, connection.remote_address, viewer)
        try:
            await client.run()
        finally:
            del self._clients[client.session.connection_id]
            self.parts.tell_connection(client.session.connection_id, address, False)

    def __enter__(self) -> "WebSocketServer":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _address(connection: ServerConnection) -> str | None:
    remote = connection.remote_address
    return None if not remote else f"{remote[0]}:{remote[1]}"


async def _closed_within(server: Server, seconds: float) -> bool:
    """Whether ``server`` finished closing within ``seconds``."""
    try:
        await asyncio.wait_for(server.wait_closed(), seconds)
    except TimeoutError:
        return False
    return True


class _Waker:
    """Runs wake-up callbacks from other threads on the loop, with one ``call_soon_threadsafe`` per batch.

    A frame published to N clients makes N subscriptions ready in the simulation thread; each
    ``wake`` adds its client's callback to a set, and the loop callback that runs them all is
    scheduled once, after the publisher's ``notify_all`` batch (each ``call_soon_threadsafe`` writes to the loop's
    self-pipe, which cost the simulation thread 3.8% with 4 clients). A client's callback never
    waits on its client, so a slow client still cannot stall the others; one that raises is
    logged and the others still run.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._pending: dict[Callable[[], None], None] = {}
        self._scheduled = False

    def wake(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the loop soon (once, however often it is woken meanwhile); callable
        from any thread. Within a publisher's ``notify_all`` the loop is called once, after every
        subscription of the batch."""
        with self._lock:
            self._pending[callback] = None
            if self._scheduled:
                return
        if not once_after_notify(self._schedule):
            self._schedule()

    def _schedule(self) -> None:
        with self._lock:
            if self._scheduled or not self._pending:
                return
            self._scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._run_pending)
        except RuntimeError:  # the loop is closed: the server is shutting down
            with self._lock:
                self._scheduled = False

    def _run_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            self._scheduled = False
        for callback in pending:
            try:
                callback()
            except Exception:
                _log.exception("waking a client's send loop failed")

"""``RemoteLink``: serve the session through a remote hub (``costeer serve --remote URL``).

The simulation runs here, on a machine that nobody can reach (a GPU node behind a firewall);
the link connects out, as a NanoVer client, to a hub that everyone can reach (NanoVer's own
server, ``nanover-server`` with no simulation), the way NanoVer's ``--remote`` does:

- frames go up: each frame of a ``FrameHub`` subscription, as the very bytes local WebSocket
  clients get (``SharedFrame.encoding``: encoded once); a reset (``frame.index`` 0) makes the
  hub start a new sequence. A slow link holds one merged frame; the simulation never waits.
  The hub sends them back (it sends every frame to every client): dropped unread.
- state both ways, through a ``StateMirror`` (no echoes): the hub's users' writes
  (``interaction.*``, avatars...) come down as the writes of one local client, ``remote-N``,
  so they pass the interaction gate and steer; the local state (``simulation.name``,
  ``costeer.session``, the local clients' writes) goes up for the hub's users to see, and
  the hub's values of the server's own keys are never taken. On leaving, the link removes
  from the hub what it put there.
- commands: the session's commands (``playback/play``, ``playback/reset``, ...) are registered
  with the hub, which passes its users' requests down; they run here and the replies go up.

If the hub goes away the link's keys are removed (its users' pulls stop at once, as for any
client that leaves) and it reconnects with a growing delay (``Backoff``); the hub's state,
with its users' interactions, comes back with the new connection. The first connection is
made by ``start``, which raises ``OSError`` if the hub cannot be reached, so a mistyped URL
fails at once. The link listens on nothing: it is a ``Transport`` without a port. Each
connection to the hub is served as any WebSocket client of the session is
(``websocket.peer.PeerConnection``), less what the mirror and the registrations change.

    server = CosteerServer(simulations, port=0, transports=[remote_transport("ws://hub:38801")])
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from costeer.core import keys
from costeer.core.address import shown
from costeer.core.message import encode_message

from .backoff import Backoff
from .loop_thread import LoopThread
from .session import ClientMessage, StatePart
from .state_mirror import StateMirror
from .transport import SessionParts, TransportFactory
from .websocket.codec import decode_message, encode_state_message
from .websocket.peer import PeerConnection

__all__ = ["RemoteLink", "remote_transport", "check_hub_url", "MAX_HUB_MESSAGE_BYTES", "CONNECT_TIMEOUT"]

MAX_HUB_MESSAGE_BYTES = 128 * 1024 * 1024
"""Largest message taken from the hub: NanoVer's own limit (the hub sends our frames back)."""
CONNECT_TIMEOUT = 10.0
"""Seconds to open a connection to the hub (TCP, TLS and the WebSocket handshake)."""
CLOSE_TIMEOUT = 2.0
_FRAME_ONLY = b"\x81\xa5frame"
"""How a message holding only a frame starts (msgpack: a map of one entry, the key "frame"):
the hub's echo of our own frames, dropped without decoding it."""

_log = logging.getLogger(__name__)


def remote_transport(url: str, *, backoff: Backoff | None = None) -> TransportFactory:
    """A factory for ``CosteerServer(transports=[...])``: the session served through the hub at ``url``."""
    check_hub_url(url)
    return lambda parts: RemoteLink(parts, url=url, backoff=backoff)


def check_hub_url(url: str) -> None:
    """Raise ``ValueError`` saying how to write it unless ``url`` is ``ws://HOST:PORT`` or ``wss://HOST:PORT``."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"--remote needs the hub's WebSocket URL, ws://HOST:PORT or wss://HOST:PORT; got {url!r}")


class RemoteLink:
    """The session served through a remote hub, as one client of it (see the module's docstring).

        link = RemoteLink(parts, url="ws://127.0.0.1:38801")
        link.start()          # OSError if the hub cannot be reached
        link.connected        # True while linked; reconnects by itself
        link.close()
    """

    name = "remote"

    def __init__(self, parts: SessionParts, *, url: str, backoff: Backoff | None = None) -> None:
        check_hub_url(url)
        self.parts = parts
        self.url = url
        self.shown_url = shown(url)
        """The hub's URL as logs and connection events show it (a ``token=`` hidden)."""
        self._backoff = backoff or Backoff()
        self._loop_thread = LoopThread("costeer-remote")
        self._ids = itertools.count(1)
        self._link: _HubConnection | None = None
        self._task: asyncio.Task | None = None
        self._closing: asyncio.Event | None = None

    @property
    def port(self) -> int | None:
        """``None``: the link listens on nothing."""
        return None

    @property
    def connected(self) -> bool:
        """Whether the hub is connected now."""
        return self._link is not None

    @property
    def client_count(self) -> int:
        """1 while linked (the hub is one client of the session; its own users are its business)."""
        return int(self.connected)

    @property
    def discovery_services(self) -> dict[str, int]:
        """``{}``: nothing listens here to announce."""
        return {}

    def start(self) -> None:
        """Connect to the hub and serve it from a background thread; ``OSError`` if it cannot be reached."""
        loop = self._loop_thread.start()
        try:
            first = asyncio.run_coroutine_threadsafe(self._connect(), loop).result()
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as error:
            self._loop_thread.stop(None, what="the remote link", timeout=1)
            raise OSError(
                f"cannot reach the hub at {self.shown_url} ({type(error).__name__}: {error}); "
                "check that it runs and that --remote names its WebSocket URL"
            ) from None
        asyncio.run_coroutine_threadsafe(self._begin(first), loop).result()
        _log.info("linked to the hub at %s", self.shown_url)

    def close(self) -> None:
        """Leave the hub (its users' keys removed here) and stop reconnecting; safe to call twice."""
        self._loop_thread.stop(self._shutdown, what="the remote link", timeout=CLOSE_TIMEOUT + 3)

    async def _begin(self, first: ClientConnection) -> None:
        self._closing = asyncio.Event()
        self._task = asyncio.create_task(self._run(first))

    async def _shutdown(self) -> None:
        if self._closing is None or self._task is None:
            return
        self._closing.set()
        link = self._link
        if link is not None:
            await link.leave()
        try:
            await asyncio.wait_for(self._task, CLOSE_TIMEOUT)
        except TimeoutError:
            _log.warning("the link to %s did not finish closing in %.0f s", self.shown_url, CLOSE_TIMEOUT)

    async def _connect(self) -> ClientConnection:
        return await connect(
            self.url,
            open_timeout=CONNECT_TIMEOUT,
            max_size=MAX_HUB_MESSAGE_BYTES,
            compression=None,
            close_timeout=CLOSE_TIMEOUT,
        )

    async def _run(self, connection: ClientConnection | None) -> None:
        """Serve the hub; when it goes away, wait (growing delays) and connect again, until closed."""
        assert self._closing is not None
        while not self._closing.is_set():
            if connection is not None:
                self._backoff.reset()
                await self._serve(connection)
                if self._closing.is_set():
                    return
            delay = self._backoff.next()
            _log.warning("no link to the hub at %s; trying again in %.1f s", self.shown_url, delay)
            try:
                await asyncio.wait_for(self._closing.wait(), delay)
                return
            except TimeoutError:
                pass
            try:
                connection = await self._connect()
                if self._closing.is_set():
                    await connection.close()
                    return
                _log.info("linked to the hub at %s again", self.shown_url)
            except (OSError, InvalidHandshake, TimeoutError) as error:
                _log.info("the hub at %s did not answer (%s: %s)", self.shown_url, type(error).__name__, error)
                connection = None

    async def _serve(self, connection: ClientConnection) -> None:
        link = _HubConnection(self.parts, connection, f"{self.name}-{next(self._ids)}")
        self._link = link
        self.parts.tell_connection(link.session.connection_id, self.shown_url, True)
        try:
            await link.run()
        finally:
            self._link = None
            self.parts.tell_connection(link.session.connection_id, self.shown_url, False)


class _HubConnection(PeerConnection):
    """The session served to the hub on one connection: the hub's state through the mirror,
    the session's commands registered first (``PeerConnection`` does the rest)."""

    def __init__(self, parts: SessionParts, connection: ClientConnection, link_id: str) -> None:
        self._mirror = StateMirror()
        super().__init__(parts, connection, link_id, max_bytes=MAX_HUB_MESSAGE_BYTES)

    async def leave(self) -> None:
        """Take back from the hub what this side put there (``simulation.name``, the local
        clients' avatars...), so its users see no ghosts, then close the connection."""
        if self._sender is not None:  # nothing else goes up after the farewell
            self._sender.cancel()
            await asyncio.wait({self._sender})
        try:
            await self.connection.send(encode_message({"state": {"updates": {}, "removals": self._mirror.local_keys()}}))
        except ConnectionClosed:
            pass
        await self.connection.close()

    def _receive(self, data: bytes | str) -> None:
        """The hub's state (less our own echoes, and less the server's keys: this side says what
        it serves, whatever the hub held before it came) and commands; our frames sent back dropped."""
        if data[:7] == _FRAME_ONLY:
            return
        message = decode_message(data, max_bytes=self.max_bytes)
        change = None if message.state is None else self._mirror.incoming({
            "updates": {key: value for key, value in message.state.updates.items() if key not in keys.SERVER_STATE_KEYS},
            "removals": [key for key in message.state.removals if key not in keys.SERVER_STATE_KEYS],
        })
        state = None if change is None else StatePart(updates=change["updates"], removals=change["removals"])
        if state is not None or message.commands:
            self.session.receive(ClientMessage(state=state, commands=message.commands))

    def _opening_messages(self) -> list[bytes]:
        """``register`` messages for the session's commands, so the hub passes them down."""
        messages = []
        for name in self.parts.commands.names:
            registration = self.parts.commands.get(name)
            if registration is None or name == keys.LIST_COMMANDS:  # the hub lists its own commands
                continue
            register = {"name": name, "arguments": registration.arguments, "label": registration.label, "icon": registration.icon}
            messages.append(encode_message({"command": {"register": register}}))
        return messages

    def _next_state(self) -> bytes | None:
        """The local state's next change the hub has not seen (less what came from it)."""
        while (change := self._state.take()) is not None:
            outgoing = self._mirror.outgoing(change)
            if outgoing is not None:
                return encode_state_message(outgoing)
        return None

"""A NanoVer WebSocket client session: merged frames and state in, state and commands out.

Speaks the same protocol as a VR headset (msgpack maps with ``frame``, ``state`` and
``command``), so scripted users, the demo and tests drive any NanoVer server through it::

    async with NanoverSession.connect("ws://127.0.0.1:38801") as session:
        frame = await session.wait_for_frame()
        await session.update_state({"interaction.demo": {...}})
        names = await session.run_command("playback/list")
        await session.register_command("greet", lambda name="you": f"hello {name}")

Listeners (frames, state) run in the session's event loop; one that raises is logged with
its traceback and the session goes on receiving. Commands registered with
``register_command`` answer the requests the server forwards to this client, as a NanoVer
client does: the reply carries the request with its ``response`` or ``exception``.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import ssl as ssl_module
from typing import Any, Awaitable, Callable, Iterable, Mapping

import msgpack
import websockets

from ..core import keys
from ..core.address import connecting, server_url
from ..core.frame import FrameDict, merge_frames, unpack_frame
from ..core.message import encode_message

__all__ = ["NanoverSession", "CommandError", "CommandHandler", "FrameListener", "StateListener"]

_log = logging.getLogger(__name__)

FrameListener = Callable[[FrameDict, FrameDict], None]
"""``listener(delta, merged)`` for every frame received."""
StateListener = Callable[[Mapping[str, Any], frozenset[str]], None]
"""``listener(updates, removals)`` for every state change received."""
CommandHandler = Callable[..., Any | Awaitable[Any]]
"""Called with a forwarded request's arguments as keywords; a plain function or a coroutine function."""


class CommandError(RuntimeError):
    """The server answered a command request with an exception."""


class NanoverSession:
    """One connection to a NanoVer-protocol server, keeping the merged frame and state.

    Use :meth:`connect` as an async context manager. ``frame`` is the latest merged frame
    (numpy arrays), ``state`` the shared state as this client last heard it.
    """

    def __init__(self, websocket: Any) -> None:
        self._websocket = websocket
        self.frame: FrameDict = {}
        """The merged frame: everything received since the last ``frame.index`` 0."""
        self.state: dict[str, Any] = {}
        """The shared state as last received."""
        self.frames_received = 0
        self._frame_listeners: list[FrameListener] = []
        self._state_listeners: list[StateListener] = []
        self._handlers: dict[str, CommandHandler] = {}
        self._answering: set[asyncio.Task] = set()
        """Tasks answering forwarded requests (kept so they are not collected mid-way)."""
        self._changed = asyncio.Condition()
        self._pending: dict[int, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._closed = False
        self._receiver = asyncio.create_task(self._receive())

    @classmethod
    def connect(
        cls, url: str, *, open_timeout: float = 10.0, ssl: "ssl_module.SSLContext | None" = None, token: str | None = None
    ) -> "_Connector":
        """Open a session to ``url`` (``ws://host:port`` or ``wss://host:port``); use with ``async with``.

        ``ssl``: the context checking a wss server's certificate (default: the system's trusted
        CAs; ``costeer.server.tls.client_context(ca_file=...)`` trusts a self-signed one).
        ``token``: sent as ``Authorization: Bearer`` to a server started with ``--token``
        (``?token=`` in the URL works too). A refused token raises websockets' ``InvalidStatus`` (401).
        """
        return _Connector(url, open_timeout, ssl, token)

    def add_frame_listener(self, listener: FrameListener) -> None:
        """Call ``listener(delta, merged)`` for every frame received."""
        self._frame_listeners.append(listener)

    def remove_frame_listener(self, listener: FrameListener) -> None:
        """Stop calling ``listener``."""
        self._frame_listeners.remove(listener)

    def add_state_listener(self, listener: StateListener) -> None:
        """Call ``listener(updates, removals)`` for every state change received (after ``state`` has it)."""
        self._state_listeners.append(listener)

    def remove_state_listener(self, listener: StateListener) -> None:
        """Stop calling ``listener``."""
        self._state_listeners.remove(listener)

    async def update_state(
        self, updates: Mapping[str, Any] | None = None, removals: Iterable[str] = ()
    ) -> None:
        """Send a state change (keys set and keys removed); numpy values go as lists and numbers."""
        change = {"updates": dict(updates or {}), "removals": list(removals)}
        await self._websocket.send(encode_message({"state": change}))

    async def run_command(self, name: str, /, *, timeout: float = 10.0, **arguments: Any) -> Any:
        """Run a server command and return its response; raises ``CommandError`` on failure."""
        request_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        request = {"name": name, "arguments": arguments, "id": request_id}
        try:
            await self._websocket.send(encode_message({"command": {"request": request}}))
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(request_id, None)

    async def register_command(
        self,
        name: str,
        handler: CommandHandler,
        *,
        arguments: Mapping[str, Any] | None = None,
        label: str | None = None,
        icon: str | None = None,
    ) -> None:
        """Offer command ``name`` to every client through the server (NanoVer's ``register``).

        When the server forwards a request for it, ``handler(**request_arguments)`` runs in
        this session's event loop (a plain function must be quick; make slow work a
        coroutine function) and its result, or its exception, goes back to the requester.
        ``arguments`` are the defaults listed in ``commands/list``. Registering a name
        another client already provides is ignored by the server.
        """
        self._handlers[name] = handler
        register = {"name": name, "arguments": dict(arguments or {}), "label": label, "icon": icon}
        register = {key: value for key, value in register.items() if value is not None}
        await self._websocket.send(encode_message({"command": {"register": register}}))

    async def wait_for_frame(
        self,
        predicate: Callable[[FrameDict], bool] = lambda frame: keys.PARTICLE_POSITIONS in frame,
        *,
        timeout: float = 10.0,
    ) -> FrameDict:
        """Wait until the merged frame satisfies ``predicate``; return it.

        Raises ``TimeoutError`` after ``timeout`` seconds, ``ConnectionError`` at once if the
        connection closes first (a server that went away is not waited on).
        """
        return await self._wait(lambda: self.frame if predicate(self.frame) else None, timeout)

    async def wait_for_state(
        self, predicate: Callable[[dict[str, Any]], bool], *, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Wait until the shared state satisfies ``predicate``; return it (raises as ``wait_for_frame``)."""
        return await self._wait(lambda: self.state if predicate(self.state) else None, timeout)

    async def wait_closed(self) -> None:
        """Return once the connection has closed (the server went away, or :meth:`close`)."""
        await asyncio.wait({self._receiver})

    async def close(self) -> None:
        """Close the connection and stop receiving (and answering)."""
        self._receiver.cancel()
        for task in list(self._answering):
            task.cancel()
        await self._websocket.close()

    async def _wait(self, probe: Callable[[], Any], timeout: float) -> Any:
        """Wait until ``probe()`` returns something; ``ConnectionError`` once the connection closed."""

        def probe_or_closed() -> Any:
            result = probe()
            if result is None and self._closed:
                raise ConnectionError("the server closed the connection before what was awaited arrived")
            return result

        async with self._changed:
            return await asyncio.wait_for(self._changed.wait_for(probe_or_closed), timeout)

    async def _receive(self) -> None:
        try:
            async for data in self._websocket:
                try:
                    self._on_message(msgpack.unpackb(data, raw=False))
                except (ValueError, TypeError, AttributeError, msgpack.UnpackException) as error:
                    _log.warning("ignored a message from the server that is not NanoVer's: %s", error)
                    continue
                except Exception:
                    _log.exception("handling a message from the server failed; the session goes on")
                async with self._changed:
                    self._changed.notify_all()
        except websockets.ConnectionClosed:
            pass
        finally:
            self._closed = True
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("the server closed the connection"))
            async with self._changed:
                self._changed.notify_all()

    def _on_message(self, message: Mapping[str, Any]) -> None:
        if "frame" in message:
            self._on_frame(unpack_frame(message["frame"]))
        if "state" in message:
            self._on_state(message["state"])
        if "command" in message:
            self._on_command(message["command"])

    def _on_frame(self, delta: FrameDict) -> None:
        self.frame = merge_frames(self.frame, delta)
        self.frames_received += 1
        for listener in list(self._frame_listeners):
            try:
                listener(delta, self.frame)
            except Exception:
                _log.exception("a frame listener failed; the session goes on receiving")

    def _on_state(self, change: Mapping[str, Any]) -> None:
        updates = change.get("updates") or {}
        removals = frozenset(change.get("removals") or ())
        self.state.update(updates)
        for key in removals:
            self.state.pop(key, None)
        for listener in list(self._state_listeners):
            try:
                listener(updates, removals)
            except Exception:
                _log.exception("a state listener failed; the session goes on receiving")

    def _on_command(self, message: Mapping[str, Any]) -> None:
        request = message.get("request") or {}
        if "response" not in message and "exception" not in message:
            self._on_forwarded_request(request)
            return
        future = self._pending.get(request.get("id"))
        if future is None or future.done():
            return
        if "exception" in message:
            future.set_exception(CommandError(str(message["exception"])))
        else:
            future.set_result(message.get("response"))

    def _on_forwarded_request(self, request: Mapping[str, Any]) -> None:
        """The server forwards a request for a command this client registered: answer it."""
        task = asyncio.create_task(self._answer(dict(request)))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def _answer(self, request: dict[str, Any]) -> None:
        name = request.get("name")
        try:
            handler = self._handlers.get(name)  # type: ignore[arg-type]
            if handler is None:
                raise LookupError(f"this client provides no command {name!r}")
            result = handler(**(request.get("arguments") or {}))
            if inspect.isawaitable(result):
                result = await result
            data = encode_message({"command": {"request": request, "response": result}})
        except Exception as error:
            _log.exception("command %r, registered by this client, failed", name)
            data = encode_message({"command": {"request": request, "exception": f"command {name!r} failed: {type(error).__name__}: {error}"}})
        try:
            await self._websocket.send(data)
        except websockets.ConnectionClosed:
            pass


class _Connector:
    def __init__(self, url: str, open_timeout: float, ssl: "ssl_module.SSLContext | None", token: str | None) -> None:
        self._url = url
        self._open_timeout = open_timeout
        self._ssl = ssl
        self._headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        self._session: NanoverSession | None = None

    async def __aenter__(self) -> NanoverSession:
        options: dict[str, Any] = {} if self._ssl is None else {"ssl": self._ssl}
        with connecting(self._url):
            websocket = await websockets.connect(
                server_url(self._url), open_timeout=self._open_timeout, max_size=None,
                additional_headers=self._headers, **options,
            )
        self._session = NanoverSession(websocket)
        return self._session

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()

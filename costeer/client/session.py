"""A NanoVer WebSocket client session: merged frames and state in, state and commands out.

Speaks the same protocol as a VR headset (msgpack maps with ``frame``, ``state`` and
``command``), so scripted users, the demo and tests drive any NanoVer server through it::

    async with NanoverSession.connect("ws://127.0.0.1:38801") as session:
        frame = await session.wait_for_frame()
        await session.update_state({"interaction.demo": {...}})
        names = await session.run_command("playback/list")
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any, Callable, Iterable, Mapping

import msgpack
import websockets

from ..core import keys
from ..core.frame import FrameDict, merge_frames, unpack_frame

__all__ = ["NanoverSession", "CommandError"]

_log = logging.getLogger(__name__)


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
        self.first_frame_time: float | None = None
        self.last_frame_time: float | None = None
        self._frame_listeners: list[Callable[[FrameDict, FrameDict], None]] = []
        self._changed = asyncio.Condition()
        self._pending: dict[int, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._receiver = asyncio.create_task(self._receive())

    @classmethod
    def connect(cls, url: str, *, open_timeout: float = 10.0) -> "_Connector":
        """Open a session to ``url`` (``ws://host:port``); use with ``async with``."""
        return _Connector(url, open_timeout)

    def add_frame_listener(self, listener: Callable[[FrameDict, FrameDict], None]) -> None:
        """Call ``listener(delta, merged)`` for every frame received."""
        self._frame_listeners.append(listener)

    def remove_frame_listener(self, listener: Callable[[FrameDict, FrameDict], None]) -> None:
        """Stop calling ``listener``."""
        self._frame_listeners.remove(listener)

    async def update_state(
        self, updates: Mapping[str, Any] | None = None, removals: Iterable[str] = ()
    ) -> None:
        """Send a state change (keys set and keys removed) to the server."""
        change = {"updates": dict(updates or {}), "removals": list(removals)}
        await self._websocket.send(msgpack.packb({"state": change}))

    async def run_command(self, name: str, *, timeout: float = 10.0, **arguments: Any) -> Any:
        """Run a server command and return its response; raises ``CommandError`` on failure."""
        request_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        request = {"name": name, "arguments": arguments, "id": request_id}
        await self._websocket.send(msgpack.packb({"command": {"request": request}}))
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(request_id, None)

    async def wait_for_frame(
        self,
        predicate: Callable[[FrameDict], bool] = lambda frame: keys.PARTICLE_POSITIONS in frame,
        *,
        timeout: float = 10.0,
    ) -> FrameDict:
        """Wait until the merged frame satisfies ``predicate``; return it."""
        return await self._wait(lambda: self.frame if predicate(self.frame) else None, timeout)

    async def wait_for_state(
        self, predicate: Callable[[dict[str, Any]], bool], *, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Wait until the shared state satisfies ``predicate``; return it."""
        return await self._wait(lambda: self.state if predicate(self.state) else None, timeout)

    async def close(self) -> None:
        """Close the connection and stop receiving."""
        self._receiver.cancel()
        await self._websocket.close()

    async def _wait(self, probe: Callable[[], Any], timeout: float) -> Any:
        async with self._changed:
            result = await asyncio.wait_for(
                self._changed.wait_for(probe), timeout
            )
        return result

    async def _receive(self) -> None:
        try:
            async for data in self._websocket:
                try:
                    self._on_message(msgpack.unpackb(data, raw=False))
                except (ValueError, TypeError, AttributeError, msgpack.UnpackException) as error:
                    _log.warning("ignored a message from the server that is not NanoVer's: %s", error)
                    continue
                async with self._changed:
                    self._changed.notify_all()
        except websockets.ConnectionClosed:
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("the server closed the connection"))

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
        now = time.monotonic()
        self.last_frame_time = now
        if self.first_frame_time is None:
            self.first_frame_time = now
        for listener in self._frame_listeners:
            listener(delta, self.frame)

    def _on_state(self, change: Mapping[str, Any]) -> None:
        self.state.update(change.get("updates") or {})
        for key in change.get("removals") or ():
            self.state.pop(key, None)

    def _on_command(self, message: Mapping[str, Any]) -> None:
        request = message.get("request") or {}
        future = self._pending.get(request.get("id"))
        if future is None or future.done():
            return
        if "exception" in message:
            future.set_exception(CommandError(str(message["exception"])))
        else:
            future.set_result(message.get("response"))


class _Connector:
    def __init__(self, url: str, open_timeout: float) -> None:
        self._url = url
        self._open_timeout = open_timeout
        self._session: NanoverSession | None = None

    async def __aenter__(self) -> NanoverSession:
        websocket = await websockets.connect(
            self._url, open_timeout=self._open_timeout, max_size=None
        )
        self._session = NanoverSession(websocket)
        return self._session

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()

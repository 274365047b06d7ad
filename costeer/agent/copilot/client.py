"""The co-pilot as a NanoVer client: joins any NanoVer-protocol server (costeer's or NanoVer's own) like a headset.

    runner = load_policy("nanotube.pt")
    asyncio.run(run_client_copilot("ws://127.0.0.1:38801", runner, settings=CopilotSettings(mode="assist")))

Frames arrive on the session's event loop; the policy runs in the co-pilot's own worker
thread (:class:`LiveCopilot`) on the newest frame only, so inference never holds up the
loop. Its changes go back through one sender task, in order. It registers ``copilot/mode``
and ``copilot/stop`` with the server (their handlers run off the loop), lets go when frames
stop, and on ``stop`` (Ctrl-C in ``costeer copilot``) removes its keys before it leaves.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from costeer.client.session import NanoverSession
from costeer.core import keys
from costeer.core.address import shown
from costeer.core.frame import FrameDict
from costeer.core.interaction import Interaction, InvalidInteractionError

from .commands import copilot_commands
from .copilot import Copilot
from .settings import CopilotChange, CopilotSettings
from .live import LiveCopilot, initial_status

__all__ = ["run_client_copilot"]

DEFAULT_FRAME_INTERVAL_S = 1 / 30
_log = logging.getLogger(__name__)


class _NewestFrame:
    """The newest merged frame from the session's frame listener (a ``FrameSource``), and the frame interval."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._frame: FrameDict | None = None
        self._arrivals: deque[float] = deque(maxlen=17)

    def __call__(self, delta: FrameDict, merged: FrameDict) -> None:
        """The session's frame listener (event loop): keep the newest, wake the worker.

        ``merged`` keeps ``frame.index`` 0 once a reset came (NanoVer's merge rule); the frame
        handed on has the newest frame's index, or 0 when a reset came since the last take.
        """
        with self._condition:
            if keys.PARTICLE_POSITIONS in delta:
                self._arrivals.append(time.monotonic())
            reset = delta.get(keys.FRAME_INDEX) == 0 or (self._frame is not None and self._frame.get(keys.FRAME_INDEX) == 0)
            self._frame = {**merged, keys.FRAME_INDEX: 0 if reset else delta.get(keys.FRAME_INDEX)}
            self._condition.notify()

    def wait(self, timeout: float) -> FrameDict | None:
        with self._condition:
            if self._frame is None:
                self._condition.wait(timeout)
            frame, self._frame = self._frame, None
        return frame

    def interval(self) -> float:
        """Median seconds between the last frames with positions (1/30 until two arrived)."""
        arrivals = list(self._arrivals)
        if len(arrivals) < 3:
            return DEFAULT_FRAME_INTERVAL_S
        return statistics.median(b - a for a, b in zip(arrivals, arrivals[1:]))


class _LiveInteractions:
    """Every valid ``interaction.*`` in the shared state as the session hears it (a state listener)."""

    def __init__(self) -> None:
        self._entries: dict[str, Interaction] = {}
        self.current: Mapping[str, Interaction] = {}
        """Replaced (never changed) on each change, so the worker reads it without a lock."""

    def __call__(self, updates: Mapping[str, Any], removals: Any) -> None:
        touched = False
        for key in removals:
            touched |= self._entries.pop(key, None) is not None
        for key, value in updates.items():
            if not key.startswith(keys.INTERACTION_PREFIX):
                continue
            touched = True
            try:
                self._entries[key] = Interaction.from_state(value)
            except InvalidInteractionError:
                self._entries.pop(key, None)
        if touched:
            self.current = dict(self._entries)


async def run_client_copilot(
    url: str,
    runner: Any,
    *,
    settings: CopilotSettings = CopilotSettings(),
    policy_name: str = "",
    stop: asyncio.Event | None = None,
    on_ready: Callable[[], None] | None = None,
    ssl: Any = None,
    token: str | None = None,
) -> None:
    """Co-pilot the session at ``url`` until ``stop`` is set; leaves its keys removed.

    ``ssl`` and ``token``: as ``NanoverSession.connect`` takes them (wss trust, the server's token).

    Raises ``ConnectionError`` when the server goes away first.
    """
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    async with NanoverSession.connect(url, ssl=ssl, token=token) as session:
        frames, interactions = _NewestFrame(), _LiveInteractions()
        session.add_state_listener(interactions)
        interactions(dict(session.state), ())
        session.add_frame_listener(frames)
        outbox: asyncio.Queue[CopilotChange | None] = asyncio.Queue()

        def write(change: CopilotChange) -> None:  # from the worker thread
            loop.call_soon_threadsafe(outbox.put_nowait, change)

        def make(frame: FrameDict) -> Copilot:
            return Copilot.from_frame(runner, frame, settings=settings, policy_name=policy_name)

        live = LiveCopilot(
            make, next_frame=frames.wait, live_interactions=lambda: interactions.current, write=write,
            frame_interval=frames.interval, settings=settings,
            status=initial_status(settings, policy_name=policy_name, task=getattr(runner, "task_name", "")),
        )
        sender = asyncio.create_task(_send(session, outbox))
        for command in copilot_commands(live):
            await session.register_command(command.name, _off_loop(command.handler), arguments=command.arguments,
                                           label=command.label)
        live.start()
        if on_ready is not None:
            on_ready()
        stopped, closed = asyncio.create_task(stop.wait()), asyncio.create_task(session.wait_closed())
        try:
            await asyncio.wait({stopped, closed, sender}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            closed.cancel()
            await loop.run_in_executor(None, live.close)  # its last change removes its keys
            outbox.put_nowait(None)
            if not sender.done():
                try:
                    await asyncio.wait_for(sender, 5.0)
                except Exception:  # the server may be gone already
                    _log.warning("could not tell the server that the co-pilot left")
        if not stop.is_set():
            failed = sender.exception() if sender.done() and not sender.cancelled() else None
            reason = f" ({failed})" if failed is not None else ""
            raise ConnectionError(f"the server at {shown(url)} closed the connection{reason}; the co-pilot stopped")


async def _send(session: NanoverSession, outbox: "asyncio.Queue[CopilotChange | None]") -> None:
    """Send the co-pilot's changes in order until ``None``."""
    while (change := await outbox.get()) is not None:
        await session.update_state(change.updates, change.removals)


def _off_loop(handler: Callable[..., Any]) -> Callable[..., Any]:
    """A coroutine handler that runs ``handler`` in a worker thread (a command may wait on a busy policy)."""

    async def run(**arguments: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, functools.partial(handler, **arguments))

    return run

"""The soak's well-behaved side: the watchers, the late joiners, and the recording's check.

Used by ``bench/soak.py``: ``watch`` stays connected and checks every frame into a ``Watch``;
``late_joiner`` checks that a newcomer with websockets' default 1 MiB limit is served;
``check_recording`` reads the recording back with costeer's reader.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import websockets
from websockets.exceptions import ConnectionClosed

from costeer.core import keys
from costeer.core.frame import unpack_frame
from costeer.recording.reader import RecordingReader
from costeer.server.state_values import encoded_size

__all__ = ["Watch", "watch", "late_joiner", "check_recording", "ABSURD_NM", "DEFAULT_MAX_SIZE", "RECOVERY_KEY"]

RECOVERY_KEY = "costeer.recovery"
"""State key the server writes when it rolls back from a blow-up (counted when present)."""
ABSURD_NM = 1e4
"""A coordinate further than this from the origin (10 µm) is physically absurd."""
DEFAULT_MAX_SIZE = 2**20
"""websockets' default message limit: what most clients (NanoVer's too) accept."""


@dataclass
class Watch:
    """What the well-behaved watcher saw."""

    frame_times: list[float] = field(default_factory=list)
    exception_frames: int = 0
    non_finite_frames: int = 0
    absurd_frames: int = 0
    recoveries: int = 0
    recovery_values: list[Any] = field(default_factory=list)
    drops: list[str] = field(default_factory=list)
    particle_count: int | None = None
    state: dict[str, Any] = field(default_factory=dict)
    """The shared state as this watcher's updates built it (started afresh at each reconnection)."""

    def state_size(self) -> tuple[int, int, int]:
        """Keys in the shared state; their bytes, each ``{key: value}`` msgpack-encoded (the server's
        measure); and the bytes their decoded Python objects take (as the server holds them)."""
        return (len(self.state), sum(encoded_size(key, value) or 0 for key, value in self.state.items()),
                _python_bytes(self.state))


def _python_bytes(value: Any) -> int:
    """``sys.getsizeof`` of ``value`` and of everything in it (maps, lists and their items)."""
    size = sys.getsizeof(value)
    if isinstance(value, dict):
        size += sum(_python_bytes(key) + _python_bytes(item) for key, item in value.items())
    elif isinstance(value, (list, tuple)):
        size += sum(_python_bytes(item) for item in value)
    return size



async def watch(url: str, seen: Watch, *, max_size: int | None) -> None:
    """Stay connected (reconnecting when dropped), checking every frame; ``max_size`` as websockets'."""
    while True:
        try:
            async with websockets.connect(url, max_size=max_size, open_timeout=10, close_timeout=2) as connection:
                seen.state.clear()  # the first state message after joining carries all of it
                async for data in connection:
                    _watch_message(msgpack.unpackb(data, raw=False, strict_map_key=False), seen)
                seen.drops.append(f"{time.strftime('%H:%M:%S')} closed by the server")
        except ConnectionClosed as error:
            seen.drops.append(f"{time.strftime('%H:%M:%S')} {error}")
        except (OSError, TimeoutError) as error:
            seen.drops.append(f"{time.strftime('%H:%M:%S')} could not connect: {error}")
        await asyncio.sleep(0.5)


def _watch_message(message: dict[str, Any], seen: Watch) -> None:
    frame = message.get("frame")
    if frame is not None:
        seen.frame_times.append(time.monotonic())
        if keys.SIMULATION_EXCEPTION in frame:
            seen.exception_frames += 1
        if keys.PARTICLE_COUNT in frame:
            seen.particle_count = int(frame[keys.PARTICLE_COUNT])
        if keys.PARTICLE_POSITIONS in frame:
            positions = unpack_frame({keys.PARTICLE_POSITIONS: frame[keys.PARTICLE_POSITIONS]})[keys.PARTICLE_POSITIONS]
            if not np.all(np.isfinite(positions)):
                seen.non_finite_frames += 1
            elif positions.size and np.max(np.abs(positions)) > ABSURD_NM:
                seen.absurd_frames += 1
    state = message.get("state")
    if isinstance(state, dict):
        seen.state.update(state.get("updates") or {})
        for key in state.get("removals") or ():
            seen.state.pop(key, None)
    if isinstance(state, dict) and RECOVERY_KEY in (state.get("updates") or {}):
        seen.recoveries += 1
        seen.recovery_values = [*seen.recovery_values[-4:], state["updates"][RECOVERY_KEY]]


async def late_joiner(url: str) -> str:
    """Join as a newcomer with the default 1 MiB limit: ``"ok"`` once a frame and the state came."""
    got_frame = got_state = False
    try:
        async with asyncio.timeout(15):
            async with websockets.connect(url, open_timeout=10, close_timeout=2) as connection:
                async for data in connection:
                    message = msgpack.unpackb(data, raw=False, strict_map_key=False)
                    got_frame |= "frame" in message
                    got_state |= "state" in message
                    if got_frame and got_state:
                        return "ok"
        return "closed before a frame and the state came"
    except ConnectionClosed as error:
        return f"dropped: {error}"
    except TimeoutError:
        return f"no {'frame' if not got_frame else 'state'} within 15 s"
    except OSError as error:
        return f"could not connect: {error}"



def check_recording(path: Path) -> dict[str, Any]:
    """Read the recording with costeer's reader: frames, states, non-finite or absurd coordinates."""
    result: dict[str, Any] = {"bytes": path.stat().st_size if path.exists() else 0}
    frames = non_finite = absurd = exceptions = 0
    try:
        with RecordingReader(path) as reader:
            for _, frame in reader.frame_updates():
                frames += 1
                exceptions += keys.SIMULATION_EXCEPTION in frame
                positions = frame.get(keys.PARTICLE_POSITIONS)
                if positions is None or not positions.size:
                    continue
                if not np.all(np.isfinite(positions)):
                    non_finite += 1
                elif np.max(np.abs(positions)) > ABSURD_NM:
                    absurd += 1
            result["states"] = sum(1 for _ in reader.state_updates())
    except Exception as error:  # the figure to report is that it does not read
        result["error"] = f"{type(error).__name__}: {error}"
    result.update(reads="error" not in result, frames=frames, non_finite_frames=non_finite,
                  absurd_frames=absurd, exception_frames=exceptions)
    return result

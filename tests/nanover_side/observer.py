"""A NanoVer client that keeps every raw message it receives, for compatibility checks.

Runs inside NanoVer's side venv. ``ObservingClient`` is NanoVer's own
``NanoverImdClient`` (so commands, interactions and state go through the official code),
plus a log of ``(receipt time, raw msgpack map)`` so tests can see exactly what the server
sent: wire types, deltas, frame indices, state updates.

    with ObservingClient.connect("ws://127.0.0.1:38801") as client:
        first = client.wait_frame(lambda frame: "particle.positions" in frame)
        print(describe_frame(first.raw))
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from nanover.trajectory import FrameData
from nanover.trajectory.frame_dict import merge_frame_dicts
from nanover.websocket import NanoverImdClient
from nanover.websocket.server import MAX_MESSAGE_SIZE
from websockets.sync.client import connect

__all__ = ["ObservedFrame", "ObservingClient", "describe_frame", "describe_state", "wire_type"]


@dataclass(frozen=True)
class ObservedFrame:
    """One frame message: when it arrived, its raw packed map and NanoVer's unpacked view."""

    received: float
    raw: dict[str, Any]
    data: dict[str, Any]
    merged: dict[str, Any]
    """Everything known after this message (NanoVer's merge rule)."""


class ObservingClient(NanoverImdClient):
    """NanoVer's official client that also logs raw frames and state changes with arrival times.

    client = ObservingClient.connect(url); client.wait_frame(...); client.close()
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # the listening thread starts inside super().__init__: set up the log first
        self._log_lock = threading.Condition()
        self.observed_frames: list[ObservedFrame] = []
        self.observed_states: list[tuple[float, dict[str, Any]]] = []
        self._merged: dict[str, Any] = {}
        super().__init__(*args, **kwargs)

    @classmethod
    def connect(cls, url: str, *, timeout: float = 10.0) -> "ObservingClient":
        deadline = time.monotonic() + timeout
        while True:
            try:
                return cls(connect(url, max_size=MAX_MESSAGE_SIZE, open_timeout=timeout))
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def recv_message(self, message: dict) -> None:
        now = time.monotonic()
        with self._log_lock:
            if "frame" in message:
                data = FrameData.unpack_from_dict(message["frame"]).frame_dict
                self._merged = merge_frame_dicts(self._merged, data)
                self.observed_frames.append(
                    ObservedFrame(now, message["frame"], data, dict(self._merged))
                )
            if "state" in message:
                self.observed_states.append((now, message["state"]))
            self._log_lock.notify_all()
        super().recv_message(message)

    def frame_count(self) -> int:
        with self._log_lock:
            return len(self.observed_frames)

    def frames_since(self, start: int) -> list[ObservedFrame]:
        with self._log_lock:
            return list(self.observed_frames[start:])

    def frames_during(self, seconds: float) -> list[ObservedFrame]:
        """The frames that arrive in the next ``seconds``."""
        start = self.frame_count()
        time.sleep(seconds)
        return self.frames_since(start)

    def wait_for_frames(self, start: int, count: int, *, key: str, timeout: float) -> None:
        """Wait until ``count`` frames holding ``key`` arrived since log position ``start``, or ``timeout`` s passed."""
        with self._log_lock:
            self._log_lock.wait_for(lambda: sum(key in f.data for f in self.observed_frames[start:]) >= count, timeout)

    def wait_frame(
        self,
        predicate: Callable[[dict[str, Any]], bool] = lambda frame: True,
        *,
        start: int = 0,
        timeout: float = 10.0,
        merged: bool = False,
    ) -> ObservedFrame:
        """First frame at or after log position ``start`` whose (merged) data matches."""
        return self.find_frame(predicate, start=start, timeout=timeout, merged=merged)[1]

    def find_frame(
        self,
        predicate: Callable[[dict[str, Any]], bool] = lambda frame: True,
        *,
        start: int = 0,
        timeout: float = 10.0,
        merged: bool = False,
    ) -> tuple[int, ObservedFrame]:
        """Like ``wait_frame``, also giving the frame's position in the log."""
        deadline = time.monotonic() + timeout
        with self._log_lock:
            position = start
            while True:
                for offset, frame in enumerate(self.observed_frames[position:]):
                    if predicate(frame.merged if merged else frame.data):
                        return position + offset, frame
                position = max(position, len(self.observed_frames))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no matching frame within {timeout} s")
                self._log_lock.wait(left)

    def state_view(self) -> dict[str, Any]:
        """The shared state as the server has told this client (raw updates/removals replayed)."""
        state: dict[str, Any] = {}
        with self._log_lock:
            for _, change in self.observed_states:
                state.update(change.get("updates", {}))
                for key in change.get("removals", []):
                    state.pop(key, None)
        return state

    def wait_state(
        self, predicate: Callable[[dict[str, Any]], bool], *, timeout: float = 10.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            state = self.state_view()
            if predicate(state):
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"state never matched within {timeout} s: {sorted(state)}")
            time.sleep(0.02)


def wire_type(value: Any) -> str:
    """The msgpack-level type of a value: bytes, int, float, str, bool, nil, list[...], map."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (bytes, bytearray)):
        return "bytes"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (list, tuple)):
        inner = sorted({wire_type(item) for item in value})
        return f"list[{'|'.join(inner)}]"
    if isinstance(value, dict):
        return "map"
    return type(value).__name__


def describe_frame(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per key: wire type, and for arrays NanoVer's unpacked dtype and trailing shape."""
    unpacked = FrameData.unpack_from_dict(raw).frame_dict
    description: dict[str, dict[str, Any]] = {}
    for key, value in raw.items():
        entry: dict[str, Any] = {"wire": wire_type(value)}
        array = unpacked[key]
        if isinstance(array, np.ndarray):
            entry["dtype"] = array.dtype.str
            entry["shape"] = list(array.shape[1:])
        description[key] = entry
    return description


def describe_state(updates: dict[str, Any]) -> dict[str, str]:
    return {key: wire_type(value) for key, value in updates.items()}

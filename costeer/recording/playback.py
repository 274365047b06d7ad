"""Replay a recording as a simulation: frames in real time, state changes through a sink.

Behaves like NanoVer's ``PlaybackSimulation``: reset puts the scene box back to identity,
removes every state key the recording sets (except ``scene``) and starts from the first
frame; the keys the live server sets itself (``SERVER_OWNED_KEYS``) are never replayed nor
removed, so the recorded server's name and session never overwrite the live one's; advancing by ``seconds`` replays every message recorded up to the new playback time;
at the end the playback starts again from the beginning (or stops, with ``loop=False``).
costeer adds ``playback/seek`` (``SEEK_COMMAND``, registered by ``costeer serve --playback``):
``seek(time)`` jumps there at the next frame played.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any, Callable, Mapping

from costeer.core import keys
from costeer.core.frame import FrameDict, merge_frames
from costeer.core.interaction import Interaction
from costeer.server.commands import CommandError

from .format import RecordingError
from .reader import RecordingReader

__all__ = ["RecordingPlayback", "SCENE_IDENTITY", "SERVER_OWNED_KEYS", "SEEK_COMMAND"]

SEEK_COMMAND = "playback/seek"
"""costeer's command: ``{"time": seconds}`` seeks the recording played back; without it, only
tells. Answers ``{"time", "duration"}`` in seconds from the recording's first message."""

SCENE_IDENTITY = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]
"""The ``scene`` pose (position, rotation quaternion, scale) a reset restores."""

SERVER_OWNED_KEYS = keys.SERVER_STATE_KEYS
"""State keys the live server sets itself (the server's ownership refuses them to clients too):
left out of replayed changes. A recorded ``costeer.recovery`` is not replayed: it would tell
clients the live server recovered."""

StateSink = Callable[[dict[str, Any], list[str]], None]

_NOTHING_TO_PLAY = "{path} holds no frame with particle positions: nothing to play (give a recording of a session)"
_STAMPED_BY_PUBLISHER = (keys.SERVER_TIMESTAMP, keys.SIMULATION_COUNTER, keys.RESET_COUNTER)


class RecordingPlayback:
    """A recorded session replayed in real time (implements ``Simulation``).

        playback = RecordingPlayback("session.nanover.zip", state_sink=state.apply)
        playback.load()
        first = playback.reset()              # full first frame
        delta = playback.advance(1 / 30)      # everything recorded in the next 1/30 s

    ``advance`` returns the merge of the frames recorded up to the new playback time, or
    ``None`` when there were none. When the recording starts a new frame sequence (or the
    playback loops back to the start), that frame carries ``frame.index`` 0: publish it
    after a clear. Interactions are ignored: a recording cannot be steered.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        state_sink: StateSink | None = None,
        loop: bool = True,
    ) -> None:
        self.path = Path(path)
        self.name = self.path.name.removesuffix(".zip").removesuffix(".nanover")
        """Simulation name: the file name without ``.nanover.zip``."""
        self.loop = loop
        """Start again at the end (NanoVer's behaviour) rather than stop."""
        self.state_sink = state_sink
        """Receives ``(updates, removals)`` for every recorded state change (settable later)."""
        self._reader: RecordingReader | None = None
        self._changed_keys: list[str] = []
        self._next = 0
        self._time_us = 0.0
        self._seek_lock = threading.Lock()
        self._seek_to: float | None = None
        """Where ``seek`` asked to go (s), until the next ``advance`` has gone there."""

    def load(self) -> None:
        """Open the recording and find the state keys it sets; idempotent."""
        if self._reader is not None:
            return
        reader = RecordingReader(self.path)
        changed: set[str] = set()
        for _, updates, removals in reader.state_updates():
            changed.update(updates)
        changed.discard("scene")
        changed -= SERVER_OWNED_KEYS
        self._changed_keys = sorted(changed)
        self._reader = reader

    def check(self) -> None:
        """Open the recording and find a frame to play, before anyone is served.

        Raises :class:`RecordingError` saying what to do: a file that is not a recording, one
        cut short (run ``costeer recording repair``), one without a frame with positions.
        """
        self.load()
        assert self._reader is not None
        if not any(keys.PARTICLE_POSITIONS in frame for _, frame in self._reader.frames()):
            raise RecordingError(_NOTHING_TO_PLAY.format(path=self.path))

    def reset(self) -> FrameDict:
        """Go back to the start: clean the state, return the first full frame."""
        self.load()
        self._next = 0
        self._emit_state({"scene": list(SCENE_IDENTITY)}, self._changed_keys)
        frame: FrameDict = {}
        while keys.PARTICLE_POSITIONS not in frame:
            if self._next >= len(self._entries):
                raise RecordingError(_NOTHING_TO_PLAY.format(path=self.path))
            frame = self._replay_next(frame)
            self._time_us = self._entries[self._next - 1].timestamp_us
        frame = _strip(frame)
        frame.pop(keys.FRAME_INDEX, None)
        frame[keys.SIMULATION_NAME] = self.name
        return frame

    def seek(self, time: float | None = None) -> dict[str, float]:
        """``playback/seek``: go to ``time`` s after the recording's start at the next frame played
        (clamped to the recording); returns ``{"time", "duration"}`` (where it is, or will be)."""
        reader = self._reader  # loaded and closed by the simulation thread; this runs on a command thread
        if reader is None:
            raise CommandError("the recording is not open (not loaded yet, or closed): try again once it plays")
        duration = reader.duration_s
        if time is None:
            with self._seek_lock:
                pending = self._seek_to
            now = (self._time_us - reader.entries[0].timestamp_us) / 1e6 if reader.entries else 0.0
            return {"time": pending if pending is not None else min(max(now, 0.0), duration), "duration": duration}
        if isinstance(time, bool) or not isinstance(time, (int, float)) or not math.isfinite(time):
            raise CommandError(f"time must be a number of seconds from the recording's start, got {time!r}")
        target = min(max(float(time), 0.0), duration)
        with self._seek_lock:
            self._seek_to = target
        return {"time": target, "duration": duration}

    def advance(self, seconds: float) -> FrameDict | None:
        """Replay everything recorded in the next ``seconds`` of playback time (or go where
        ``seek`` asked: a full frame with ``frame.index`` 0)."""
        with self._seek_lock:
            target = self._seek_to  # kept while jumping, so that seek() tells where it is going
        if target is not None:
            frame = self._jump(target)
            with self._seek_lock:
                if self._seek_to == target:  # a newer seek goes on at the next frame
                    self._seek_to = None
            return {**frame, keys.FRAME_INDEX: 0}
        entries = self._entries
        if self._next >= len(entries):
            if not self.loop:
                return None
            return {**self.reset(), keys.FRAME_INDEX: 0}
        self._time_us += seconds * 1e6
        merged: FrameDict | None = None
        while self._next < len(entries) and entries[self._next].timestamp_us <= self._time_us:
            merged = self._replay_next(merged)
        return None if merged is None else _strip(merged)

    def _jump(self, seconds: float) -> FrameDict:
        """The full frame ``seconds`` after the recording's start, the state replayed up to there."""
        frame = self.reset()
        entries = self._entries
        target_us = entries[0].timestamp_us + seconds * 1e6
        while self._next < len(entries) and entries[self._next].timestamp_us <= target_us:
            frame = self._replay_next(frame)
        self._time_us = max(self._time_us, target_us)
        return _strip(frame)

    def set_interactions(self, interactions: Mapping[str, Interaction]) -> None:
        """Ignored: a recording plays as it was recorded."""

    def close(self) -> None:
        """Close the recording file."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    @property
    def _entries(self) -> list:
        if self._reader is None:
            raise RuntimeError("call load() before playing a recording")
        return self._reader.entries

    def _replay_next(self, frame: FrameDict | None) -> FrameDict | None:
        """Replay the next message: state to the sink, frame merged into ``frame``."""
        assert self._reader is not None
        entry = self._reader.entries[self._next]
        self._next += 1
        update = self._reader.update(entry)  # a malformed message raises RecordingError naming it
        if update.change is not None:
            self._emit_state(*update.change)
        if update.frame is not None:
            frame = merge_frames(frame or {}, update.frame)
        return frame

    def _emit_state(self, updates: dict[str, Any], removals: list[str]) -> None:
        updates = {key: value for key, value in updates.items() if key not in SERVER_OWNED_KEYS}
        removals = [key for key in removals if key not in SERVER_OWNED_KEYS]
        if self.state_sink is not None and (updates or removals):
            self.state_sink(updates, removals)


def _strip(frame: FrameDict) -> FrameDict:
    """Drop what the publisher stamps itself; keep ``frame.index`` only as a reset marker."""
    stripped = {key: value for key, value in frame.items() if key not in _STAMPED_BY_PUBLISHER}
    if stripped.get(keys.FRAME_INDEX) != 0:
        stripped.pop(keys.FRAME_INDEX, None)
    return stripped

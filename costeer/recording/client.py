"""Record any NanoVer WebSocket server (NanoVer's or costeer's) from the outside.

A NanoVer server pushes frames and shared-state changes to every client as soon as it
connects; the recorder only listens and writes each message as it arrives, timestamped in
microseconds since the connection opened.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import msgpack
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from ..core.address import connecting, server_url
from .format import RECORDED_TYPES, message_metadata
from .writer import RecordingWriter

__all__ = ["record_server", "RecordResult", "MAX_MESSAGE_SIZE"]

MAX_MESSAGE_SIZE = 128 * 1024 * 1024
"""Largest WebSocket message accepted (NanoVer's server limit)."""


@dataclass(frozen=True)
class RecordResult:
    """What :func:`record_server` wrote.

        result = record_server("ws://127.0.0.1:38801", "session.nanover.zip", duration=10)
    """

    path: Path
    frames: int
    states: int
    seconds: float


def record_server(url: str, path: str | Path, *, duration: float | None = None) -> RecordResult:
    """Record ``url`` into ``path`` until the server closes, ``duration`` s pass, or Ctrl-C.

    The file is complete (index written) however the recording ends, Ctrl-C included.
    """
    if duration is not None and duration < 0:
        raise ValueError(f"duration must be positive, got {duration}")
    with connecting(url):
        connection = connect(server_url(url), max_size=MAX_MESSAGE_SIZE, open_timeout=10)
    started = time.monotonic()
    deadline = None if duration is None else started + duration
    with connection, RecordingWriter(path) as writer:
        while deadline is None or time.monotonic() < deadline:
            wait = writer.flush_interval
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            try:
                data = connection.recv(timeout=wait)
            except TimeoutError:
                writer.flush_if_due()
                continue
            except ConnectionClosed:
                break
            if not isinstance(data, bytes):
                continue
            try:
                message = msgpack.unpackb(data)
            except (ValueError, TypeError, msgpack.UnpackException):
                continue  # not a NanoVer message: nothing to record
            if not isinstance(message, dict):
                continue
            kept = {key: message[key] for key in RECORDED_TYPES if key in message}
            if kept and len(kept) == len(message):  # nothing else in it: keep the peer's bytes as they are
                writer.write_raw(data, message_metadata(kept, writer.elapsed_us()))
            elif kept:
                writer.write(kept)
    return RecordResult(
        path=Path(path),
        frames=writer.frames_written,
        states=writer.states_written,
        seconds=time.monotonic() - started,
    )

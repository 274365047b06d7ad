"""Write ``.nanover.zip`` recordings that survive the recording process being killed.

The zip holds exactly NanoVer's layout (``messages.msgpack`` stored, then
``index.msgpack``), so NanoVer's ``NanoverRecordingReader`` opens it. A plain zip writer
only makes the file readable at close (index and central directory come last); this one
also appends every index entry to a journal beside the file and pushes messages and
journal to disk (flush + fsync) every ``flush_interval`` seconds. After SIGKILL at most the
last interval is lost and :func:`costeer.recording.repair.repair_recording` rebuilds the
rest. A clean ``close`` copies the journal into the index and removes it: the index is never
held in memory, so a writer's memory stays flat however long the session (about 80 bytes a
message otherwise: 26 MB for three hours of frames at 30/s).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping
from zipfile import ZIP_STORED, ZipFile

import msgpack

from costeer.core.message import encode_message

from .format import INDEX_NAME, MESSAGES_NAME, RECORDED_TYPES, IndexEntry, journal_path, message_metadata

__all__ = ["RecordingWriter", "DEFAULT_FLUSH_INTERVAL"]

DEFAULT_FLUSH_INTERVAL = 0.5
"""Seconds between pushes to disk: the most a killed recorder can lose."""
_COPY_BYTES = 1 << 20


class RecordingWriter:
    """Appends messages to a ``.nanover.zip`` recording, crash-safely.

        with RecordingWriter("session.nanover.zip") as writer:
            writer.write({"frame": pack_frame(frame)})
            writer.write({"state": {"updates": {...}, "removals": []}})

    Timestamps default to microseconds since the writer was created (NanoVer's convention).
    An existing file is never overwritten (``FileExistsError``).
    Not thread-safe: use it from one thread (the recorder's).
    """

    def __init__(self, path: str | Path, *, flush_interval: float = DEFAULT_FLUSH_INTERVAL) -> None:
        self.path = Path(path)
        """Where the recording goes."""
        self.flush_interval = flush_interval
        self._journal_path = journal_path(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._file = open(self.path, "x+b")
        except FileExistsError:
            raise FileExistsError(
                f"{self.path} exists already: record to a new path, or move the old recording away"
            ) from None
        self._zip = ZipFile(self._file, "w", compression=ZIP_STORED)
        self._messages = self._zip.open(MESSAGES_NAME, "w", force_zip64=True)
        self._journal = open(self._journal_path, "w+b")
        self._buffer = bytearray()
        self._journal_buffer = bytearray()
        self._offset = 0
        self._start_ns = time.monotonic_ns()
        self._last_flush = time.monotonic()
        self._closed = False
        self.messages_written = 0
        """Messages appended so far."""
        self.frames_written = 0
        """Messages holding a frame."""
        self.states_written = 0
        """Messages holding a state change."""
        self.last_timestamp_us = 0
        """Timestamp of the latest message."""
        self.flush()

    @property
    def closed(self) -> bool:
        return self._closed

    def elapsed_us(self) -> int:
        """Microseconds since the writer was created: the default timestamp."""
        return (time.monotonic_ns() - self._start_ns) // 1000

    def write(self, message: Mapping[str, Any], *, timestamp_us: int | None = None) -> None:
        """Append one message (``{"frame": packed}`` and/or ``{"state": change}``)."""
        data = encode_message(message)
        stamp = self.elapsed_us() if timestamp_us is None else int(timestamp_us)
        self.write_raw(data, message_metadata(message, stamp))

    def write_raw(self, data: bytes, metadata: Mapping[str, Any]) -> None:
        """Append an already-encoded message with its index metadata (repair, copies).

        The first message's index entry always lists both ``frame`` and ``state`` in its
        ``types``, whatever the message holds. NanoVer's reader reads every entry whose
        types include the kind it wants, and fails when its first read of
        ``messages.msgpack`` needs a forward seek (CPython's zipfile seeks ``SEEK_CUR`` from
        wherever reading the index left the shared file): so its first read must be at
        offset 0, for frames and for state alike. Readers then find no such key and skip it.
        """
        if self._closed:
            raise ValueError(f"the recording {self.path} is closed")
        types = list(metadata.get("types", ()))
        self.frames_written += "frame" in types
        self.states_written += "state" in types
        if self.messages_written == 0:
            metadata = {**metadata, "types": types + [kind for kind in RECORDED_TYPES if kind not in types]}
        entry = msgpack.packb(IndexEntry(self._offset, len(data), dict(metadata)).as_dict(), use_bin_type=True)
        self._buffer += data
        self._journal_buffer += entry
        self._offset += len(data)
        self.messages_written += 1
        self.last_timestamp_us = int(metadata.get("timestamp") or 0)
        self.flush_if_due()

    def flush_if_due(self) -> None:
        """Push to disk if ``flush_interval`` seconds passed since the last push."""
        if time.monotonic() - self._last_flush >= self.flush_interval:
            self.flush()

    def flush(self) -> None:
        """Push buffered messages, then their journal entries, to disk (fsync)."""
        if self._closed:
            return
        self._write_buffered_messages()
        self._file.flush()
        os.fsync(self._file.fileno())
        if self._journal_buffer:
            self._journal.write(self._journal_buffer)
            self._journal_buffer.clear()
        self._journal.flush()
        os.fsync(self._journal.fileno())
        self._last_flush = time.monotonic()

    def _write_buffered_messages(self) -> None:
        if self._buffer:
            self._messages.write(self._buffer)
            self._buffer.clear()

    def close(self) -> None:
        """Finish the zip (index and central directory) and remove the journal; idempotent."""
        if self._closed:
            return
        self.flush()
        self._messages.close()
        with self._zip.open(INDEX_NAME, "w", force_zip64=True) as index:
            index.write(msgpack.Packer().pack_array_header(self.messages_written))
            self._journal.seek(0)
            while chunk := self._journal.read(_COPY_BYTES):  # the journal holds exactly the index's entries
                index.write(chunk)
        self._zip.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._journal.close()
        self._journal_path.unlink(missing_ok=True)
        self._closed = True

    def abandon(self) -> None:
        """Stop writing without finishing the file (the disk is full, say): close every handle and
        keep the journal, so ``costeer recording repair`` recovers what reached the disk; idempotent."""
        if self._closed:
            return
        self._closed = True
        for handle in (self._messages, self._zip, self._file, self._journal):
            try:
                handle.close()
            except (OSError, ValueError):  # what could not be flushed is lost; repair keeps the rest
                pass

    def __enter__(self) -> "RecordingWriter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

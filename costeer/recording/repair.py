"""Recover a recording whose writer was killed: rebuild its index and zip directory.

A killed writer leaves the zip's first local header and the messages written so far, but
no ``index.msgpack`` and no central directory. costeer's writer also leaves its index
journal (``FILE.journal``): every journaled message whose bytes reached the disk is kept,
with its timestamp. Without a journal (NanoVer's own writer, or the journal lost) the
messages are read back to back and timed by the frames' ``server.timestamp``.

    report = repair_recording("session.nanover.zip")
    print(report)   # repaired session.nanover.zip: 912 frames, 301 states, 30.4 s; 2,114 bytes lost
"""

from __future__ import annotations

import mmap
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from zipfile import ZIP_STORED, BadZipFile, ZipFile

import msgpack

from costeer.core import keys

from .format import (
    MESSAGES_NAME,
    IndexEntry,
    NotARecordingError,
    RecordingError,
    journal_path,
    message_metadata,
    read_local_header,
)
from .reader import RecordingReader
from .writer import RecordingWriter

__all__ = ["repair_recording", "RepairReport"]


@dataclass(frozen=True)
class RepairReport:
    """What :func:`repair_recording` kept and lost.

        report = repair_recording(path); assert report.bytes_lost < 10_000
    """

    output: Path
    """The repaired recording."""
    frames: int
    """Messages with a frame kept."""
    states: int
    """Messages with a state change kept."""
    bytes_lost: int
    """Bytes of messages that could not be kept (the unflushed or half-written end)."""
    duration_s: float
    """Seconds from the first to the last message kept."""
    already_complete: bool = False
    """The file was a complete recording; nothing needed repairing."""

    def __str__(self) -> str:
        if self.already_complete:
            return (
                f"{self.output} is complete: {self.frames} frames, {self.states} states, "
                f"{self.duration_s:.1f} s; nothing to repair"
            )
        return (
            f"repaired {self.output}: {self.frames} frames, {self.states} states, "
            f"{self.duration_s:.1f} s; {self.bytes_lost:,} bytes of cut-off messages dropped"
        )


def repair_recording(path: str | Path, *, output: str | Path | None = None) -> RepairReport:
    """Rebuild a cut-short recording in place (or into ``output``) and say what was kept.

    Raises :class:`NotARecordingError` when ``path`` holds no recorded messages at all.
    """
    path = Path(path)
    target = Path(output) if output is not None else path
    complete = _complete_report(path, target)
    if complete is not None:
        return complete
    with open(path, "rb") as file:
        start, size = _messages_region(path, file)
        with _map(file) as data:
            region = memoryview(data)[start : start + size]
            journal = journal_path(path)
            found = _from_journal(region, journal) if journal.exists() else _by_scanning(region)
            temporary = target.with_name(f".{target.name}.repairing")
            kept_end = frames = states = 0
            first_us = last_us = None
            with RecordingWriter(temporary) as writer:
                for entry, message in found:
                    writer.write_raw(bytes(region[entry.offset : entry.offset + entry.length]), entry.metadata)
                    kept_end = entry.offset + entry.length
                    frames += "frame" in message
                    states += "state" in message
                    first_us = entry.timestamp_us if first_us is None else first_us
                    last_us = entry.timestamp_us
            del region
    os.replace(temporary, target)
    if target == path:
        journal_path(path).unlink(missing_ok=True)
    return RepairReport(
        output=target,
        frames=frames,
        states=states,
        bytes_lost=size - kept_end,
        duration_s=0.0 if first_us is None else (last_us - first_us) / 1e6,
    )


def _complete_report(path: Path, target: Path) -> RepairReport | None:
    """A report for a file that opens as a complete recording; ``None`` when it does not."""
    try:
        reader = RecordingReader(path)
    except RecordingError:
        return None
    with reader:
        report = RepairReport(
            output=target,
            frames=reader.frame_count,
            states=reader.state_count,
            bytes_lost=0,
            duration_s=reader.duration_s,
            already_complete=True,
        )
    if target != path:
        shutil.copyfile(path, target)
    else:
        journal_path(path).unlink(missing_ok=True)
    return report


def _messages_region(path: Path, file: Any) -> tuple[int, int]:
    """Where the messages lie in the file: ``(start, size)``."""
    try:
        with ZipFile(file) as archive:
            info = archive.getinfo(MESSAGES_NAME)
            if info.compress_type != ZIP_STORED:
                raise NotARecordingError(f"cannot repair {path}: {MESSAGES_NAME} is compressed")
            return read_local_header(file, info.header_offset)[1], info.file_size
    except (BadZipFile, KeyError, ValueError):
        pass
    try:
        name, start = read_local_header(file, 0)
    except ValueError:
        name, start = "", 0
    if name != MESSAGES_NAME:
        raise NotARecordingError(f"cannot repair {path}: it does not start with a recording's {MESSAGES_NAME}")
    file.seek(0, os.SEEK_END)
    return start, file.tell() - start


class _map:
    """A read-only memory map of a whole file (an empty bytes object for an empty file)."""

    def __init__(self, file: Any) -> None:
        size = os.fstat(file.fileno()).st_size
        self._mmap = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) if size else None

    def __enter__(self) -> Any:
        return self._mmap if self._mmap is not None else b""

    def __exit__(self, *exc_info: object) -> None:
        if self._mmap is not None:
            self._mmap.close()


def _message_at(region: memoryview, entry: IndexEntry) -> dict[str, Any] | None:
    """The message ``entry`` points at, or ``None`` when it is not complete and readable."""
    if entry.offset + entry.length > len(region):
        return None
    try:
        message = msgpack.unpackb(region[entry.offset : entry.offset + entry.length])
    except (ValueError, msgpack.UnpackException):
        return None
    return message if isinstance(message, dict) else None


def _from_journal(region: memoryview, journal: Path) -> Iterator[tuple[IndexEntry, dict[str, Any]]]:
    """Journaled entries, in order, as long as their messages are complete on disk."""
    expected = 0
    with open(journal, "rb") as file:
        for item in msgpack.Unpacker(file):
            try:
                entry = IndexEntry.from_dict(item)
            except (ValueError, AttributeError):
                return
            message = _message_at(region, entry) if entry.offset == expected else None
            if message is None:
                return
            expected = entry.offset + entry.length
            yield entry, message


def _by_scanning(region: memoryview) -> Iterator[tuple[IndexEntry, dict[str, Any]]]:
    """Messages read back to back, timed by ``server.timestamp`` (no journal to go by)."""
    unpacker = msgpack.Unpacker(max_buffer_size=max(len(region), 1))
    unpacker.feed(region)
    offset = 0
    first_server_time = None
    timestamp_us = 0
    while True:
        try:
            message = unpacker.unpack()
        except (msgpack.OutOfData, ValueError, msgpack.UnpackException):
            return
        end = unpacker.tell()
        if not isinstance(message, dict):
            return
        frame = message.get("frame")
        server_time = frame.get(keys.SERVER_TIMESTAMP) if isinstance(frame, dict) else None
        if isinstance(server_time, (int, float)):
            first_server_time = server_time if first_server_time is None else first_server_time
            timestamp_us = max(timestamp_us, int((server_time - first_server_time) * 1e6))
        yield IndexEntry(offset=offset, length=end - offset, metadata=message_metadata(message, timestamp_us)), message
        offset = end
